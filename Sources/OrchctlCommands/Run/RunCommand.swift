import ArgumentParser
import Foundation
import OrchestratorClient
import OrchestratorProtocol

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Start, follow, inspect, cancel and resume workflow runs.",
        subcommands: [RunStart.self, RunList.self, RunGet.self, RunCancel.self, RunResume.self, RunWatch.self, RunLogs.self]
    )
}

struct RunID: ParsableArguments {
    @Argument(help: "The run's id (24 hex characters, as 'orchctl run list' shows).") var id: String

    func validate() throws {
        guard id.count == 24, id.allSatisfy(\.isHexDigit) else { throw ValidationError("'\(id)' is not a run id (24 hex characters)") }
    }
}

/// Follows a run until it ends and returns the final run. On a terminal it
/// redraws a compact per-step display in place; otherwise it prints one
/// plain line per event.
func follow(_ connection: RPCConnection, runId: String, output: OutputFormat) throws -> JSONValue {
    let interactive = output == .table && isatty(STDOUT_FILENO) == 1
    let initial = try GlobalOptions.call(connection, Method.runGet.rawValue, ["id": .string(runId)])
    let display = ProgressDisplay(run: initial)
    if interactive {
        connection.setIdleInterval(milliseconds: 500)
        connection.onIdle = { display.redraw() }
        display.redraw()
    }
    let final: JSONValue
    do {
        final = try connection.call(Method.runWatch.rawValue, ["id": .string(runId)]) { method, event in
            guard method == Method.runEventNotification else { return }
            display.apply(event)
            if interactive {
                display.redraw()
            } else if output == .table {
                print(ProgressDisplay.line(for: event))
                fflush(nil)
            } else {
                print(JSONCoding.serialize(RPCCodec.notification(method: method, params: event)))
                fflush(nil)
            }
        }
    } catch {
        throw Failure.from(error)
    }
    connection.onIdle = nil
    if interactive {
        display.apply(final: final)
        display.redraw()
    }
    return final
}

/// Exit status of a watched run: 0 when it succeeded, 1 otherwise.
func exitForOutcome(_ run: JSONValue) throws {
    guard run["status"] == "succeeded" else {
        FileHandle.standardError.write(Data("orchctl: run \(Render.text(run["id"])) \(Render.text(run["status"]))\n".utf8))
        throw ExitCode(1)
    }
}

