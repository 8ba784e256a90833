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

    /// Before attempt `attempt` (2, 3, ...): retryDelaySeconds, doubled for each further one.
    public static func retryDelay(for step: Step, nextAttempt attempt: Int) -> Duration {
        let doublings = min(max(attempt - 2, 0), 20)
        return .seconds(min(step.retryDelaySeconds << doublings, 24 * 3600))
    }
}
