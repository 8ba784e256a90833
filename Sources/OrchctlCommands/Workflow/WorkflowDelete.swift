import ArgumentParser
import OrchestratorModel
import OrchestratorProtocol

struct WorkflowDelete: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "delete",
        abstract: "Delete a workflow and its steps.",
        discussion: "Example:\n  orchctl workflow delete old-audit"
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var workflow: WorkflowName

    func run() throws {
        try reporting {
            let result = try global.call(RPCMethods.workflowDelete, WorkflowDeleteParams(name: workflow.name))
            global.emit(result) { _ in "workflow \(workflow.name) deleted\n" }
        }
    }
}
