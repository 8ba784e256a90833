import ArgumentParser
import OrchestratorModel
import OrchestratorProtocol

struct RunGet: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "get",
        abstract: "Show a run: its status and each step's attempts, exit code and times.",
        discussion: "Examples:\n  orchctl run get 65a1b2c3d4e5f60718293a4b\n  orchctl run get 65a1b2c3d4e5  # enough of the id to be unique\n  orchctl run get last vlan-rollout\n  orchctl -o json run get 65a1b2c3d4e5f60718293a4b \\\n      | jq '.steps[] | {name, status}'"
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var target: RunID
    @Argument(help: "With 'last': the newest run of this workflow.", completion: Completions.workflowNames) var workflow: String?

    func validate() throws {
        if workflow != nil, target.id != "last" { throw ValidationError("a workflow name goes with 'last' only: orchctl run get last WORKFLOW") }
    }

    func run() throws {
        try reporting {
            let target = try target.resolved(global, workflow: workflow)
            global.emit(try global.call(RPCMethods.runGet, RunKey(id: target.id)), table: Self.render)
        }
    }

    static func render(_ run: Run) -> String {
        let params = run.params.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        var pairs: [(String, String)] = [("Run", run.id)]
        if let membership = run.membership {
            pairs.append(("Target", "\(membership.target.name) (batch \(membership.target.batch) of fleet run \(membership.fleetRunId))"))
        }
        var out = fields(pairs + [
            ("Workflow", "\(run.workflowName) (version \(run.workflowVersion))"),
            ("Status", Colour.status(run.status.rawValue, run.status.rawValue) + (run.cancelRequested && run.status != .cancelled ? " (cancel requested)" : "")),
        ] + (run.rollbackStatus.map { [("Rollback", $0.rawValue)] } ?? [])
          + (run.window.map { window in
              [("Window", window.name + (run.windowWait.map { wait in " (waiting for it to open\(wait.opensAt.map { " at \(Render.text($0))" } ?? ""))" } ?? ""))]
          } ?? [])
          + (run.schedule.map { [("Schedule", $0)] } ?? []) + [
            ("Parameters", params.isEmpty ? "-" : params.joined(separator: " ")),
        ] + (run.secrets.isEmpty ? [] : [("Secrets", run.secrets.joined(separator: " "))]) + [
            ("Requested by", "uid \(run.requestedBy.uid) (pid \(run.requestedBy.pid))"),
            ("Created", Render.when(run.createdAt)), ("Started", Render.when(run.startedAt)), ("Finished", Render.when(run.finishedAt)),
            ("Took", Times.took(from: run.startedAt, to: run.finishedAt)),
        ])
        if let fleet = run.fleet { return out + "\n" + FleetView.summary(fleet, definition: run.definition, runId: run.id) }
        var table = Table("ORDER", "STEP", "STATUS", "ATTEMPTS", "EXIT", "STARTED", "TOOK", "ERROR")
        for step in run.steps {
            table.add(Render.text(step.executionOrder), step.name, Colour.status(step.status.rawValue, step.status.rawValue), Render.text(step.attempts),
                      Render.text(step.exitCode), Times.ago(step.startedAt),
                      step.status.isExecuting || step.finishedAt != nil ? Times.took(from: step.startedAt, to: step.finishedAt) : "-",
                      Render.text(step.error ?? step.rollback?.error.map { "rollback: \($0)" }))
        }
        out += "\n" + table.render()
        let decided = run.steps.flatMap { step in step.decisions.map { (step.name, $0) } }
        if !decided.isEmpty {
            var decisions = Table("STEP", "DECISION", "BY", "AT", "COMMENT")
            for (step, d) in decided { decisions.add(step, d.verb, "uid \(d.uid)", Render.text(d.at), d.comment.isEmpty ? "-" : d.comment) }
            out += "\nApprovals:\n" + decisions.render()
        }
        for step in run.steps where step.status == .waitingApproval {
            if let approval = run.definition(step.name)?.approval {
                out += "\nStep \(step.name) is \(approval.waitingMessage).\nDecide: orchctl run approve|reject \(run.id) \(step.name) -m TEXT\n"
            }
        }
        return out
    }
}
