import ArgumentParser
import OrchestratorModel
import OrchestratorProtocol

struct RunTargetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "target",
        abstract: "Show one target's run of a fleet run: its steps' attempts, exit codes, times and errors.",
        discussion: "Examples:\n  orchctl run target 65a1b2c3d4e5f60718293a4b leaf01.ams\n  orchctl run logs 65a1b2c3d4e5f60718293a4b --target leaf01.ams"
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var fleetRun: RunID
    @OptionGroup var target: TargetName

    func run() throws {
        try reporting {
            let fleetRun = try fleetRun.resolved(global)
            global.emit(try global.call(RPCMethods.runTarget, RunTargetParams(id: fleetRun.id, target: target.name)), table: RunGet.render)
        }
    }
}
