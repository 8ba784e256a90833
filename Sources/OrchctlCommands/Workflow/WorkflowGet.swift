import ArgumentParser
import OrchestratorClient
import OrchestratorModel
import OrchestratorProtocol

struct WorkflowGet: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "get",
        abstract: "Show a workflow and its steps (by name, or by id).",
        discussion: """
            With --version, the workflow as it was at that version (see 'orchctl workflow history').

            Examples:
              orchctl workflow get core-backup
              orchctl workflow get core-backup --version 3
              orchctl -o json workflow get 65a1b2c3d4e5f60718293a4b
            """
    )

    @OptionGroup var global: GlobalOptions
    @Argument(help: "The workflow's name or its 24-character id.", completion: Completions.workflowNames) var nameOrId: String
    @Option(parsing: .unconditional, help: "Show this earlier version (default: the current one).") var version: Int?

    func validate() throws {
        if let version, version < 1 { throw ValidationError("--version must be 1 or more") }
    }

    func run() throws {
        try reporting {
            let connection = try global.connect()
            var workflow: RPCReply<Workflow>?
            // 24 hex characters may be an id or a (valid) name: try the id first.
            if ObjectIdRule.isValid(nameOrId) {
                do {
                    workflow = try GlobalOptions.call(connection, RPCMethods.workflowGet, WorkflowGetParams(.id(nameOrId), version: version))
                } catch let failure as Failure where failure.code == 3 {
                    workflow = nil
                }
            }
            let found = try workflow ?? GlobalOptions.call(connection, RPCMethods.workflowGet, WorkflowGetParams(.name(nameOrId), version: version))
            global.emit(found, table: Render.workflow)
        }
    }
}
