import Foundation
import Testing
@testable import OrchestratorModel

/// The rules of approval steps without a daemon: how the planner treats a
/// waiting approval, and what a set of decisions amounts to.
@Suite struct ApprovalRulesTests {
    private let definition = [
        Step(name: "backup", executionOrder: 0, action: Action(exec: ["x"])),
        Step(name: "board", executionOrder: 1, action: Action(exec: []), approval: Approval()),
        Step(name: "probe", executionOrder: 1, action: Action(exec: ["x"])),
        Step(name: "push", executionOrder: 2, action: Action(exec: ["x"])),
    ]

    @Test func aWaitingApprovalHoldsBackLaterGroupsAndIsNotStartedTwice() {
        let d = RunPlanner.decide(definition: definition, states: ["backup": .succeeded, "board": .waitingApproval, "probe": .succeeded], cancelRequested: false)
        #expect(d == RunPlanner.Decision())
    }

    @Test func aCancelOrAFailureEndsAWaitingApproval() {
        let cancelled = RunPlanner.decide(definition: definition, states: ["backup": .succeeded, "board": .waitingApproval, "probe": .running], cancelRequested: true)
        #expect(cancelled.cancel == ["board", "push"])
        #expect(cancelled.outcome == nil)
        let failed = RunPlanner.decide(definition: definition, states: ["backup": .succeeded, "board": .waitingApproval, "probe": .failed], cancelRequested: false)
        #expect(failed == RunPlanner.Decision(skip: ["board", "push"], outcome: .failed))
    }

    private let since = Date(timeIntervalSince1970: 1_800_000_000)

    private func decision(_ uid: UInt32, _ approved: Bool, after seconds: Double = 1) -> ApprovalDecision {
        ApprovalDecision(runId: "r", step: "board", attempt: 1, uid: uid, approved: approved, comment: approved ? "" : "no", at: since.addingTimeInterval(seconds))
    }

    @Test func decisionsAddUpToAVerdict() {
        let two = Approval(approvers: 2, timeoutSeconds: 60)
        let now = since.addingTimeInterval(10)
        #expect(ApprovalVerdict.of(two, decisions: [], waitingSince: since, now: now) == .waiting)
        #expect(ApprovalVerdict.of(two, decisions: [decision(1, true)], waitingSince: since, now: now) == .waiting)
        #expect(ApprovalVerdict.of(two, decisions: [decision(1, true), decision(2, true)], waitingSince: since, now: now) == .approved)
        // One person counts once, however the records came to be.
        #expect(ApprovalVerdict.of(two, decisions: [decision(1, true), decision(1, true, after: 2)], waitingSince: since, now: now) == .waiting)
        // One rejection is enough, even after enough approvals came in the same look.
        #expect(ApprovalVerdict.of(two, decisions: [decision(1, true), decision(2, true), decision(3, false, after: 3)], waitingSince: since, now: now)
            == .rejected(by: 3, comment: "no"))
        #expect(ApprovalVerdict.of(two, decisions: [decision(1, true)], waitingSince: since, now: since.addingTimeInterval(60)) == .timedOut)
        #expect(ApprovalVerdict.of(Approval(), decisions: [], waitingSince: since, now: since.addingTimeInterval(1e7)) == .waiting, "no timeout: waits")
        #expect(ApprovalVerdict.rejected(by: 3, comment: "no").error == "rejected by uid 3: no")
        #expect(ApprovalVerdict.rejected(by: 3, comment: "").error == "rejected by uid 3")
    }

    @Test func approvalStepsAreValidatedAsAWhole() {
        let ok = Step(name: "board", executionOrder: 0, action: Action(exec: []), approval: Approval(approvers: 2, group: "netops-leads", timeoutSeconds: 3600))
        #expect(ok.problems(at: "step").isEmpty)
        let bad = Step(name: "board", executionOrder: 0, action: Action(exec: ["/bin/true"]), timeoutSeconds: 5, locks: ["x"],
                       approval: Approval(approvers: 17, group: "Net Ops", timeoutSeconds: 3_000_000))
        #expect(bad.problems(at: "step").map(\.field) == [
            "step.action", "step.locks", "step.timeoutSeconds", "step.approval.approvers", "step.approval.group", "step.approval.timeoutSeconds",
        ])
        // A step without approval still needs a command.
        #expect(Step(name: "s", executionOrder: 0, action: Action(exec: [])).problems(at: "step").map(\.field) == ["step.action.exec"])
    }
}

/// The order and stopping rule of rollbacks, without a daemon.
@Suite struct RollbackRulesTests {
    private func step(_ name: String, _ order: Int, undo: Bool = true) -> Step {
        Step(name: name, executionOrder: order, action: Action(exec: ["x"]), rollback: undo ? Action(exec: ["undo"]) : nil)
    }

    private var definition: [Step] { [step("backup", 0), step("acl", 1), step("vlan", 1), step("note", 2, undo: false), step("verify", 3)] }

    @Test func aFailedRunRollsBackItsSucceededStepsLastFirstOneAtATime() {
        var states: [String: StepStatus] = ["backup": .succeeded, "acl": .succeeded, "vlan": .succeeded, "note": .succeeded, "verify": .failed]
        var order: [String] = []
        while true {
            let d = RunPlanner.decide(definition: definition, states: states, cancelRequested: false)
            guard d.outcome == nil else {
                #expect(d.outcome == .failed)
                break
            }
            #expect(d.rollback.count == 1)
            guard let next = d.rollback.first else { break }
            order.append(next)
            // While it runs nothing else starts, and the run is not over.
            states[next] = .rollingBack
            #expect(RunPlanner.decide(definition: definition, states: states, cancelRequested: false) == RunPlanner.Decision())
            states[next] = .rolledBack
        }
        #expect(order == ["vlan", "acl", "backup"])
    }

    @Test func aFailedRollbackStopsTheRestAndSuccessRollsNothingBack() {
        let stuck = RunPlanner.decide(
            definition: definition, states: ["backup": .succeeded, "acl": .succeeded, "vlan": .rollbackFailed, "note": .succeeded, "verify": .failed],
            cancelRequested: false)
        #expect(stuck == RunPlanner.Decision(outcome: .failed))
        let fine = RunPlanner.decide(definition: definition, states: Dictionary(uniqueKeysWithValues: definition.map { ($0.name, .succeeded) }), cancelRequested: false)
        #expect(fine == RunPlanner.Decision(outcome: .succeeded))
        // A cancelled run is stopped, not undone.
        let cancelled = RunPlanner.decide(definition: definition, states: ["backup": .succeeded, "acl": .cancelled], cancelRequested: true)
        #expect(cancelled.rollback.isEmpty)
    }
}
