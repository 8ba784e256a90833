import ArgumentParser
import OrchestratorModel
import OrchestratorProtocol

struct WorkflowList: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List workflows by name, a page at a time.",
        discussion: "Examples:\n  orchctl workflow list\n  orchctl workflow list --limit 50 --after core-backup"
    )

    @OptionGroup var global: GlobalOptions
    @Option(parsing: .unconditional, help: "Workflows per page (1-1000).") var limit: Int = 100
    @Option(help: "Start after this name (the 'next' cursor of the previous page).") var after: String?

    func validate() throws {
        guard (1...1000).contains(limit) else { throw ValidationError("--limit must be between 1 and 1000") }
    }

    func run() throws {
        try reporting {
            let page = try global.call(RPCMethods.workflowList, WorkflowListParams(limit: limit, after: after))
            global.emit(page) { page in
                if page.items.isEmpty { return "No workflows. Create one with 'orchctl workflow create NAME' or 'orchctl apply -f FILE'.\n" }
                var table = Table("NAME", "STEPS", "VERSION", "UPDATED", "DESCRIPTION")
                for w in page.items {
                    table.add(w.name, String(w.steps.count), Render.text(w.version), Render.text(w.updatedAt), w.description)
                }
                var out = table.render()
                if let next = page.next { out += Render.more("workflow list", limit: limit, after: next) }
                return out
            }
        }
    }
}
