import Foundation
import InMemoryStorage
import MongoStorage
import OrchestratorModel
import OrchestratorStorage
import TestSupport
import Testing

/// The `locks` collection's rules, the same on MongoDB and in memory: a run
/// never waits for itself, a holder gives back only its own hold, all or
/// none, and a lease that expired frees a lock.
@Suite struct LockStoreTests {
    private let later = Date(timeIntervalSinceNow: 3600)
    /// The end of a run whose first executor held only the whole run's hold.
    private let ended = LockRelease.ended(upTo: [:], incarnation: 0, also: [])

    private func attempt(_ step: String, _ number: Int, _ owner: String = "d1") -> LockHolder {
        .attempt(step: step, number: number, owner: owner)
    }

    @Test(arguments: Backend.allCases)
    func aRunNeverWaitsForItselfAndAnotherRunWaitsUntilEveryHolderIsGone(_ backend: Backend) async throws {
        try await withLocks(backend) { store in
            #expect(try await take(store, ["sw1"], by: "r1", as: attempt("push", 1)) == nil)
            // Another step of the same run shares it.
            #expect(try await take(store, ["sw1"], by: "r1", as: attempt("verify", 1)) == nil)
            let wait = try await take(store, ["sw1"], by: "r2")
            #expect(wait?.lock == "sw1" && wait?.runId == "r1" && wait?.step == "push")

            try await store.releaseLocks(runId: "r1", .holder(attempt("push", 1)))
            #expect(try await take(store, ["sw1"], by: "r2")?.step == "verify")
            try await store.releaseLocks(runId: "r1", .holder(attempt("verify", 1)))
            #expect(try await take(store, ["sw1"], by: "r2") == nil)
            // Held by the whole run now: a waiter is told so (no step).
            let held = try await take(store, ["sw1"], by: "r1", as: attempt("push", 2))
            #expect(held == LockWait(lock: "sw1", runId: "r2", step: nil))
        }
    }

    @Test(arguments: Backend.allCases)
    func aLateGiveBackOfAnEarlierAttemptOrOwnerFreesNothingTakenSince(_ backend: Backend) async throws {
        try await withLocks(backend) { store in
            _ = try await take(store, ["sw1"], by: "r1", as: attempt("push", 1, "d1"))
            try await store.releaseLocks(runId: "r1", .holder(attempt("push", 1, "d1")))
            // The run's new owner starts the step's next attempt …
            _ = try await take(store, ["sw1"], by: "r1", as: attempt("push", 2, "d2"))
            // … and the old owner's give-backs arrive late, for its attempt and for one it never started.
            try await store.releaseLocks(runId: "r1", .holder(attempt("push", 1, "d1")))
            try await store.releaseLocks(runId: "r1", .holder(attempt("push", 2, "d1")))
            #expect(try await take(store, ["sw1"], by: "r2")?.runId == "r1")
        }
    }

    @Test(arguments: Backend.allCases)
    func allOrNoneGivesBackWhatTheCallTookAndKeepsWhatTheRunHeldBefore(_ backend: Backend) async throws {
        try await withLocks(backend) { store in
            _ = try await take(store, ["a"], by: "r2")
            _ = try await take(store, ["c"], by: "r1")
            // r2's step wants a (its own already), b (free) and c (r1's): it waits, holding b nowhere.
            let wait = try await take(store, ["c", "b", "a"], by: "r2", as: attempt("push", 1, "d2"))
            #expect(wait == LockWait(lock: "c", runId: "r1", step: nil))
            #expect(try await take(store, ["b"], by: "r3") == nil)
            #expect(try await take(store, ["a"], by: "r3")?.runId == "r2")
        }
    }

    @Test(arguments: Backend.allCases)
    func aLockWhoseLeaseExpiredIsTakenOver(_ backend: Backend) async throws {
        try await withLocks(backend) { store in
            // One `now` for every call: the stores judge leases by the time they are given, and a slow machine must not change it.
            let now = Date()
            let soon = now.addingTimeInterval(5)
            _ = try await take(store, ["sw1"], by: "r1", until: soon, at: now)
            #expect(try await take(store, ["sw1"], by: "r2", at: now) != nil)
            #expect(try await take(store, ["sw1"], by: "r2", at: soon.addingTimeInterval(1)) == nil)
            #expect(try await take(store, ["sw1"], by: "r3", at: soon.addingTimeInterval(1))?.runId == "r2")
        }
    }

