import ArgumentParser
import OrchestratorModel
import OrchestratorProtocol

struct WorkflowUpdate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "update",
        abstract: "Change a workflow's description or name.",
        discussion: "Examples:\n  orchctl workflow update core-backup --description \"hourly now\"\n  orchctl workflow update core-backup --name core-config-backup"
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var workflow: WorkflowName
    @Option(help: "New description.") var description: String?
    @Option(name: .customLong("name"), help: "New name.") var newName: String?
    @Option(parsing: .unconditional, help: "Only apply if the workflow is still at this version.") var expectedVersion: Int?

    func validate() throws {
        guard description != nil || newName != nil else { throw ValidationError("nothing to change: give --description and/or --name") }
        if let newName { try checkName(newName, what: "new workflow name") }
    }

    func run() throws {
        try reporting {
            let changes = WorkflowChanges(name: newName, description: description, expectedVersion: expectedVersion)
            let updated = try global.call(RPCMethods.workflowUpdate, WorkflowUpdateParams(name: workflow.name, changes: changes))
            global.emit(updated) { "workflow \($0.name) updated (version \($0.version))\n" }
        }
    }
}
