import Foundation
import OrchestratorModel
import OrchestratorStore
import Testing

@Suite struct StepStoreTests {
    @Test func stepsAreAddedReadListedUpdatedAndDeleted() async throws {
        try await withStore { store in
            _ = try await store.createWorkflow(WorkflowDraft(name: "rollout"))
            _ = try await store.addStep(step("verify", order: 2, "/bin/true"), toWorkflow: "rollout")
            _ = try await store.addStep(step("push", order: 1, "/bin/echo", "vlan 100"), toWorkflow: "rollout")
            let afterAdds = try await store.addStep(step("backup", order: 1), toWorkflow: "rollout")
            #expect(afterAdds.version == 4)

            let listed = try await store.steps(inWorkflow: "rollout")
            #expect(listed.map(\.name) == ["backup", "push", "verify"])
            #expect(try await store.step(named: "push", inWorkflow: "rollout").action.exec == ["/bin/echo", "vlan 100"])

            _ = try await store.updateStep(named: "verify", inWorkflow: "rollout", StepChanges(timeoutSeconds: .some(30), retries: 3))
            let updated = try await store.updateStep(
                named: "verify", inWorkflow: "rollout",
                StepChanges(name: "check", executionOrder: 0, action: Action(exec: ["/bin/ping", "-c", "1", "{{params.host}}"], env: ["A": "1"], cwd: "/tmp")))
            let check = try #require(updated.steps.first { $0.name == "check" })
            #expect(check.executionOrder == 0)
            #expect(check.retries == 3)
            #expect(check.timeoutSeconds == 30)
            #expect(check.action == Action(exec: ["/bin/ping", "-c", "1", "{{params.host}}"], env: ["A": "1"], cwd: "/tmp"))
            #expect(updated.version == 6)

            let untimed = try await store.updateStep(named: "check", inWorkflow: "rollout", StepChanges(name: "verify", timeoutSeconds: .some(nil)))
            #expect(untimed.steps.first { $0.name == "verify" }?.timeoutSeconds == nil)
            _ = try await store.updateStep(named: "verify", inWorkflow: "rollout", StepChanges(name: "check"))

            let afterDelete = try await store.deleteStep(named: "push", fromWorkflow: "rollout")
            #expect(afterDelete.orderedSteps.map(\.name) == ["check", "backup"])
        }
    }

    @Test func stepErrorsSayWhatIsWrong() async throws {
        try await withStore { store in
            _ = try await store.createWorkflow(WorkflowDraft(name: "wf", steps: [step("a"), step("b")]))
            #expect(await errorOf { try await store.addStep(step("a"), toWorkflow: "wf") }?.kind.isConflict == true)
            #expect(await errorOf { try await store.addStep(step("a"), toWorkflow: "nope") }?.kind == .notFound(resource: "workflow", key: "nope"))
            #expect(await errorOf { try await store.step(named: "zz", inWorkflow: "wf") }?.kind == .notFound(resource: "step", key: "wf/zz"))
            #expect(await errorOf { try await store.updateStep(named: "zz", inWorkflow: "wf", StepChanges(retries: 1)) }?.kind.isNotFound == true)
            #expect(await errorOf { try await store.updateStep(named: "a", inWorkflow: "wf", StepChanges(name: "b")) }?.kind.isConflict == true)
            #expect(await errorOf { try await store.deleteStep(named: "zz", fromWorkflow: "wf") }?.kind.isNotFound == true)
            let invalid = await errorOf { try await store.addStep(Step(name: "BAD", executionOrder: -1, action: Action(exec: [])), toWorkflow: "wf") }
            #expect(invalid?.kind.validationFields == ["step.name", "step.executionOrder", "step.action.exec"])
            // None of the refused changes moved the version.
            #expect(try await store.workflow(.name("wf")).version == 1)
        }
    }

    @Test func twentyConcurrentWritersToOneWorkflowAllLand() async throws {
        try await withStore { store in
            _ = try await store.createWorkflow(WorkflowDraft(name: "busy", steps: (0..<20).map { step("base-\($0)") }))
            try await withThrowingTaskGroup(of: Void.self) { group in
                for i in 0..<20 {
                    group.addTask { _ = try await store.addStep(step("added-\(i)", order: i), toWorkflow: "busy") }
                    group.addTask { _ = try await store.updateStep(named: "base-\(i)", inWorkflow: "busy", StepChanges(retries: i)) }
                }
                try await group.waitForAll()
            }
            let final = try await store.workflow(.name("busy"))
            #expect(final.steps.count == 40)
            #expect(Set(final.steps.map(\.name)) == Set((0..<20).flatMap { ["base-\($0)", "added-\($0)"] }))
            for i in 0..<20 {
                #expect(final.steps.first { $0.name == "base-\(i)" }?.retries == i)
            }
            #expect(final.version == 41)
        }
    }

    @Test func aWorkflowShowsItsLatestRunsStepStatuses() async throws {
        try await withStore { store in
            let names = (0..<12).map { "s\($0)" }
            let workflow = try await store.createWorkflow(WorkflowDraft(name: "shown", steps: names.map { step($0) }))
            try await store.markLatestRun(workflowId: workflow.id, runId: "run-2")
            let statuses: [String: StepStatus] = [
                "s0": .succeeded, "s1": .succeeded, "s2": .failed, "s3": .running, "s4": .succeeded, "s5": .skipped, "s6": .timedOut,
            ]
            try await store.recordStepStatuses(workflowId: workflow.id, runId: "run-2", statuses)
            // An older run's late write changes nothing.
            try await store.recordStepStatuses(workflowId: workflow.id, runId: "run-1", ["s7": .failed, "s0": .failed])
            let shown = try await store.workflow(.name("shown")).steps
            for step in shown {
                #expect(step.status == statuses[step.name] ?? .pending, "\(step.name)")
            }
        }
    }
}