    @Test(arguments: Backend.allCases)
    func leftoversGoAndTheRunsOwnHoldAndTheKeptAttemptsStay(_ backend: Backend) async throws {
        try await withLocks(backend) { store in
            _ = try await take(store, ["a"], by: "r1")
            _ = try await take(store, ["a", "b"], by: "r1", as: attempt("push", 1, "d1"))
            _ = try await take(store, ["c"], by: "r1", as: attempt("verify", 1, "d2"))
            try await store.releaseLocks(
                runId: "r1", .leftovers(upTo: ["push": 1, "verify": 1], keeping: [attempt("verify", 1, "d2").token], incarnation: 0))
            #expect(try await take(store, ["a"], by: "r2")?.step == nil)
            #expect(try await take(store, ["b"], by: "r2") == nil)
            #expect(try await take(store, ["c"], by: "r2")?.step == "verify")

            try await store.releaseLocks(runId: "r1", .ended(upTo: ["push": 1, "verify": 1], incarnation: 0, also: []))
            #expect(try await take(store, ["a", "c"], by: "r2") == nil)
        }
    }

    @Test(arguments: Backend.allCases)
    func theOldestRunWaitingGetsTheLockNextAndAPromiseLapsesWhenItsRunStopsAsking(_ backend: Backend) async throws {
        try await withLocks(backend) { store in
            let now = Date()
            let soon = now.addingTimeInterval(5)
            _ = try await take(store, ["sw1"], by: "r1", at: now)
            // r5 asks first, then r3 (older): r3 is next.
            #expect(try await take(store, ["sw1"], by: "r5", at: now)?.runId == "r1")
            #expect(try await take(store, ["sw1"], by: "r3", until: soon, at: now)?.runId == "r1")
            try await store.releaseLocks(runId: "r1", ended)
            // Given back: promised to r3, so neither r5 nor a newcomer takes it.
            #expect(try await take(store, ["sw1"], by: "r5", at: now) == LockWait(lock: "sw1", runId: "r3"))
            #expect(try await take(store, ["sw1"], by: "r9", at: now)?.runId == "r3")
            // r3 stopped asking (its daemon died): once its promise lapsed, whoever asks takes it.
            let afterwards = soon.addingTimeInterval(1)
            #expect(try await take(store, ["sw1"], by: "r5", at: afterwards) == nil)
            #expect(try await take(store, ["sw1"], by: "r9", at: afterwards)?.runId == "r5")
        }
    }

    @Test(arguments: Backend.allCases)
    func aRunPromisedALockTakesItAndThePromiseGoes(_ backend: Backend) async throws {
        try await withLocks(backend) { store in
            _ = try await take(store, ["sw1"], by: "r5", as: attempt("push", 1))
            #expect(try await take(store, ["sw1"], by: "r2")?.runId == "r5")
            // r5's other step still shares what r5 holds, promise or not.
            #expect(try await take(store, ["sw1"], by: "r5", as: attempt("verify", 1)) == nil)
            try await store.releaseLocks(runId: "r5", .holder(attempt("push", 1)))
            try await store.releaseLocks(runId: "r5", .holder(attempt("verify", 1)))
            // r5 holds it no more: the promise to the older r2 stands against r5 too; a younger run's promise would not.
            #expect(try await take(store, ["sw1"], by: "r5", as: attempt("push", 2)) == LockWait(lock: "sw1", runId: "r2"))
            #expect(try await take(store, ["sw1"], by: "r2") == nil)
            #expect(try await take(store, ["sw1"], by: "r7")?.runId == "r2")
            try await store.releaseLocks(runId: "r2", ended)
            // r7's promise does not hold back the older r5.
            #expect(try await take(store, ["sw1"], by: "r5") == nil)
        }
    }

    @Test(arguments: Backend.allCases)
    func leftoversSentLateSpareTheAttemptsOfTheRunsNewOwner(_ backend: Backend) async throws {
        try await withLocks(backend) { store in
            // d2 knew push at attempt 2; the run's new owner d1 runs attempt 3 when d2's clean-up arrives.
            _ = try await take(store, ["a"], by: "r1", as: attempt("push", 2, "d2"))
            _ = try await take(store, ["a"], by: "r1", as: attempt("push", 3, "d1"))
            try await store.releaseLocks(runId: "r1", .leftovers(upTo: ["push": 2], keeping: [], incarnation: 0))
            #expect(try await take(store, ["a"], by: "r2") == LockWait(lock: "a", runId: "r1", step: "push"))
            try await store.releaseLocks(runId: "r1", .holder(attempt("push", 3, "d1")))
            #expect(try await take(store, ["a"], by: "r2") == nil)
        }
    }

