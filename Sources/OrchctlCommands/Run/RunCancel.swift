import ArgumentParser
import OrchestratorModel
import OrchestratorProtocol

struct RunCancel: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cancel",
        abstract: "Cancel a run: running steps get SIGTERM, then SIGKILL after 5 s; the rest are cancelled.",
        discussion: "Example:\n  orchctl run cancel 65a1b2c3d4e5f60718293a4b"
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var target: RunID

    func run() throws {
        try reporting {
            let result = try global.call(RPCMethods.runCancel, RunKey(id: target.id))
            global.emit(result) { "run \(target.id): cancel requested (now \($0.status.rawValue))\n" }
        }
    }
}
