import ArgumentParser
import OrchestratorModel
import OrchestratorProtocol

struct RunWatch: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch",
        abstract: "Follow a run until it ends (exit 0 if it succeeded, 1 otherwise).",
        discussion: "Example:\n  orchctl run watch 65a1b2c3d4e5f60718293a4b"
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var target: RunID

    func run() throws {
        try reporting {
            let target = try target.resolved(global)
            let final = try follow(try global.connect(), runId: target.id, output: global.output, reconnect: global.connect)
            try exitForOutcome(final.result)
        }
    }
}
