import ArgumentParser
import OrchestratorProtocol

struct RunLogs: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "logs",
        abstract: "Print what a run's steps wrote (the last 64 KiB of stdout and stderr of each step's latest attempt).",
        discussion: """
            The whole output is in the journal: journalctl -u orchestratord RUN_ID=<id> [STEP=<name>]

            Examples:
              orchctl run logs 65a1b2c3d4e5f60718293a4b
              orchctl run logs 65a1b2c3d4e5f60718293a4b verify
            """
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var target: RunID
    @Argument(help: "Only this step.") var step: String?

    func run() throws {
        try reporting {
            let result = try global.call(Method.runGet.rawValue, ["id": .string(target.id)])
            var steps = result["steps"]?.arrayValue ?? []
            if let step {
                steps = steps.filter { $0["name"]?.stringValue == step }
                guard !steps.isEmpty else { throw Failure(message: "run \(target.id) has no step named '\(step)'", code: 3) }
            }
            global.emit(.object(["steps": .array(steps)])) { _ in
                var out = ""
                for s in steps {
                    out += "==> \(Render.text(s["name"])) (\(Render.text(s["status"])), attempt \(Render.text(s["attempts"])), exit \(Render.text(s["exitCode"])))\n"
                    for stream in ["stdout", "stderr"] {
                        guard let text = s[stream]?.stringValue, !text.isEmpty else { continue }
                        out += "--- \(stream)\n" + text + (text.hasSuffix("\n") ? "" : "\n")
                    }
                }
                return out
            }
        }
    }
}
