import ArgumentParser
import OrchestratorProtocol

struct TargetGet: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "get", abstract: "Show a target, its labels and vars.", discussion: "Example:\n  orchctl target get leaf01.ams")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var target: TargetName

    func run() throws {
        try reporting {
            global.emit(try global.call(RPCMethods.targetGet, TargetKey(name: target.name)), table: Render.target)
        }
    }
}
