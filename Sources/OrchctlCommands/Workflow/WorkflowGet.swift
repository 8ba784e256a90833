import ArgumentParser
import OrchestratorClient
import OrchestratorModel
import OrchestratorProtocol

struct WorkflowGet: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "get",
        abstract: "Show a workflow and its steps (by name, or by id).",
        discussion: "Examples:\n  orchctl workflow get core-backup\n  orchctl -o json workflow get 65a1b2c3d4e5f60718293a4b"
    )

    @OptionGroup var global: GlobalOptions
    @Argument(help: "The workflow's name or its 24-character id.") var nameOrId: String

    func run() throws {
        try reporting {
            let connection = try global.connect()
            var workflow: RPCReply<Workflow>?
            // 24 hex characters may be an id or a (valid) name: try the id first.
            if ObjectIdRule.isValid(nameOrId) {
                do {
                    workflow = try GlobalOptions.call(connection, RPCMethods.workflowGet, .id(nameOrId))
                } catch let failure as Failure where failure.code == 3 {
                    workflow = nil
                }
            }
            let found = try workflow ?? GlobalOptions.call(connection, RPCMethods.workflowGet, .name(nameOrId))
            global.emit(found, table: Render.workflow)
        }
    }
}
