import OrchestratorEngine
import OrchestratorModel
import OrchestratorProtocol
import OrchestratorServices

/// What one `run.follow` sends: the lines the run's steps (a fleet run's
/// members') print in this daemon, as they come; and for each attempt that
/// ended with none of its lines seen (it ran on another daemon, or before
/// the follower came and out of the daemon's backlog, or the whole run had
/// ended before it was followed), what the run's
/// record kept of it (the last 64 KiB of each stream), once. Only the
/// latest attempt's output is kept in a record: an earlier one is shown
/// only as it was printed.
final class OutputFollower {
    private let runId: String
    private let only: RunFollowParams
    private let isFleet: Bool
    /// Nil for a run that had ended before it was followed.
    private let lines: Broadcast<OutputLine>.Subscription?
    private let service: RunService
    private let context: CallContext
    /// The attempts whose output was sent ("target/step#attempt").
    private var sent: Set<String> = []

    init(run: Run, only: RunFollowParams, lines: Broadcast<OutputLine>.Subscription?, service: RunService, context: CallContext) throws(RPCError) {
        if let attempt = only.attempt, attempt < 1 {
            throw OrchestratorError.validation([FieldError(field: "attempt", message: "must be 1 or more, got \(attempt)")]).rpcError
        }
        if let target = only.target {
            guard let fleet = run.fleet else {
                throw OrchestratorError.validation([FieldError(field: "target", message: "run \(run.id) is not a fleet run: it has no targets")]).rpcError
            }
            guard fleet.targets.contains(where: { $0.name == target }) else { throw OrchestratorError.notFound("target", target).rpcError }
        }
        if let step = only.step, !run.definition.contains(where: { $0.name == step }) {
            throw OrchestratorError.notFound("step", step, message: "run \(run.id) has no step named '\(step)'").rpcError
        }
        self.runId = run.id
        self.only = only
        self.isFleet = run.fleet != nil
        self.lines = lines
        self.service = service
        self.context = context
    }

    /// Sends the lines printed since the last pass, then, for the attempts
    /// these events end, what was kept of those whose lines were not seen.
    func pass(_ events: [RunEvent]) async throws(RPCError) {
        try await sendPrinted()
        if isFleet {
            for event in events where event.step == nil && RunStatus(rawValue: event.status)?.isTerminal == true {
                guard let target = event.target, only.target == nil || only.target == target else { continue }
                let member = try await domain { () throws(OrchestratorError) in try await service.target(runId, target) }
                for step in member.steps { try await sendKept(step, of: member, target: target) }
            }
            return
        }
        let ended = events.filter { event in
            guard let step = event.step, let attempt = event.attempt, Self.endsAnAttempt(event.status) else { return false }
            return wanted(step: step, attempt: attempt) && !sent.contains(Self.key(nil, step, attempt))
        }
        guard !ended.isEmpty else { return }
        let run = try await domain { () throws(OrchestratorError) in try await service.get(runId) }
        for event in ended {
            // Kept only while it is the step's latest attempt.
            guard let step = run.step(event.step ?? ""), step.attempts == event.attempt else { continue }
            try await sendKept(step, of: run, target: nil)
        }
    }

    private func sendPrinted() async throws(RPCError) {
        guard let (printed, complete) = lines?.take() else { return }
        if !complete {
            let gap = RunOutputGapNotification(
                runId: runId,
                message: "some lines are not shown here (printed before this follower came, or faster than it reads); the journal has them (up to 10,000 per stream of an attempt): journalctl -u orchestratord RUN_ID=\(runId)")
            try await notify(RPCNotifications.runOutputGap.name, gap.notificationJSON)
        }
        for line in printed where wanted(step: line.step, attempt: line.attempt) && (only.target == nil || only.target == line.target) {
            sent.insert(Self.key(line.target, line.step, line.attempt))
            try await notify(RPCNotifications.runOutput.name, RunOutputNotification(line: line).notificationJSON)
        }
    }

    private func sendKept(_ step: RunStep, of run: Run, target: String?) async throws(RPCError) {
        guard step.attempts > 0, wanted(step: step.name, attempt: step.attempts),
              sent.insert(Self.key(target, step.name, step.attempts)).inserted else { return }
        for (stream, text) in [("stdout", step.stdout), ("stderr", step.stderr)] where !text.isEmpty {
            for line in text.split(separator: "\n", omittingEmptySubsequences: false).dropLast(text.hasSuffix("\n") ? 1 : 0) {
                let kept = OutputLine(runId: run.id, target: target, step: step.name, attempt: step.attempts, stream: stream, text: String(line))
                try await notify(RPCNotifications.runOutput.name, RunOutputNotification(line: kept, kept: true).notificationJSON)
            }
        }
    }

    private func wanted(step: String, attempt: Int) -> Bool {
        (only.step == nil || only.step == step) && (only.attempt == nil || only.attempt == attempt)
    }

    private func notify(_ method: String, _ params: JSONValue) async throws(RPCError) {
        guard await context.notify(method, params) else { throw RPCError(.internalError, "the follower went away") }
    }

    /// An event that ends an attempt of a step (a failure that will be retried too).
    private static func endsAnAttempt(_ status: String) -> Bool {
        switch StepStatus(rawValue: status) {
        case .succeeded, .failed, .timedOut, .cancelled, .interrupted: true
        default: false
        }
    }

    private static func key(_ target: String?, _ step: String, _ attempt: Int) -> String {
        "\(target ?? "")/\(step)#\(attempt)"
    }
}