    /// Found by the simulation (seed 3134): a run ended on one daemon and
    /// was resumed on another; the first daemon's give-back at the end,
    /// answered late, took the resumed run's hold of its workflow lock and
    /// let a waiting run in while the resumed run's steps still ran.
    @Test(arguments: Backend.allCases)
    func anEndedRunsLateGiveBackSparesWhatItsNextExecutorTook(_ backend: Backend) async throws {
        try await withLocks(backend) { store in
            _ = try await take(store, ["dev-b"], by: "r1", as: .run(incarnation: 0))
            _ = try await take(store, ["dev-b"], by: "r1", as: attempt("push", 1, "d2"))
            // Resumed, claimed where the log stood at 7: the new executor takes the lock again, and the next attempt.
            _ = try await take(store, ["dev-b"], by: "r1", as: .run(incarnation: 7))
            _ = try await take(store, ["dev-b"], by: "r1", as: attempt("push", 2, "d1"))
            try await store.releaseLocks(runId: "r1", .ended(upTo: ["push": 1], incarnation: 0, also: []))
            #expect(try await take(store, ["dev-b"], by: "r2") == LockWait(lock: "dev-b", runId: "r1", step: nil))
            try await store.releaseLocks(runId: "r1", .holder(attempt("push", 2, "d1")))
            #expect(try await take(store, ["dev-b"], by: "r2") == LockWait(lock: "dev-b", runId: "r1", step: nil))
            // The new executor's own end frees it.
            try await store.releaseLocks(runId: "r1", .ended(upTo: ["push": 2], incarnation: 7, also: []))
            #expect(try await take(store, ["dev-b"], by: "r2") == nil)
        }
    }

    @Test(arguments: Backend.allCases)
    func leftoversDropEarlierExecutorsWholeRunHoldsAndKeepTheSendersOwn(_ backend: Backend) async throws {
        try await withLocks(backend) { store in
            // Holds of an earlier executor (3), of the sender (9) and of a later executor (12).
            _ = try await store.acquireLocks(["a"], runId: "r1", holder: .run(incarnation: 3), owner: "d2", until: later, now: .now)
            _ = try await take(store, ["b"], by: "r1", as: .run(incarnation: 9))
            _ = try await take(store, ["a", "b"], by: "r1", as: .run(incarnation: 12))
            try await store.releaseLocks(runId: "r1", .leftovers(upTo: [:], keeping: [], incarnation: 9))
            // a: incarnation 3 went, 12 (later than the sender) stays.
            #expect(try await take(store, ["a"], by: "r2") == LockWait(lock: "a", runId: "r1", step: nil))
            try await store.releaseLocks(runId: "r1", .holder(.run(incarnation: 12)))
            #expect(try await take(store, ["a"], by: "r2") == nil)
            // b: the sender's own stays.
            #expect(try await take(store, ["b"], by: "r2") == LockWait(lock: "b", runId: "r1", step: nil))
            try await store.releaseLocks(runId: "r1", .holder(.run(incarnation: 9)))
            #expect(try await take(store, ["b"], by: "r2") == nil)
        }
    }

    @Test func aTokenWrittenBeforeIncarnationsIsTheOldestWholeRunHold() {
        #expect(LockRelease.leftovers(upTo: [:], keeping: [], incarnation: 0).drops("@run"))
        #expect(!LockRelease.leftovers(upTo: [:], keeping: [], incarnation: 0).drops(LockHolder.run(incarnation: 0).token))
        #expect(LockHolder.step(of: "@run") == nil && LockHolder.step(of: "@run#4") == nil)
        #expect(LockHolder.wait(for: "a", runId: "r1", tokens: ["push#1@d1", "@run"]).step == nil)
    }

    /// Asks for `names` for run `runId` (its own hold unless `holder` says otherwise), its lease until `until`, at `now`.
    private func take(
        _ store: any RunStore, _ names: [String], by runId: String, as holder: LockHolder = .run(incarnation: 0), until: Date? = nil, at now: Date = .now
    ) async throws -> LockWait? {
        try await store.acquireLocks(names, runId: runId, holder: holder, owner: "daemon", until: until ?? later, now: now)
    }

    private func withLocks(_ backend: Backend, _ body: (any RunStore) async throws -> Void) async throws {
        switch backend {
        case .memory:
            try await body(InMemoryRunStore())
        case .mongodb:
            try await withTestPool { pool in
                let store = MongoRunStore(pool: pool)
                try await store.prepare()
                try await body(store)
            }
        }
    }
}
