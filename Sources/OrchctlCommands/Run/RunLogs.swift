import ArgumentParser
import Foundation
import OrchestratorClient
import OrchestratorModel
import OrchestratorProtocol

struct RunLogs: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "logs",
        abstract: "Print what a run's steps wrote, or follow it as they write it.",
        discussion: """
            Without --follow: the last 64 KiB of stdout and stderr of each step's \
            latest attempt, as the run's record keeps them.

            With --follow (-f): each line as a step prints it, prefixed by the step \
            (and its attempt from the second on; in a fleet run, by the target), \
            until the run ends; the exit status is then the run's outcome (0 if it \
            succeeded). A step's stderr lines go to stderr. Lines printed before you \
            started are shown from the daemon's backlog (the last 64 KiB), and a \
            step that ran on another daemon is shown from the record when it ends.

            Every line of every attempt is in the journal:
              journalctl -u orchestratord RUN_ID=<id> [STEP=<name>] [ATTEMPT=<n>]

            Examples:
              orchctl run logs 65a1b2c3d4e5f60718293a4b
              orchctl run logs 65a1b2c3d4e5f60718293a4b verify
              orchctl run logs -f last
              orchctl run logs -f 65a1b2c3d4e5f60718293a4b push --attempt 2
              orchctl run logs 65a1b2c3d4e5f60718293a4b --target leaf01.ams
            """
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var target: RunID
    @Argument(help: "Only this step.") var step: String?
    @Option(name: .customLong("target"), help: ArgumentHelp("In a fleet run, this target's steps.", valueName: "NAME")) var fleetTarget: String?
    @Flag(name: [.customShort("f"), .customLong("follow")], help: "Print each line as it is printed, until the run ends.") var follow = false
    @Option(
        name: .customLong("attempt"), parsing: .unconditional,
        help: ArgumentHelp("Only this attempt (the record keeps the latest one; --follow shows every one).", valueName: "N"))
    var attempt: Int?

    func validate() throws {
        if let fleetTarget { try checkName(fleetTarget, what: "target name") }
        if let step { try checkName(step, what: "step name") }
    }

    func run() throws {
        try reporting {
            let target = try target.resolved(global)
            if follow { return try followLines(target) }
            if let attempt, attempt < 1 { throw Failure(message: "validation failed:\n  attempt: must be 1 or more, got \(attempt)", code: 4) }
            let run = try fleetTarget.map { try global.call(RPCMethods.runTarget, RunTargetParams(id: target.id, target: $0)).result }
                ?? global.call(RPCMethods.runGet, RunKey(id: target.id)).result
            if run.fleet != nil {
                throw Failure(
                    message: "run \(target.id) is a fleet run: its steps ran per target; give --target NAME, or follow them all with --follow (see 'orchctl run get \(target.id)')",
                    code: 64)
            }
            var steps = run.steps
            if let step {
                steps = steps.filter { $0.name == step }
                guard !steps.isEmpty else { throw Failure(message: "run \(target.id) has no step named '\(step)'", code: 3) }
            }
            if let attempt {
                let earlier = steps.filter { $0.attempts != attempt }
                if let first = earlier.first, earlier.count == steps.count {
                    throw Failure(
                        message: """
                            run \(run.id) keeps the output of the latest attempt only (\(first.name): attempt \(first.attempts)); \
                            attempt \(attempt)'s lines are in the journal: \
                            journalctl -u orchestratord RUN_ID=\(run.id)\(step.map { " STEP=\($0)" } ?? "") ATTEMPT=\(attempt)
                            """, code: 3)
                }
                steps.removeAll { $0.attempts != attempt }
            }
            // The steps as run.get sent them (RunStep.json is the daemon's own encoder).
            global.emit(json: ["steps": .array(steps.map(\.json))]) {
                var out = ""
                for s in steps {
                    out += "==> \(s.name) (\(s.status.rawValue), attempt \(s.attempts), exit \(Render.text(s.exitCode)))\n"
                    for (stream, text) in [("stdout", s.stdout), ("stderr", s.stderr)] where !text.isEmpty {
                        out += "--- \(stream)\n" + text + (text.hasSuffix("\n") ? "" : "\n")
                    }
                }
                return out
            }
        }
    }

    /// Streams the lines with `run.follow` until the run ends; exits by its outcome.
    private func followLines(_ target: RunID) throws {
        let connection = try global.connect()
        let run = try GlobalOptions.call(connection, RPCMethods.runGet, RunKey(id: target.id)).result
        let prefix = LinePrefix(run: run)
        let params = RunFollowParams(id: target.id, step: step, target: fleetTarget, attempt: attempt)
        let final: RPCReply<Run>
        do {
            final = try connection.reply(RPCMethods.runFollow, params) { (name, json) throws(ClientError) in
                if let item = global.output.streamItem(json) {
                    print(item, terminator: "")
                } else if name == RPCNotifications.runOutput.name, let notification = try? RunOutputNotification(notificationJSON: json) {
                    let line = prefix.text(for: notification.line) + notification.line.text + "\n"
                    if notification.line.stream == "stderr" {
                        fflush(nil)
                        FileHandle.standardError.write(Data(line.utf8))
                    } else {
                        print(line, terminator: "")
                    }
                } else if name == RPCNotifications.runOutputGap.name, let gap = try? RunOutputGapNotification(notificationJSON: json) {
                    fflush(nil)
                    FileHandle.standardError.write(Data("orchctl: \(gap.message)\n".utf8))
                }
                fflush(nil)
            }
        } catch {
            throw Failure.from(error)
        }
        if let item = global.output.streamItem(final.json) { print(item, terminator: "") }
        try exitForOutcome(final.result)
    }
}

/// What goes before each followed line: the step (`#N` from its second
/// attempt on) and, in a fleet run, the target, padded so lines align.
struct LinePrefix {
    private let width: Int
    private let fleet: Bool

    init(run: Run) {
        fleet = run.fleet != nil
        let steps = run.definition.map(\.name.count).max() ?? 0
        let targets = fleet ? min(run.fleet?.targets.map(\.name.count).max() ?? 0, 24) + 1 : 0
        // Room for "#2" after a step.
        width = min(steps + 2 + targets, 40)
    }

    func text(for line: OutputLine) -> String {
        var label = line.step + (line.attempt > 1 ? "#\(line.attempt)" : "")
        if fleet, let target = line.target { label = target + " " + label }
        return label.padding(toLength: max(width, label.count), withPad: " ", startingAt: 0) + " | "
    }
}
