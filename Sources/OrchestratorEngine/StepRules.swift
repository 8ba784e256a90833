import Foundation
import OrchestratorModel

/// What the end of an attempt means for its step, as pure functions: the
/// status it ends with, the error shown, and whether it runs again.
/// `RunExecutor` applies them; unit tests ask them directly.
public enum StepRules {
    public struct Verdict: Sendable, Equatable {
        /// The step's record afterwards (`pending` when it runs again).
        public var record: RunStep
        /// The status the attempt ended with, as its event shows it.
        public var status: StepStatus
        /// The event's message.
        public var message: String?
        /// Set when the step runs again: after this long.
        public var retryAfter: Duration?
    }

    /// An attempt that ended with `outcome`. A failure is retried while
    /// attempts are left (retries + 1 in all), unless the run is being cancelled.
    public static func judge(_ outcome: ProcessOutcome, of step: Step, record: RunStep, cancelRequested: Bool, at now: Date) -> Verdict {
        var record = record
        record.finishedAt = now
        record.stdout = outcome.stdout
        record.stderr = outcome.stderr
        switch outcome.ending {
        case .notStarted(let reason):
            record.status = .failed
            record.error = reason
        case .exited(let code):
            record.exitCode = Int(code)
            record.status = code == 0 ? .succeeded : .failed
            if code != 0 { record.error = "exited with status \(code)" }
        case .signalled(let signal):
            record.exitCode = 128 + Int(signal)
            record.status = .failed
            record.error = "killed by signal \(signal)"
        }
        if outcome.timedOut {
            record.status = .timedOut
            record.error = "timed out after \(step.timeoutSeconds ?? 0)s"
        } else if outcome.terminated && record.status != .succeeded {
            record.status = .cancelled
            record.error = "cancelled"
        }
        var verdict = Verdict(record: record, status: record.status, message: record.error, retryAfter: nil)
        if record.status.isFailure && record.attempts < step.retries + 1 && !cancelRequested {
            let delay = retryDelay(for: step, nextAttempt: record.attempts + 1)
            verdict.message = "\(record.error ?? "failed"); will retry in \(delay.components.seconds)s"
            verdict.record.status = .pending
            verdict.record.retryAt = now.addingTimeInterval(delay.seconds).milliseconds
            verdict.retryAfter = delay
        }
        return verdict
    }

    /// The record of a step's next attempt as it starts (its own action,
    /// not a rollback): what the previous attempt left is cleared, and
    /// `process` is the one held at its gate for it.
    public static func started(_ record: RunStep, process: StepProcess?, at now: Date) -> RunStep {
        var started = record
        started.attempts += 1
        started.process = process
        started.status = .running
        started.startedAt = now
        started.finishedAt = nil
        started.exitCode = nil
        started.error = nil
        started.stdout = ""
        started.stderr = ""
        started.retryAt = nil
        started.waitingFor = nil
        return started
    }

    /// A step that was running when the daemon running it stopped. An
    /// idempotent one runs again if it has attempts left (an interruption
    /// may use one attempt beyond retries + 1); any other fails the run,
    /// which `run.resume` can continue.
    /// `output` is what it printed when it was stopped here (the lease
    /// lapsed, or the stop timeout passed), nil after a crash.
    public static func recover(_ record: RunStep, of step: Step, output: ProcessOutcome? = nil, at now: Date) -> Verdict {
        var recovered = record
        if let output { (recovered.stdout, recovered.stderr) = (output.stdout, output.stderr) }
        recovered.status = .interrupted
        recovered.finishedAt = now
        recovered.error = "interrupted: the daemon running it stopped"
        var verdict = Verdict(record: recovered, status: .interrupted, message: recovered.error, retryAfter: nil)
        if step.idempotent && record.attempts <= step.retries + 1 {
            verdict.record.status = .pending
            verdict.message = "interrupted: the daemon running it stopped; idempotent, so it runs again"
            verdict.retryAfter = .zero
        }
        return verdict
    }

    /// A rollback that ended with `outcome`: `rolled_back` when it exited 0,
    /// else `rollback_failed` (never retried: a person looks first). The
    /// step's own fields keep what the step itself did.
    public static func judgeRollback(_ outcome: ProcessOutcome, of step: Step, record: RunStep, at now: Date) -> Verdict {
        var rollback = record.rollback ?? RollbackRecord()
        rollback.finishedAt = now
        rollback.stdout = outcome.stdout
        rollback.stderr = outcome.stderr
        switch outcome.ending {
        case .notStarted(let reason): rollback.error = reason
        case .exited(let code):
            rollback.exitCode = Int(code)
            if code != 0 { rollback.error = "exited with status \(code)" }
        case .signalled(let signal):
            rollback.exitCode = 128 + Int(signal)
            rollback.error = "killed by signal \(signal)"
        }
        if outcome.timedOut {
            rollback.error = "timed out after \(step.timeoutSeconds ?? 0)s"
        } else if outcome.terminated && rollback.error != nil {
            rollback.error = "cancelled"
        }
        var ended = record
        ended.rollback = rollback
        ended.status = rollback.error == nil ? .rolledBack : .rollbackFailed
        return Verdict(record: ended, status: ended.status, message: rollback.error.map { "rollback failed: \($0)" } ?? "rolled back", retryAfter: nil)
    }

    /// A rollback that was running when the daemon running it stopped: an
    /// idempotent step's rollback runs again (the step is `succeeded` again,
    /// so the run rolls it back); any other's is `rollback_failed`.
    public static func recoverRollback(_ record: RunStep, of step: Step, output: ProcessOutcome? = nil, at now: Date) -> Verdict {
        var recovered = record
        var rollback = record.rollback ?? RollbackRecord()
        if let output { (rollback.stdout, rollback.stderr) = (output.stdout, output.stderr) }
        if step.idempotent {
            recovered.status = .succeeded
            recovered.rollback = nil
            return Verdict(
                record: recovered, status: .interrupted,
                message: "rollback interrupted: the daemon running it stopped; idempotent, so the rollback runs again", retryAfter: nil)
        }
        rollback.finishedAt = now
        rollback.error = "interrupted: the daemon running it stopped"
        recovered.rollback = rollback
        recovered.status = .rollbackFailed
        return Verdict(record: recovered, status: .rollbackFailed, message: "rollback failed: \(rollback.error!)", retryAfter: nil)
    }

    /// Before attempt `attempt` (2, 3, ...): retryDelaySeconds, doubled for each further one.
    public static func retryDelay(for step: Step, nextAttempt attempt: Int) -> Duration {
        let doublings = min(max(attempt - 2, 0), 20)
        return .seconds(min(step.retryDelaySeconds << doublings, 24 * 3600))
    }
}
