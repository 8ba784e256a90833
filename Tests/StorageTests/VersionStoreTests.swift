import Foundation
import OrchestratorModel
import Testing

/// Every change keeps the definition it replaced, unchangeable, with who
/// made each version; history, old versions and diffs read them back.
@Suite struct VersionStoreTests {
    @Test(arguments: Backend.allCases) func everyChangeKeepsTheVersionItReplaced(_ backend: Backend) async throws {
        try await withWorkflows(backend) { w in
            _ = try await w.service.create(WorkflowDraft(name: "rollout", steps: [step("backup"), step("push", order: 1)]), by: 1000)
            _ = try await w.service.addStep(step("verify", order: 2, "/bin/ping", "-c", "1", "sw1"), to: "rollout", by: 1001)
            _ = try await w.service.updateStep("push", of: "rollout", StepChanges(timeoutSeconds: .some(30)), by: 1000)
            _ = try await w.service.updateStep("verify", of: "rollout", StepChanges(name: "check"), by: 1001)
            _ = try await w.service.updateStep("backup", of: "rollout", StepChanges(executionOrder: 3), by: 1001)
            _ = try await w.service.deleteStep("check", of: "rollout", by: 0)
            let renamed = try await w.service.update("rollout", WorkflowChanges(name: "vlan-rollout", description: "VLAN 120"), by: 1000)
            #expect(renamed.version == 7)
            #expect(renamed.updatedBy == 1000)

            let history = try await w.service.history("vlan-rollout", limit: 100, before: nil)
            #expect(history.items.map(\.version) == [7, 6, 5, 4, 3, 2, 1])
            #expect(history.items.map(\.updatedBy) == [1000, 0, 1001, 1001, 1000, 1001, 1000])
            #expect(history.items.map(\.name) == ["vlan-rollout"] + Array(repeating: "rollout", count: 6))
            #expect(history.items.map(\.changes) == [
                ["name: rollout → vlan-rollout", "description: \"\" → VLAN 120"],
                ["removed step check"],
                ["changed step backup (executionOrder)"],
                ["renamed step verify → check"],
                ["changed step push (timeoutSeconds)"],
                ["added step verify"],
                ["created"],
            ])
            #expect(history.next == nil)

            // An old version is exactly what it was, whoever changed the workflow since.
            let second = try await w.service.get(.name("vlan-rollout"), version: 2)
            #expect(second.name == "rollout")
            #expect(second.version == 2)
            #expect(second.updatedBy == 1001)
            #expect(second.orderedSteps.map(\.name) == ["backup", "push", "verify"])
            #expect(second.steps.first { $0.name == "push" }?.timeoutSeconds == nil)
            #expect(try await w.service.get(.name("vlan-rollout"), version: 7) == renamed)

