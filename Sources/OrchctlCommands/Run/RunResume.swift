import ArgumentParser
import OrchestratorModel
import OrchestratorProtocol

struct RunResume: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resume",
        abstract: "Continue a failed or cancelled run from its first step that did not succeed.",
        discussion: """
            The run keeps its id and its earlier attempts; steps that succeeded do not run again.

            Example:
              orchctl run resume 65a1b2c3d4e5f60718293a4b --watch
            """
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var target: RunID
    @Flag(help: "Follow the run until it ends; the exit status is the run's outcome.") var watch = false

    func run() throws {
        try reporting {
            let connection = try global.connect()
            let resumed = try GlobalOptions.call(connection, RPCMethods.runResume, RunKey(id: target.id))
            guard watch else {
                global.emit(resumed) { "run \(target.id) resumed (\($0.status.rawValue))\n" }
                return
            }
            let final = try follow(connection, runId: target.id, output: global.output, reconnect: global.connect)
            if global.output == .json { print(JSONCoding.prettyPrinted(final.json)) }
            try exitForOutcome(final.result)
        }
    }
}
