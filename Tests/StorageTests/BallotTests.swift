import Foundation
import InMemoryStorage
import MongoStorage
import OrchestratorModel
import OrchestratorStorage
import TestSupport
import Testing

/// An approval step's ballot, on both stores: one decision per person per
/// attempt, and none taken once the engine closed it to settle the step,
/// so a decision acknowledged is a decision counted.
@Suite struct BallotTests {
    func withRuns(_ backend: Backend, _ body: (any RunStore) async throws -> Void) async throws {
        switch backend {
        case .memory: try await body(InMemoryRunStore())
        case .mongodb:
            try await withTestPool { pool in
                let store = MongoRunStore(pool: pool)
                try await store.prepare()
                try await body(store)
            }
        }
    }

    private func decision(_ uid: UInt32, _ approved: Bool = true, attempt: Int = 1, at seconds: Double = 0) -> ApprovalDecision {
        ApprovalDecision(
            runId: "65a1b2c3d4e5f60718293a4b", step: "board", attempt: attempt, uid: uid, approved: approved, comment: "c\(uid)",
            at: Date(timeIntervalSince1970: 1_800_000_000 + seconds))
    }

    @Test(arguments: Backend.allCases) func aClosedBallotTakesNoMoreDecisions(_ backend: Backend) async throws {
        try await withRuns(backend) { store in
            try await store.recordDecision(decision(1000, at: 1))
            try await store.recordDecision(decision(1001, false, at: 2))
            let twice = await errorOf { try await store.recordDecision(decision(1000, at: 3)) }
            #expect(twice?.message.contains("has decided on step 'board'") == true, "\(String(describing: twice))")
            #expect(try await store.decisions(runId: "65a1b2c3d4e5f60718293a4b").map(\.uid) == [1000, 1001])

            let final = try await store.closeBallot(runId: "65a1b2c3d4e5f60718293a4b", step: "board", attempt: 1)
            #expect(final == [decision(1000, at: 1), decision(1001, false, at: 2)])
            let late = await errorOf { try await store.recordDecision(decision(1002, at: 4)) }
            #expect(late?.kind == .conflict)
            #expect(late?.message.contains("was settled before this decision arrived") == true, "\(String(describing: late))")
            #expect(try await store.closeBallot(runId: "65a1b2c3d4e5f60718293a4b", step: "board", attempt: 1) == final, "closing twice changes nothing")

            // The next attempt (after a resume) has a ballot of its own; closing one nobody voted in keeps it closed.
            try await store.recordDecision(decision(1000, attempt: 2, at: 5))
            #expect(try await store.closeBallot(runId: "65a1b2c3d4e5f60718293a4b", step: "other", attempt: 1).isEmpty)
            #expect(await errorOf {
                try await store.recordDecision(ApprovalDecision(
                    runId: "65a1b2c3d4e5f60718293a4b", step: "other", attempt: 1, uid: 7, approved: true, comment: "", at: Date()))
            }?.kind == .conflict)
            #expect(try await store.decisions(runId: "65a1b2c3d4e5f60718293a4b").count == 3)
        }
    }
}
