import ArgumentParser
import OrchestratorModel
import OrchestratorProtocol

/// `run approve` and `run reject`: one person's decision on an approval step.
struct RunDecisionOptions: ParsableArguments {
    @OptionGroup var run: RunID
    @Argument(help: "The approval step.") var step: String
    @Option(name: [.customShort("m"), .customLong("message")], help: ArgumentHelp("Why: kept with the decision and in the journal.", valueName: "TEXT"))
    var message: String = ""

    func validate() throws {
        try checkName(step, what: "step name")
        guard message.count <= Approval.maximumCommentLength else {
            throw ValidationError("--message must be at most \(Approval.maximumCommentLength) characters")
        }
    }

    func send(_ method: RPCMethod<RunDecisionParams, Run>, _ global: GlobalOptions) throws {
        let run = try run.resolved(global)
        let reply = try global.call(method, RunDecisionParams(id: run.id, step: step, comment: message))
        global.emit(reply) { run in
            let record = run.step(step)
            let approvals = record?.decisions.filter(\.approved).count ?? 0
            let needed = run.definition(step)?.approval?.approvers ?? 1
            let verb = method.method == .runApprove ? "approved" : "rejected"
            let standing = method.method == .runApprove
                ? (approvals >= needed ? "enough approvals: the run goes on" : "\(approvals) of \(needed) approvals")
                : "the step fails"
            return "step \(step) of run \(run.id) \(verb) (\(standing))\n"
        }
    }
}

struct RunApprove: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "approve",
        abstract: "Approve a step that waits for approval (see 'orchctl run list --waiting').",
        discussion: """
            An approval step waits until enough people approved it (its 'approvers'), one \
            rejects it, or it times out. Admins decide, or the members of the step's group if it \
            names one. By default whoever started the run cannot approve it (four eyes). Every \
            decision is kept with its uid, time and message, and written to the journal.

            Examples:
              orchctl run approve 65a1b2c3d4e5f60718293a4b change-window \\
                  -m "CAB-1234 approved"
              orchctl run list --waiting
            """
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var decision: RunDecisionOptions

    func run() throws {
        try reporting { try decision.send(RPCMethods.runApprove, global) }
    }
}

struct RunReject: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reject",
        abstract: "Reject a step that waits for approval: it fails, and so does the run.",
        discussion: """
            One rejection is enough: the step fails with "rejected by uid N: MESSAGE", and the \
            run fails (its rollback actions run, if it has any). 'orchctl run resume' asks again.

            Example:
              orchctl run reject 65a1b2c3d4e5f60718293a4b change-window \\
                  -m "not during the freeze"
            """
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var decision: RunDecisionOptions

    func run() throws {
        try reporting { try decision.send(RPCMethods.runReject, global) }
    }
}

/// What `run list --waiting` shows: each approval step that waits, and for whom.
struct WaitingApproval {
    var run: Run
    var target: String?
    var step: RunStep
    var approval: Approval

    var json: JSONValue {
        var o: [String: JSONValue] = [
            "runId": .string(run.id), "workflow": .string(run.workflowName), "step": .string(step.name), "since": JSONValue(step.startedAt),
            "approval": approval.json, "decisions": .array(step.decisions.map(\.json)), "startedBy": JSONValue(Int(run.requestedBy.uid)),
        ]
        if let target { o["target"] = .string(target) }
        return .object(o)
    }

    /// Who may still decide, in words.
    var needs: String {
        let approvals = step.decisions.filter(\.approved).count
        let whom = approval.group.map { "group \($0)" } ?? "admins"
        return "\(approval.approvers - approvals) more of \(whom)" + (approval.notStarter ? ", not uid \(run.requestedBy.uid)" : "")
    }

    /// The approval steps waiting in the active runs: every page of them,
    /// and in a fleet run, its targets' runs that wait.
    static func all(_ global: GlobalOptions, workflow: String?) throws -> [WaitingApproval] {
        let connection = try global.connect()
        var found: [WaitingApproval] = []
        var after: String?
        repeat {
            let page = try GlobalOptions.call(connection, RPCMethods.runList, RunListParams(workflow: workflow, status: .running, limit: 1000, after: after)).result
            for summary in page.items {
                let run = try GlobalOptions.call(connection, RPCMethods.runGet, RunKey(id: summary.id)).result
                found += waiting(in: run, target: nil)
                for target in run.fleet?.targets ?? [] where target.steps.values.contains(.waitingApproval) {
                    let member = try GlobalOptions.call(connection, RPCMethods.runGet, RunKey(id: target.runId)).result
                    found += waiting(in: member, target: target.name)
                }
            }
            after = page.next
        } while after != nil
        return found
    }

    private static func waiting(in run: Run, target: String?) -> [WaitingApproval] {
        run.steps.filter { $0.status == .waitingApproval }.compactMap { step in
            run.definition(step.name)?.approval.map { WaitingApproval(run: run, target: target, step: step, approval: $0) }
        }
    }
}
