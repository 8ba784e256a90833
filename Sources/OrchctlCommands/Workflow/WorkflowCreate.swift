import ArgumentParser
import OrchestratorModel
import OrchestratorProtocol

struct WorkflowCreate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create",
        abstract: "Create an empty workflow (add steps with 'orchctl step add', or use 'orchctl apply').",
        discussion: "Example:\n  orchctl workflow create vlan-rollout \\\n      --description \"VLAN 120 on the access switches\""
    )

    @OptionGroup var global: GlobalOptions
    // A new name: tab completion offers none of the existing ones.
    @Argument(help: "The new workflow's name.") var name: String
    @Option(help: "What the workflow is for.") var description: String = ""

    func validate() throws {
        try checkName(name, what: "workflow name")
    }

    func run() throws {
        try reporting {
            let created = try global.call(RPCMethods.workflowCreate, WorkflowDraft(name: name, description: description))
            global.emit(created) { "workflow \($0.name) created (version \($0.version))\n" }
        }
    }
}
