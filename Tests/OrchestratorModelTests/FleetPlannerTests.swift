import Foundation
import OrchestratorModel
import Testing

/// The fleet's decisions from its members' statuses, and what its workflow shows after it.
@Suite struct FleetPlannerTests {
    /// 20 targets in batches of 5, a budget of 10 %.
    private let fleet = Fleet(
        selector: .labels(["site": "ams"]), batchSize: .count(5), maxFailPercentage: 10,
        targets: (0..<20).map { FleetTarget(name: "sw\($0)", batch: $0 / 5 + 1, runId: "r\($0)") })

    private func statuses(_ pairs: [(Int, RunStatus)]) -> [String: RunStatus] {
        Dictionary(uniqueKeysWithValues: pairs.map { ("r\($0.0)", $0.1) })
    }

    @Test func twoBrokenDevicesInTheSecondBatchStopTheThirdAndTheFleetFails() {
        let first = FleetPlanner.decide(fleet, members: [:], cancelRequested: false)
        #expect(first.batch == 1 && first.create.map(\.name) == ["sw0", "sw1", "sw2", "sw3", "sw4"])

        let secondRunning = statuses((0..<5).map { ($0, .succeeded) } + (5..<10).map { ($0, .running) })
        #expect(FleetPlanner.decide(fleet, members: secondRunning, cancelRequested: false).create.isEmpty)

        let secondDone = statuses((0..<8).map { ($0, .succeeded) } + [(8, .failed), (9, .failed)])
        let stopped = FleetPlanner.decide(fleet, members: secondDone, cancelRequested: false)
        #expect(stopped.create.isEmpty)
        #expect(stopped.budgetExceeded?.contains("2 of 10 targets finished so far failed (20%") == true)
        #expect(stopped.outcome == .failed)
    }

    @Test func atTheBudgetExactlyTheNextBatchStillStarts() {
        // 1 of 10 is 10 %: not more than allowed.
        let oneFailed = statuses((0..<9).map { ($0, .succeeded) } + [(9, .failed)])
        let next = FleetPlanner.decide(fleet, members: oneFailed, cancelRequested: false)
        #expect(next.budgetExceeded == nil && next.batch == 3 && next.create.count == 5)
    }

    @Test func theWorkflowShowsSucceededOnlyWhereEveryTargetSucceeded() {
        func member(_ statuses: [StepStatus]) -> Run {
            Run(id: "m", workflowId: "w", workflowName: "wf", workflowVersion: 1, definition: [], params: [:], status: .failed,
                steps: zip(["backup", "push", "verify"], statuses).map { RunStep(name: $0, executionOrder: 0, status: $1) },
                requestedBy: Requester(uid: 0, gid: 0, pid: 1), createdAt: Date())
        }
        let shown = FleetPlanner.shownStatuses(members: [
            member([.succeeded, .succeeded, .succeeded]),
            member([.succeeded, .succeeded, .failed]),
            member([.succeeded, .cancelled, .skipped]),
        ])
        #expect(shown == ["backup": .succeeded, "push": .cancelled, "verify": .failed])
        #expect(FleetPlanner.shownStatuses(members: []).isEmpty)
    }
}
