import ArgumentParser
import OrchestratorModel
import OrchestratorProtocol

struct RunLogs: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "logs",
        abstract: "Print what a run's steps wrote (the last 64 KiB of stdout and stderr of each step's latest attempt).",
        discussion: """
            The whole output is in the journal: journalctl -u orchestratord RUN_ID=<id> [STEP=<name>]

            For a fleet run, --target names the target whose steps' output to print.

            Examples:
              orchctl run logs 65a1b2c3d4e5f60718293a4b
              orchctl run logs 65a1b2c3d4e5f60718293a4b verify
              orchctl run logs 65a1b2c3d4e5f60718293a4b --target leaf01.ams
            """
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var target: RunID
    @Argument(help: "Only this step.") var step: String?
    @Option(name: .customLong("target"), help: ArgumentHelp("In a fleet run, this target's steps.", valueName: "NAME")) var fleetTarget: String?

    func validate() throws {
        if let fleetTarget { try checkName(fleetTarget, what: "target name") }
    }

    func run() throws {
        try reporting {
            let run = try fleetTarget.map { try global.call(RPCMethods.runTarget, RunTargetParams(id: target.id, target: $0)).result }
                ?? global.call(RPCMethods.runGet, RunKey(id: target.id)).result
            if run.fleet != nil {
                throw Failure(message: "run \(target.id) is a fleet run: its steps ran per target; give --target NAME (see 'orchctl run get \(target.id)')", code: 64)
            }
            var steps = run.steps
            if let step {
                steps = steps.filter { $0.name == step }
                guard !steps.isEmpty else { throw Failure(message: "run \(target.id) has no step named '\(step)'", code: 3) }
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
}
