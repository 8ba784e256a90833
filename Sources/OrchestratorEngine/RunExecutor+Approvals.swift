import Foundation
import OrchestratorModel
import OrchestratorStorage

/// Approval steps: nothing runs; the step waits, recorded, for people's
/// decisions, which `run.approve` / `run.reject` keep in the `approvals`
/// collection (whichever daemon they reach). The executor reads them when
/// told (a decision reached this daemon) and every two seconds while a step
/// waits, and settles the step when enough approved, one rejected, or its
/// timeout passed. Everything it needs is in MongoDB: after a restart or a
/// take-over the step goes on waiting, its timeout counted from when it began.
extension RunExecutor {
    /// Decisions reaching another daemon are seen within this; those reaching this one at once.
    static let approvalPollInterval = Duration.seconds(2)

    /// Records the approval steps whose turn came as waiting for people.
    func openApprovals(_ names: [String]) {
        guard !names.isEmpty else { return }
        var change = RunChange()
        let now = clock.now().milliseconds
        for name in names {
            guard let index = index(of: name), let approval = definition(name)?.approval else { continue }
            var record = run.steps[index]
            record.status = .waitingApproval
            record.attempts += 1
            record.startedAt = now
            record.finishedAt = nil
            record.error = nil
            record.exitCode = nil
            record.retryAt = nil
            record.waitingFor = nil
            record.decisions = []
            change.steps[index] = record
            change.events.append(event(
                step: name, status: StepStatus.waitingApproval.rawValue, attempt: record.attempts, message: approval.waitingMessage,
                sequenceOffset: change.events.count))
            logger.notice(
                "step \(name) \(approval.waitingMessage)", metadata: ["step": "\(name)", "stepStatus": "\(StepStatus.waitingApproval.rawValue)"])
        }
        stage(change)
        for (_, record) in change.steps { show(record.name, record.status) }
        mailbox.tick(after: Self.approvalPollInterval, in: world)
    }

    /// Reads the decisions on waiting approval steps: records new ones on
    /// the step (so `run.get` shows them), and ends a step that is decided
    /// or timed out. Looks again in two seconds while one still waits.
    func settleApprovals() async {
        guard asksForApprovals else { return }
        let waiting = run.steps.indices.filter { run.steps[$0].status == .waitingApproval }
        guard !waiting.isEmpty, !cancelRequested else { return }
        let decisions: [ApprovalDecision]
        do {
            decisions = try await store.decisions(runId: run.id)
        } catch {
            // The database is away: the steps wait on, and are looked at again.
            mailbox.tick(after: Self.approvalPollInterval, in: world)
            return
        }
        let now = clock.now().milliseconds
        var change = RunChange()
        var stillWaiting = false
        for index in waiting {
            let record = run.steps[index]
            guard let approval = definition(record.name)?.approval else { continue }
            let decided = decisions.filter { $0.step == record.name && $0.attempt == record.attempts }
            var updated = record
            updated.decisions = decided
            for decision in decided where !record.decisions.contains(decision) {
                change.events.append(event(
                    step: record.name, status: decision.verb, attempt: record.attempts,
                    message: "uid \(decision.uid)" + (decision.comment.isEmpty ? "" : ": \(decision.comment)"), sequenceOffset: change.events.count))
            }
            var verdict = ApprovalVerdict.of(approval, decisions: decided, waitingSince: record.startedAt, now: now)
            if verdict == .waiting {
                stillWaiting = true
                if updated != record { change.steps[index] = updated }
                continue
            }
            // Settled: the ballot closes first, and what it holds then is final
            // (a decision that came meanwhile counts; one after is refused).
            do {
                let final = try await store.closeBallot(runId: run.id, step: record.name, attempt: record.attempts)
                for decision in final where !decided.contains(decision) {
                    change.events.append(event(
                        step: record.name, status: decision.verb, attempt: record.attempts,
                        message: "uid \(decision.uid)" + (decision.comment.isEmpty ? "" : ": \(decision.comment)"), sequenceOffset: change.events.count))
                }
                updated.decisions = final
                verdict = ApprovalVerdict.of(approval, decisions: final, waitingSince: record.startedAt, now: now)
            } catch {
                stillWaiting = true  // The database is away: settled on a later look.
                continue
            }
            updated.status = verdict == .approved ? .succeeded : .failed
            updated.finishedAt = now
            updated.error = verdict.error
            change.steps[index] = updated
            change.events.append(event(
                step: record.name, status: updated.status.rawValue, attempt: record.attempts,
                message: verdict.error ?? "approved by uid " + updated.decisions.filter(\.approved).map { String($0.uid) }.joined(separator: ", uid "),
                sequenceOffset: change.events.count))
            logger.notice(
                "step \(record.name) \(updated.status.rawValue)\(verdict.error.map { ": \($0)" } ?? "")",
                metadata: ["step": "\(record.name)", "stepStatus": "\(updated.status.rawValue)"])
        }
        if !change.isEmpty {
            stage(change)
            for (_, record) in change.steps where record.status.isFinal { show(record.name, record.status) }
        }
        if stillWaiting { mailbox.tick(after: Self.approvalPollInterval, in: world) }
    }
}

extension Array {
    /// The elements for which `belongs` holds, then the rest, each in order.
    func partitioned(_ belongs: (Element) -> Bool) -> ([Element], [Element]) {
        var yes: [Element] = []
        var no: [Element] = []
        for element in self {
            if belongs(element) { yes.append(element) } else { no.append(element) }
        }
        return (yes, no)
    }
}
