import ArgumentParser
import OrchestratorModel
import OrchestratorProtocol

struct RunList: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List runs, newest first.",
        discussion: """
            With --waiting, the approval steps that wait for a decision instead: which run, \
            since when, and who may still decide (see 'orchctl run approve').

            Examples:
              orchctl run list
              orchctl run list vlan-rollout --status failed
              orchctl run list --since 2h       # or 1h30m, 3d, 2026-12-01
              orchctl run list --waiting
            """
    )

    @OptionGroup var global: GlobalOptions
    @Argument(help: "Only runs of this workflow.", completion: Completions.workflowNames) var workflow: String?
    @Option(help: "Only runs with this status: queued, running, succeeded, failed, cancelled.", completion: Completions.runStatuses) var status: String?
    @Option(help: ArgumentHelp("Only runs created since then: a duration back from now (90s, 30m, 2h, 1h30m, 3d, 2w), a date (2026-12-01, midnight here) or an RFC 3339 time.", valueName: "WHEN"))
    var since: String?
    @Option(parsing: .unconditional, help: "Runs per page (1-1000).") var limit: Int = 100
    @Option(help: "Continue after this run id (the 'next' of the previous page).") var after: String?
    @Flag(help: "Show the approval steps waiting for a decision, and for whom.") var waiting = false

    func validate() throws {
        if let status, RunStatus(rawValue: status) == nil {
            throw ValidationError("--status must be one of \(RunStatus.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard (1...1000).contains(limit) else { throw ValidationError("--limit must be between 1 and 1000") }
        if let since, Times.since(since) == nil {
            throw refused("--since '\(since)' is not a time: give a duration back from now (30m, 2h, 1h30m, 3d), a date (2026-12-01) or an RFC 3339 time")
        }
        if waiting && since != nil { throw ValidationError("--waiting lists waiting approvals of running runs: leave out --since") }
        if waiting && (status != nil || after != nil) { throw ValidationError("--waiting lists waiting approvals of running runs: leave out --status and --after") }
    }

    func run() throws {
        try reporting {
            if waiting {
                let found = try WaitingApproval.all(global, workflow: workflow)
                global.emit(json: .array(found.map(\.json))) {
                    if found.isEmpty { return "No step waits for approval.\n" }
                    var table = Table("RUN", "WORKFLOW", "STEP", "TARGET", "SINCE", "NEEDS", "DECIDED")
                    for w in found {
                        table.add(
                            w.run.id, w.run.workflowName, w.step.name, w.target ?? "-", Render.text(w.step.startedAt), w.needs,
                            w.step.decisions.isEmpty ? "-" : w.step.decisions.map { "\($0.verb) by uid \($0.uid)" }.joined(separator: ", "))
                    }
                    return table.render()
                }
                return
            }
            let sinceDate = since.flatMap { Times.since($0) }
            let params = RunListParams(workflow: workflow, status: status.flatMap(RunStatus.init(rawValue:)), since: sinceDate, limit: limit, after: after)
            let page = try global.call(RPCMethods.runList, params)
            global.emit(page) { page in
                if page.items.isEmpty { return sinceDate == nil ? "No runs.\n" : "No runs since \(RFC3339.format(sinceDate!)).\n" }
                var table = Table("ID", "WORKFLOW", "STATUS", "STEPS", "CREATED", "TOOK")
                for run in page.items {
                    let done = run.steps.filter { $0.status == .succeeded }.count
                    table.add(run.id, run.workflowName, Colour.status(run.status.rawValue, run.status.rawValue),
                              "\(done)/\(run.steps.count)", Times.ago(run.createdAt), Times.took(from: run.startedAt, to: run.finishedAt))
                }
                var out = table.render()
                // The next page keeps the same window: the time it was taken from, not the duration again.
                let filters = [workflow].compactMap { $0 } + (status.map { ["--status", $0] } ?? []) + (sinceDate.map { ["--since", RFC3339.format($0)] } ?? [])
                if let next = page.next { out += Render.more("run list", filters, limit: limit, after: next) }
                return out
            }
        }
    }
}
