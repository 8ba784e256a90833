import ArgumentParser
import Foundation
import OrchestratorClient
import OrchestratorModel
import OrchestratorProtocol

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Start, follow, inspect, cancel, resume, approve and reject workflow runs.",
        subcommands: [
            RunStart.self, RunList.self, RunGet.self, RunCancel.self, RunResume.self, RunWatch.self, RunLogs.self, RunTargetCommand.self,
            RunApprove.self, RunReject.self,
        ]
    )
}

struct RunID: ParsableArguments {
    @Argument(
        help: "The run: its id (24 hex characters, as 'orchctl run list' shows), the start of it (at least 4, if no other run's id starts so), or 'last' (the newest run).",
        completion: Completions.runIds)
    var id: String

    func validate() throws {
        guard id == "last" || ((4...24).contains(id.count) && id.allSatisfy(\.isHexDigit)) else {
            throw refused("'\(id)' is not a run id: give the id (24 hex characters), its start (at least 4), or 'last'")
        }
    }

    /// The same run named by its whole id: the daemon says which run a
    /// short one or `last` (of `workflow`, if given) names.
    func resolved(_ global: GlobalOptions, workflow: String? = nil) throws -> RunID {
        var whole = self
        guard id.count != 24 || workflow != nil else {
            whole.id = id.lowercased()
            return whole
        }
        whole.id = try global.call(RPCMethods.runResolve, RunResolveParams(ref: id.lowercased(), workflow: workflow)).result.id
        return whole
    }
}

/// Follows a run until it ends and returns the final run. On a terminal it
/// redraws a compact per-step display in place; otherwise it prints one
/// plain line per event.
///
/// `known`: the run as an answer just gave it (`run.start`'s), shown until
/// the events (all of them, from the first) bring it up to date; without
/// it the run is read first.
func follow(
    _ connection: RPCConnection, runId: String, known: Run? = nil, output: OutputFormat, reconnect: @escaping () throws -> RPCConnection
) throws -> RPCReply<Run> {
    let interactive = output == .table && isatty(STDOUT_FILENO) == 1
    let initial = try known ?? GlobalOptions.call(connection, RPCMethods.runGet, RunKey(id: runId)).result
    let display: LiveDisplay
    if initial.fleet != nil {
        var reader: RPCConnection?
        display = FleetProgressDisplay(run: initial) {
            // The watch holds the first connection: the matrix is read on a second one.
            if reader == nil { reader = try? reconnect() }
            return try? reader?.reply(RPCMethods.runGet, RunKey(id: runId)).result
        }
    } else {
        display = ProgressDisplay(run: initial)
    }
    if interactive {
        connection.setIdleInterval(milliseconds: 500)
        connection.onIdle = { display.redraw() }
        display.redraw()
    }
    let final: RPCReply<Run>
    do {
        final = try connection.reply(RPCMethods.runWatch, RunWatchParams(id: runId), notifications: RPCNotifications.runEvent) { notification, json in
            display.apply(notification.event)
            if interactive {
                display.redraw()
            } else if output == .table {
                print(ProgressDisplay.line(for: notification.event))
                fflush(nil)
            } else if let item = output.streamItem(json) {
                // One JSON object per line (or a YAML document each), each event as the protocol's notification carries it, then the run: what jq reads.
                print(item, terminator: "")
                fflush(nil)
            }
        }
    } catch {
        throw Failure.from(error)
    }
    connection.onIdle = nil
    if interactive {
        display.apply(final: final.result)
        display.redraw()
    }
    if let item = output.streamItem(final.json) { print(item, terminator: "") }
    return final
}

/// Exit status of a watched run: 0 when it succeeded, 1 otherwise.
func exitForOutcome(_ run: Run) throws {
    guard run.status == .succeeded else {
        FileHandle.standardError.write(Data("orchctl: run \(run.id) \(run.status.rawValue)\n".utf8))
        throw ExitCode(1)
    }
}

