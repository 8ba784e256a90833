import Foundation
import InMemoryStorage
import MongoStorage
import OrchestratorModel
import OrchestratorStorage
import TestSupport
import Testing

/// Leases as both run stores keep them, judged by the database server's clock.
@Suite struct LeaseTests {
    func withRuns(_ backend: Backend, _ body: (any RunStore, any IdSource) async throws -> Void) async throws {
        switch backend {
        case .memory:
            try await body(InMemoryRunStore(), SequentialIds())
        case .mongodb:
            try await withTestPool { pool in
                let store = MongoRunStore(pool: pool)
                try await store.prepare()
                try await body(store, ObjectIdSource())
            }
        }
    }

    func queuedRun(_ id: String) -> Run {
        let step = Step(name: "push", executionOrder: 0, action: Action(exec: ["/bin/true"]))
        let now = Date().milliseconds
        return Run(
            id: id, workflowId: "000000000000000000000001", workflowName: "wf", workflowVersion: 1, definition: [step], params: [:],
            status: .queued, steps: [RunStep(name: "push", executionOrder: 0)], requestedBy: Requester(uid: 0, gid: 0, pid: 1), createdAt: now,
            events: [RunEvent(sequence: 0, step: nil, status: "queued", at: now)])
    }

    @Test(arguments: Backend.allCases)
    func theServerSaysItsTime(_ backend: Backend) async throws {
        try await withRuns(backend) { runs, _ in
            let server = try await runs.serverTime()
            // The test server runs on this machine, so its clock is this one's.
            #expect(abs(server.timeIntervalSinceNow) < 5)
        }
    }

    /// A renewal answered late (sent before the owner's newer claim) must not
    /// shorten the lease that claim took: peers would take the run over early.
    @Test(arguments: Backend.allCases)
    func aRenewalNeverShortensALease(_ backend: Backend) async throws {
        try await withRuns(backend) { runs, ids in
            let id = ids.next()
            try await runs.createRun(queuedRun(id))
            let now = try await runs.serverTime()
            _ = try #require(try await runs.claim(id: id, owner: "a", until: now.addingTimeInterval(100), now: now))
            let states = try await runs.renew(ids: [id], owner: "a", until: now.addingTimeInterval(10))
            #expect(states[id] == .held(cancelRequested: false))
            #expect(try await runs.claimable(owner: "b", now: now.addingTimeInterval(50), limit: 10).isEmpty)
            #expect(try await runs.claimable(owner: "b", now: now.addingTimeInterval(101), limit: 10) == [id])
            // A renewal that moves it later does.
            _ = try await runs.renew(ids: [id], owner: "a", until: now.addingTimeInterval(200))
            #expect(try await runs.claimable(owner: "b", now: now.addingTimeInterval(150), limit: 10).isEmpty)
        }
    }

    /// Claimable: active runs that are the asker's, nobody's, or whose lease
    /// expired, oldest first, even when many runs held elsewhere come first
    /// (the store judges ownership a page at a time).
    @Test(arguments: Backend.allCases)
    func claimableRunsAreFoundPastManyHeldElsewhere(_ backend: Backend) async throws {
        try await withRuns(backend) { runs, ids in
            let now = try await runs.serverTime()
            var held: [String] = []
            for _ in 0..<270 {
                let id = ids.next()
                try await runs.createRun(queuedRun(id))
                _ = try #require(try await runs.claim(id: id, owner: "a", until: now.addingTimeInterval(100), now: now))
                held.append(id)
            }
            let expired = ids.next()
            try await runs.createRun(queuedRun(expired))
            _ = try #require(try await runs.claim(id: expired, owner: "a", until: now.addingTimeInterval(-1), now: now.addingTimeInterval(-10)))
            let mine = ids.next()
            try await runs.createRun(queuedRun(mine))
            _ = try #require(try await runs.claim(id: mine, owner: "b", until: now.addingTimeInterval(100), now: now))
            let free = (0..<3).map { _ in ids.next() }
            for id in free { try await runs.createRun(queuedRun(id)) }
            let ended = free[2]
            _ = try #require(try await runs.claim(id: ended, owner: "b", until: now.addingTimeInterval(100), now: now))
            #expect(try await runs.cancelIdle(id: ended, eventCount: 1, change: RunChange(status: .cancelled), now: now.addingTimeInterval(200)))

            #expect(try await runs.claimable(owner: "b", now: now, limit: 10) == [expired, mine, free[0], free[1]])
            #expect(try await runs.claimable(owner: "b", now: now, limit: 2) == [expired, mine])
            #expect(try await runs.claimable(owner: "a", now: now, limit: 3) == Array(held.prefix(3)))
        }
    }

