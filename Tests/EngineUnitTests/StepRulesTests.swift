import Foundation
import OrchestratorEngine
import OrchestratorModel
import Testing

/// How an attempt's end maps to its step's status, error and retry: no
/// process and no database, just the rules.
@Suite struct StepRulesTests {
    let at = Date(timeIntervalSince1970: 1_800_000_000)

    func step(retries: Int = 0, delay: Int = 2, timeout: Int? = nil, idempotent: Bool = false) -> Step {
        Step(name: "push", executionOrder: 0, action: Action(exec: ["/bin/true"]), timeoutSeconds: timeout, retries: retries,
             retryDelaySeconds: delay, idempotent: idempotent)
    }

    func running(attempt: Int) -> RunStep {
        RunStep(name: "push", executionOrder: 0, status: .running, attempts: attempt, startedAt: at)
    }

    @Test func aZeroExitSucceedsAndKeepsTheOutput() {
        let verdict = StepRules.judge(ProcessOutcome(ending: .exited(0), stdout: "done\n"), of: step(), record: running(attempt: 1), cancelRequested: false, at: at)
        #expect(verdict.record.status == .succeeded)
        #expect(verdict.record.exitCode == 0)
        #expect(verdict.record.error == nil)
        #expect(verdict.record.stdout == "done\n")
        #expect(verdict.record.finishedAt == at)
        #expect(verdict.retryAfter == nil)
    }

    @Test func aFailureWithoutRetriesLeftFailsTheStep() {
        let verdict = StepRules.judge(ProcessOutcome(ending: .exited(3)), of: step(retries: 1), record: running(attempt: 2), cancelRequested: false, at: at)
        #expect(verdict.record.status == .failed)
        #expect(verdict.record.exitCode == 3)
        #expect(verdict.message == "exited with status 3")
        #expect(verdict.retryAfter == nil)
    }

    @Test func aFailureWithRetriesLeftWaitsADelayThatDoubles() {
        let first = StepRules.judge(ProcessOutcome(ending: .exited(1)), of: step(retries: 3, delay: 2), record: running(attempt: 1), cancelRequested: false, at: at)
        #expect(first.record.status == .pending)
        #expect(first.status == .failed)
        #expect(first.retryAfter == .seconds(2))
        #expect(first.message == "exited with status 1; will retry in 2s")
        let third = StepRules.judge(ProcessOutcome(ending: .exited(1)), of: step(retries: 3, delay: 2), record: running(attempt: 3), cancelRequested: false, at: at)
        #expect(third.retryAfter == .seconds(8))
    }

    @Test func aTimeoutIsTimedOutAndRetriedLikeAFailure() {
        let verdict = StepRules.judge(
            ProcessOutcome(ending: .signalled(15), timedOut: true), of: step(retries: 1, timeout: 30), record: running(attempt: 1), cancelRequested: false, at: at)
        #expect(verdict.status == .timedOut)
        #expect(verdict.record.status == .pending)
        #expect(verdict.record.exitCode == 128 + 15)
        #expect(verdict.message == "timed out after 30s; will retry in 2s")
    }

    @Test func aTerminatedStepIsCancelledAndNotRetriedWhileTheRunIsCancelled() {
        let verdict = StepRules.judge(
            ProcessOutcome(ending: .signalled(15), terminated: true), of: step(retries: 5), record: running(attempt: 1), cancelRequested: true, at: at)
        #expect(verdict.record.status == .cancelled)
        #expect(verdict.record.error == "cancelled")
        #expect(verdict.retryAfter == nil)
    }

    @Test func aStepThatSucceededAsItWasTerminatedStaysSucceeded() {
        let verdict = StepRules.judge(
            ProcessOutcome(ending: .exited(0), terminated: true), of: step(), record: running(attempt: 1), cancelRequested: true, at: at)
        #expect(verdict.record.status == .succeeded)
    }

    @Test func aProgramThatCouldNotStartFailsWithTheReason() {
        let verdict = StepRules.judge(
            ProcessOutcome(ending: .notStarted("cannot start /nope: No such file or directory")), of: step(), record: running(attempt: 1), cancelRequested: false, at: at)
        #expect(verdict.record.status == .failed)
        #expect(verdict.record.exitCode == nil)
        #expect(verdict.message == "cannot start /nope: No such file or directory")
    }

    @Test func anInterruptedIdempotentStepRunsAgainWhileAttemptsAreLeft() {
        let again = StepRules.recover(running(attempt: 1), of: step(retries: 0, idempotent: true), at: at)
        #expect(again.status == .interrupted)
        #expect(again.record.status == .pending)
        #expect(again.retryAfter == .zero)
        // An interruption may use one attempt beyond retries + 1, not two.
        let spent = StepRules.recover(running(attempt: 2), of: step(retries: 0, idempotent: true), at: at)
        #expect(spent.record.status == .interrupted)
    }

    @Test func anInterruptedStepThatIsNotIdempotentStaysInterrupted() {
        let verdict = StepRules.recover(running(attempt: 1), of: step(retries: 3), at: at)
        #expect(verdict.record.status == .interrupted)
        #expect(verdict.record.error == "interrupted: the daemon running it stopped")
        #expect(verdict.retryAfter == nil)
    }

    // MARK: Rollbacks

    func rollingBack() -> RunStep {
        RunStep(
            name: "push", executionOrder: 0, status: .rollingBack, attempts: 2, exitCode: 0, startedAt: at, finishedAt: at, stdout: "pushed\n",
            rollback: RollbackRecord(startedAt: at))
    }

    @Test func aRollbackEndsRolledBackOrFailedAndTheStepKeepsWhatItDid() {
        let undone = StepRules.judgeRollback(ProcessOutcome(ending: .exited(0), stdout: "restored\n"), of: step(retries: 3), record: rollingBack(), at: at)
        #expect(undone.record.status == .rolledBack)
        #expect(undone.record.stdout == "pushed\n")
        #expect(undone.record.exitCode == 0)
        #expect(undone.record.rollback == RollbackRecord(startedAt: at, finishedAt: at, exitCode: 0, stdout: "restored\n"))
        #expect(undone.retryAfter == nil)
        let failed = StepRules.judgeRollback(ProcessOutcome(ending: .exited(4)), of: step(retries: 3), record: rollingBack(), at: at)
        #expect(failed.record.status == .rollbackFailed)
        #expect(failed.record.rollback?.error == "exited with status 4")
        #expect(failed.retryAfter == nil, "a rollback is never retried")
        let slow = StepRules.judgeRollback(ProcessOutcome(ending: .signalled(9), timedOut: true), of: step(timeout: 5), record: rollingBack(), at: at)
        #expect(slow.record.rollback?.error == "timed out after 5s")
    }

    @Test func anInterruptedRollbackRunsAgainOnlyForAnIdempotentStep() {
        let again = StepRules.recoverRollback(rollingBack(), of: step(idempotent: true), at: at)
        #expect(again.record.status == .succeeded)
        #expect(again.record.rollback == nil)
        let stuck = StepRules.recoverRollback(rollingBack(), of: step(), at: at)
        #expect(stuck.record.status == .rollbackFailed)
        #expect(stuck.record.rollback?.error == "interrupted: the daemon running it stopped")
    }
}
