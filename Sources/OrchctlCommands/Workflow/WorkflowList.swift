import ArgumentParser
import OrchestratorProtocol

struct WorkflowList: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List workflows by name, a page at a time.",
        discussion: "Examples:\n  orchctl workflow list\n  orchctl workflow list --limit 50 --after core-backup"
    )

    @OptionGroup var global: GlobalOptions
    @Option(help: "Workflows per page (1-1000).") var limit: Int = 100
    @Option(help: "Start after this name (the 'next' cursor of the previous page).") var after: String?

    func validate() throws {
        guard (1...1000).contains(limit) else { throw ValidationError("--limit must be between 1 and 1000") }
    }

    func run() throws {
        try reporting {
            var params: [String: JSONValue] = ["limit": JSONValue(limit)]
            if let after { params["after"] = .string(after) }
            let page = try global.call(Method.workflowList.rawValue, params)
            global.emit(page) { page in
                let items = page["items"]?.arrayValue ?? []
                if items.isEmpty { return "No workflows. Create one with 'orchctl workflow create NAME' or 'orchctl apply -f FILE'.\n" }
                var table = Table("NAME", "STEPS", "VERSION", "UPDATED", "DESCRIPTION")
                for w in items {
                    table.add(Render.text(w["name"]), String(w["steps"]?.arrayValue?.count ?? 0), Render.text(w["version"]),
                              Render.text(w["updatedAt"]), Render.text(w["description"]))
                }
                var out = table.render()
                if let next = page["next"]?.stringValue { out += "More: orchctl workflow list --after \(next)\n" }
                return out
            }
        }
    }
}