            // The diff across them all, step by step.
            let diff = try await w.service.diff("vlan-rollout", from: 2, to: nil, draft: nil)
            #expect(diff.from == 2 && diff.to == 7)
            #expect(diff.fields == [
                FieldChange(field: "name", from: "rollout", to: "vlan-rollout"), FieldChange(field: "description", from: "", to: "VLAN 120"),
            ])
            #expect(diff.steps == [
                StepDiff(step: "push", change: .changed, fields: [FieldChange(field: "timeoutSeconds", from: nil, to: "30")]),
                StepDiff(step: "backup", change: .changed, fields: [FieldChange(field: "executionOrder", from: "0", to: "3")]),
                StepDiff(step: "verify", change: .removed),
            ])
            #expect(try await w.service.diff("vlan-rollout", from: 4, to: 4, draft: nil).isEmpty)
        }
    }

    @Test(arguments: Backend.allCases) func historyComesAPageAtATime(_ backend: Backend) async throws {
        try await withWorkflows(backend) { w in
            _ = try await w.service.create(WorkflowDraft(name: "paged"))
            for i in 1...6 { _ = try await w.service.update("paged", WorkflowChanges(description: "d\(i)")) }
            var versions: [Int] = []
            var after: Int?
            repeat {
                let page = try await w.service.history("paged", limit: 3, before: after)
                versions += page.items.map(\.version)
                // Every entry says what it changed, even the last of a page.
                #expect(page.items.allSatisfy { $0.changes.count == 1 })
                after = page.next.flatMap { Int($0) }
            } while after != nil
            #expect(versions == [7, 6, 5, 4, 3, 2, 1])
        }
    }

    /// Concurrent writers that name no version all land, and every version
    /// between is kept: each differs from the one before by one change.
    @Test(arguments: Backend.allCases) func concurrentChangesLoseNoVersion(_ backend: Backend) async throws {
        try await withWorkflows(backend) { w in
            _ = try await w.service.create(WorkflowDraft(name: "busy", steps: (0..<8).map { step("base-\($0)") }))
            try await withThrowingTaskGroup(of: Void.self) { group in
                for i in 0..<8 {
                    group.addTask { _ = try await w.service.addStep(step("added-\(i)", order: i), to: "busy") }
                    group.addTask { _ = try await w.service.updateStep("base-\(i)", of: "busy", StepChanges(retries: i + 1)) }
                }
                try await group.waitForAll()
            }
            let history = try await w.service.history("busy", limit: 100, before: nil)
            #expect(history.items.map(\.version) == Array((1...17).reversed()))
            #expect(history.items.dropLast().allSatisfy { $0.changes.count == 1 }, "\(history.items.map(\.changes))")
            let kept = try await w.store.keptVersions(workflowId: try await w.service.get(.name("busy")).id, before: nil, limit: 100)
            #expect(kept.map(\.version) == Array((1...16).reversed()))
        }
    }

    @Test(arguments: Backend.allCases) func aDraftIsComparedWithTheCurrentVersion(_ backend: Backend) async throws {
        try await withWorkflows(backend) { w in
            _ = try await w.service.create(WorkflowDraft(name: "wf", steps: [step("a"), step("b", order: 1, "/bin/echo", "x y")]))
            let same = try await w.service.diff("wf", from: nil, to: nil, draft: WorkflowDraft(name: "wf", steps: [step("b", order: 1, "/bin/echo", "x y"), step("a")]))
            #expect(same.isEmpty)
            #expect(same.to == nil)
            let changed = try await w.service.diff(
                "wf", from: nil, to: nil, draft: WorkflowDraft(name: "wf", steps: [step("a"), step("b", order: 1, "/bin/echo", "x z"), step("c", order: 2)]))
            #expect(changed.summary == ["changed step b (action.exec)", "added step c"])
            #expect(changed.steps.first?.fields == [FieldChange(field: "action.exec", from: "/bin/echo 'x y'", to: "/bin/echo 'x z'")])
            // Nothing was written.
            #expect(try await w.service.get(.name("wf")).version == 1)
        }
    }

    @Test(arguments: Backend.allCases) func badVersionQuestionsGetClearErrors(_ backend: Backend) async throws {
        try await withWorkflows(backend) { w in
            _ = try await w.service.create(WorkflowDraft(name: "wf"))
            _ = try await w.service.update("wf", WorkflowChanges(description: "x"))
            #expect(await errorOf { try await w.service.get(.name("wf"), version: 0) }?.kind.validationFields == ["version"])
            #expect(await errorOf { try await w.service.get(.name("wf"), version: 3) }?.message.contains("1 to 2") == true)
            #expect(await errorOf { try await w.service.diff("wf", from: 0, to: 9, draft: nil) }?.kind.validationFields == ["from", "to"])
            #expect(await errorOf { try await w.service.diff("wf", from: nil, to: nil, draft: nil) }?.kind.validationFields == ["from"])
            #expect(await errorOf { try await w.service.diff("wf", from: 1, to: nil, draft: WorkflowDraft(name: "wf")) }?.kind.validationFields == ["definition"])
            #expect(await errorOf { try await w.service.diff("wf", from: nil, to: nil, draft: WorkflowDraft(name: "Bad!")) }?.kind.validationFields == ["name"])
            #expect(await errorOf { try await w.service.history("nope", limit: 10, before: nil) }?.kind.isNotFound == true)
            #expect(await errorOf { try await w.service.history("wf", limit: 0, before: 1) }?.kind.validationFields == ["limit", "after"])
            // A stale expected version is refused and keeps nothing new.
            let stale = await errorOf { try await w.service.update("wf", WorkflowChanges(description: "y", expectedVersion: 1)) }
            #expect(stale?.isVersionConflict == true)
            #expect(try await w.service.history("wf", limit: 10, before: nil).items.map(\.version) == [2, 1])
        }
    }

    @Test(arguments: Backend.allCases) func deletingAWorkflowRemovesItsVersions(_ backend: Backend) async throws {
        try await withWorkflows(backend) { w in
            let first = try await w.service.create(WorkflowDraft(name: "gone"))
            _ = try await w.service.update("gone", WorkflowChanges(description: "x"))
            #expect(try await w.store.keptVersions(workflowId: first.id, before: nil, limit: 10).count == 1)
            try await w.service.delete("gone")
            #expect(try await w.store.keptVersions(workflowId: first.id, before: nil, limit: 10).isEmpty)
            // A new workflow of the same name starts a history of its own.
            _ = try await w.service.create(WorkflowDraft(name: "gone"))
            #expect(try await w.service.history("gone", limit: 10, before: nil).items.map(\.changes) == [["created"]])
        }
    }
}
