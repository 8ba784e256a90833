import ArgumentParser
import OrchestratorProtocol

struct TargetDelete: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "delete",
        abstract: "Delete a target (runs that worked on it keep their record of it).",
        discussion: "Example:\n  orchctl target delete leaf01.ams")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var target: TargetName

    func run() throws {
        try reporting {
            let deleted = try global.call(RPCMethods.targetDelete, TargetKey(name: target.name))
            global.emit(deleted) { _ in "target \(target.name) deleted\n" }
        }
    }
}
