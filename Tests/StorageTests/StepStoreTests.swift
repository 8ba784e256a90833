import Foundation
import OrchestratorModel
import Testing

@Suite struct StepStoreTests {
    @Test(arguments: Backend.allCases) func stepsAreAddedReadListedUpdatedAndDeleted(_ backend: Backend) async throws {
        try await withWorkflows(backend) { w in
            _ = try await w.service.create(WorkflowDraft(name: "rollout"))
            _ = try await w.service.addStep(step("verify", order: 2, "/bin/true"), to: "rollout")
            _ = try await w.service.addStep(step("push", order: 1, "/bin/echo", "vlan 100"), to: "rollout")
            let afterAdds = try await w.service.addStep(step("backup", order: 1), to: "rollout")
            #expect(afterAdds.version == 4)

            let listed = try await w.service.steps(of: "rollout")
            #expect(listed.map(\.name) == ["backup", "push", "verify"])
            #expect(try await w.service.step("push", of: "rollout").action.exec == ["/bin/echo", "vlan 100"])

            _ = try await w.service.updateStep("verify", of: "rollout", StepChanges(timeoutSeconds: .some(30), retries: 3))
            let updated = try await w.service.updateStep("verify", of: "rollout",
                StepChanges(name: "check", executionOrder: 0, action: Action(exec: ["/bin/ping", "-c", "1", "{{params.host}}"], env: ["A": "1"], cwd: "/tmp")))
            let check = try #require(updated.steps.first { $0.name == "check" })
            #expect(check.executionOrder == 0)
            #expect(check.retries == 3)
            #expect(check.timeoutSeconds == 30)
            #expect(check.action == Action(exec: ["/bin/ping", "-c", "1", "{{params.host}}"], env: ["A": "1"], cwd: "/tmp"))
            #expect(updated.version == 6)

            let untimed = try await w.service.updateStep("check", of: "rollout", StepChanges(name: "verify", timeoutSeconds: .some(nil)))
            #expect(untimed.steps.first { $0.name == "verify" }?.timeoutSeconds == nil)
            _ = try await w.service.updateStep("verify", of: "rollout", StepChanges(name: "check"))

            let afterDelete = try await w.service.deleteStep("push", of: "rollout")
            #expect(afterDelete.orderedSteps.map(\.name) == ["check", "backup"])
        }
    }

    @Test(arguments: Backend.allCases) func stepErrorsSayWhatIsWrong(_ backend: Backend) async throws {
        try await withWorkflows(backend) { w in
            _ = try await w.service.create(WorkflowDraft(name: "wf", steps: [step("a"), step("b")]))
            #expect(await errorOf { try await w.service.addStep(step("a"), to: "wf") }?.kind.isConflict == true)
            #expect(await errorOf { try await w.service.addStep(step("a"), to: "nope") }?.kind == .notFound(resource: "workflow", key: "nope"))
            #expect(await errorOf { try await w.service.step("zz", of: "wf") }?.kind == .notFound(resource: "step", key: "wf/zz"))
            #expect(await errorOf { try await w.service.updateStep("zz", of: "wf", StepChanges(retries: 1)) }?.kind.isNotFound == true)
            #expect(await errorOf { try await w.service.updateStep("a", of: "wf", StepChanges(name: "b")) }?.kind.isConflict == true)
            #expect(await errorOf { try await w.service.deleteStep("zz", of: "wf") }?.kind.isNotFound == true)
            let invalid = await errorOf { try await w.service.addStep(Step(name: "BAD", executionOrder: -1, action: Action(exec: [])), to: "wf") }
            #expect(invalid?.kind.validationFields == ["step.name", "step.executionOrder", "step.action.exec"])
            // None of the refused changes moved the version.
            #expect(try await w.service.get(.name("wf")).version == 1)
        }
    }

    @Test(arguments: Backend.allCases) func twentyConcurrentWritersToOneWorkflowAllLand(_ backend: Backend) async throws {
        try await withWorkflows(backend) { w in
            _ = try await w.service.create(WorkflowDraft(name: "busy", steps: (0..<20).map { step("base-\($0)") }))
            try await withThrowingTaskGroup(of: Void.self) { group in
                for i in 0..<20 {
                    group.addTask { _ = try await w.service.addStep(step("added-\(i)", order: i), to: "busy") }
                    group.addTask { _ = try await w.service.updateStep("base-\(i)", of: "busy", StepChanges(retries: i)) }
                }
                try await group.waitForAll()
            }
            let final = try await w.service.get(.name("busy"))
            #expect(final.steps.count == 40)
            #expect(Set(final.steps.map(\.name)) == Set((0..<20).flatMap { ["base-\($0)", "added-\($0)"] }))
            for i in 0..<20 {
                #expect(final.steps.first { $0.name == "base-\(i)" }?.retries == i)
            }
            #expect(final.version == 41)
        }
    }

    @Test(arguments: Backend.allCases) func aWorkflowShowsItsLatestRunsStepStatuses(_ backend: Backend) async throws {
        try await withWorkflows(backend) { w in
            let names = (0..<12).map { "s\($0)" }
            let workflow = try await w.service.create(WorkflowDraft(name: "shown", steps: names.map { step($0) }))
            try await w.store.markLatestRun(workflowId: workflow.id, runId: "run-2")
            // A mark that arrives late, for an older run, neither resets the statuses nor takes them over.
            try await w.store.recordStepStatuses(workflowId: workflow.id, runId: "run-2", ["s8": .succeeded])
            try await w.store.markLatestRun(workflowId: workflow.id, runId: "run-1")
            #expect(try await w.service.get(.name("shown")).steps.first { $0.name == "s8" }?.status == .succeeded)
            try await w.store.recordStepStatuses(workflowId: workflow.id, runId: "run-2", ["s8": .pending])
            let statuses: [String: StepStatus] = [
                "s0": .succeeded, "s1": .succeeded, "s2": .failed, "s3": .running, "s4": .succeeded, "s5": .skipped, "s6": .timedOut,
            ]
            try await w.store.recordStepStatuses(workflowId: workflow.id, runId: "run-2", statuses)
            // An older run's late write changes nothing.
            try await w.store.recordStepStatuses(workflowId: workflow.id, runId: "run-1", ["s7": .failed, "s0": .failed])
            let shown = try await w.service.get(.name("shown")).steps
            for step in shown {
                #expect(step.status == statuses[step.name] ?? .pending, "\(step.name)")
            }
            // A newer run's mark shows its first statuses, every other step pending; an older run's then changes nothing.
            try await w.store.markLatestRun(workflowId: workflow.id, runId: "run-3", showing: ["s9": .running, "s10": .running, "s0": .skipped])
            try await w.store.markLatestRun(workflowId: workflow.id, runId: "run-2", showing: ["s1": .failed])
            let marked = try await w.service.get(.name("shown")).steps
            for step in marked {
                #expect(step.status == ["s9": .running, "s10": .running, "s0": .skipped][step.name] ?? .pending, "\(step.name)")
            }
        }
    }
}
