import ArgumentParser
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
    @Option(help: "Only apply if the workflow is still at this version.") var expectedVersion: Int?

    func validate() throws {
        guard description != nil || newName != nil else { throw ValidationError("nothing to change: give --description and/or --name") }
        if let newName { try checkName(newName, what: "new workflow name") }
    }

    func run() throws {
        try reporting {
            var params: [String: JSONValue] = ["name": .string(workflow.name)]
            if let description { params["description"] = .string(description) }
            if let newName { params["newName"] = .string(newName) }
            if let expectedVersion { params["expectedVersion"] = JSONValue(expectedVersion) }
            let updated = try global.call(Method.workflowUpdate.rawValue, params)
            global.emit(updated) { "updated workflow \(Render.text($0["name"])) (version \(Render.text($0["version"])))\n" }
        }
    }
}
