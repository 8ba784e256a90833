import ArgumentParser
import OrchestratorModel
import OrchestratorProtocol

struct RunList: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List runs, newest first.",
        discussion: "Examples:\n  orchctl run list\n  orchctl run list vlan-rollout --status failed"
    )

    @OptionGroup var global: GlobalOptions
    @Argument(help: "Only runs of this workflow.") var workflow: String?
    @Option(help: "Only runs with this status: queued, running, succeeded, failed, cancelled.") var status: String?
    @Option(help: "Runs per page (1-1000).") var limit: Int = 100
    @Option(help: "Continue after this run id (the 'next' of the previous page).") var after: String?

    func validate() throws {
        if let status, RunStatus(rawValue: status) == nil {
            throw ValidationError("--status must be one of \(RunStatus.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard (1...1000).contains(limit) else { throw ValidationError("--limit must be between 1 and 1000") }
    }

    func run() throws {
        try reporting {
            let params = RunListParams(workflow: workflow, status: status.flatMap(RunStatus.init(rawValue:)), limit: limit, after: after)
            let page = try global.call(RPCMethods.runList, params)
            global.emit(page) { page in
                if page.items.isEmpty { return "No runs.\n" }
                var table = Table("ID", "WORKFLOW", "STATUS", "STEPS", "CREATED", "FINISHED")
                for run in page.items {
                    let done = run.steps.filter { $0.status == .succeeded }.count
                    table.add(run.id, run.workflowName, run.status.rawValue,
                              "\(done)/\(run.steps.count)", Render.text(run.createdAt), Render.text(run.finishedAt))
                }
                var out = table.render()
                if let next = page.next { out += "More: orchctl run list --after \(next)\n" }
                return out
            }
        }
    }
}
