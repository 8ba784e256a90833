import ArgumentParser
import OrchestratorModel
import OrchestratorProtocol

struct StepGet: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "get",
        abstract: "Show one step.",
        discussion: "Example:\n  orchctl step get vlan-rollout verify"
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var step: StepAddress

    func run() throws {
        try reporting {
            global.emit(try global.call(RPCMethods.stepGet, step.key), table: Render.step)
        }
    }
}
