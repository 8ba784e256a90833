import ArgumentParser
import OrchestratorModel
import OrchestratorProtocol

struct StepList: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List a workflow's steps in execution order.",
        discussion: "Example:\n  orchctl step list vlan-rollout"
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var workflow: WorkflowName

    func run() throws {
        try reporting {
            let result = try global.call(RPCMethods.stepList, StepListParams(workflow: workflow.name))
            global.emit(result) { result in
                result.items.isEmpty ? "Workflow \(workflow.name) has no steps.\n" : Render.steps(result.items)
            }
        }
    }
}
