import ArgumentParser
import OrchestratorModel
import OrchestratorProtocol

struct StepDelete: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "delete",
        abstract: "Remove a step from a workflow.",
        discussion: "Example:\n  orchctl step delete vlan-rollout verify"
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var step: StepAddress

    func run() throws {
        try reporting {
            let workflow = try global.call(RPCMethods.stepDelete, step.key)
            global.emit(workflow) { "step \(step.name) deleted from workflow \(step.workflow) (version \($0.version))\n" }
        }
    }
}