    /// Retention: runs that ended before the cut-off go (with their log);
    /// active runs and runs that ended after it stay.
    @Test(arguments: Backend.allCases)
    func endedRunsOlderThanTheRetentionAreRemoved(_ backend: Backend) async throws {
        try await withRuns(backend) { runs, ids in
            let now = try await runs.serverTime()
            func ended(at finished: Date) async throws -> String {
                let id = ids.next()
                try await runs.createRun(queuedRun(id))
                let claimed = try #require(try await runs.claim(id: id, owner: "a", until: now.addingTimeInterval(60), now: now))
                let started = try #require(try await runs.apply(
                    RunChange(status: .running, startedAt: finished, events: [RunEvent(sequence: 1, step: nil, status: "running", at: finished)]),
                    to: id, owner: "a", log: claimed.log))
                _ = try #require(try await runs.apply(
                    RunChange(status: .succeeded, finishedAt: finished, events: [RunEvent(sequence: 2, step: nil, status: "succeeded", at: finished)]),
                    to: id, owner: "a", log: started))
                return id
            }
            let old = try await ended(at: now.addingTimeInterval(-91 * 86400))
            let recent = try await ended(at: now.addingTimeInterval(-89 * 86400))
            let active = ids.next()
            try await runs.createRun(queuedRun(active))
            #expect(try await runs.removeEndedRuns(finishedBefore: now.addingTimeInterval(-90 * 86400), limit: 100) == 1)
            await #expect(throws: OrchestratorError.notFound("run", old)) { try await runs.run(id: old) }
            #expect(try await runs.run(id: recent).status == .succeeded)
            #expect(try await runs.run(id: active).status == .queued)
            #expect(try await runs.removeEndedRuns(finishedBefore: now.addingTimeInterval(-90 * 86400), limit: 100) == 0)
        }
    }

    /// A fleet's members go with the fleet run, never before it, and the
    /// locks of removed runs go with them.
    @Test(arguments: Backend.allCases)
    func aFleetsMembersAreRemovedWithItAndNotBefore(_ backend: Backend) async throws {
        try await withRuns(backend) { runs, ids in
            let now = try await runs.serverTime()
            let cutOff = now.addingTimeInterval(-90 * 86400)
            func ended(at finished: Date, memberOf fleet: String? = nil) async throws -> String {
                let id = ids.next()
                var run = queuedRun(id)
                run.membership = fleet.map { FleetMembership(fleetRunId: $0, target: FleetTarget(name: "sw1", batch: 1, runId: id)) }
                try await runs.createRun(run)
                let claimed = try #require(try await runs.claim(id: id, owner: "a", until: now.addingTimeInterval(60), now: now))
                _ = try #require(try await runs.apply(
                    RunChange(status: .succeeded, startedAt: finished, finishedAt: finished,
                              events: [RunEvent(sequence: 1, step: nil, status: "succeeded", at: finished)]),
                    to: id, owner: "a", log: claimed.log))
                return id
            }
            let fleet = ids.next()
            let member = try await ended(at: now.addingTimeInterval(-95 * 86400), memberOf: fleet)
            #expect(try await runs.acquireLocks(["sw1"], runId: member, holder: .run(incarnation: 0), owner: "a", until: .distantFuture, now: now) == nil)
            // The fleet run itself ended recently: its old member stays.
            var fleetRun = queuedRun(fleet)
            fleetRun.status = .succeeded
            fleetRun.finishedAt = now.addingTimeInterval(-1 * 86400)
            try await runs.createRun(fleetRun)
            #expect(try await runs.removeEndedRuns(finishedBefore: cutOff, limit: 100) == 0)
            #expect(try await runs.run(id: member).status == .succeeded)

            #expect(try await runs.removeEndedRuns(finishedBefore: now, limit: 100) == 2)
            await #expect(throws: OrchestratorError.notFound("run", member)) { try await runs.run(id: member) }
            await #expect(throws: OrchestratorError.notFound("run", fleet)) { try await runs.run(id: fleet) }
            #expect(try await runs.acquireLocks(["sw1"], runId: ids.next(), holder: .run(incarnation: 0), owner: "b", until: .distantFuture, now: now) == nil)
        }
    }
}
