import Foundation
import OrchestratorModel
import OrchestratorStore
import Testing

@Suite struct WorkflowStoreTests {
    @Test func createdWorkflowCanBeReadByNameAndById() async throws {
        try await withStore { store in
            let created = try await store.createWorkflow(
                WorkflowDraft(name: "backup", description: "nightly", steps: [step("save", "/bin/echo", "hi")]))
            #expect(created.version == 1)
            #expect(created.id.count == 24)
            #expect(created.steps.first?.status == .pending)
            let byName = try await store.workflow(.name("backup"))
            let byId = try await store.workflow(.id(created.id))
            #expect(byName == created)
            #expect(byId == created)
        }
    }

    @Test func aTakenNameIsAConflict() async throws {
        try await withStore { store in
            _ = try await store.createWorkflow(WorkflowDraft(name: "vlan-push"))
            let error = await errorOf { try await store.createWorkflow(WorkflowDraft(name: "vlan-push")) }
            #expect(error?.kind.isConflict == true)
            #expect(error?.message.contains("vlan-push") == true)
        }
    }

    @Test func invalidInputListsEveryProblemAndWritesNothing() async throws {
        try await withStore { store in
            let draft = WorkflowDraft(name: "Bad!", steps: [step("x", order: -3), step("x")])
            let error = await errorOf { try await store.createWorkflow(draft) }
            #expect(error?.kind.validationFields == ["name", "steps[0].executionOrder", "steps[1].name"])
            let page = try await store.listWorkflows(limit: 10, after: nil)
            #expect(page.items.isEmpty)
        }
    }

    @Test func missingWorkflowsAreNotFound() async throws {
        try await withStore { store in
            #expect(await errorOf { try await store.workflow(.name("ghost")) }?.kind == .notFound(resource: "workflow", key: "ghost"))
            #expect(await errorOf { try await store.workflow(.id("0123456789abcdef01234567")) }?.kind.isNotFound == true)
            #expect(await errorOf { try await store.deleteWorkflow(named: "ghost") }?.kind.isNotFound == true)
            #expect(await errorOf { try await store.updateWorkflow(named: "ghost", WorkflowChanges(description: "x")) }?.kind.isNotFound == true)
        }
    }

    @Test func updateReplacesGivenFieldsAndBumpsTheVersion() async throws {
        try await withStore { store in
            let created = try await store.createWorkflow(WorkflowDraft(name: "audit", description: "old", steps: [step("a")]))
            let updated = try await store.updateWorkflow(named: "audit", WorkflowChanges(description: "new"))
            #expect(updated.description == "new")
            #expect(updated.steps == created.steps)
            #expect(updated.version == 2)
            #expect(updated.updatedAt >= created.updatedAt)
            let renamed = try await store.updateWorkflow(named: "audit", WorkflowChanges(name: "audit2", steps: [step("b"), step("c", order: 1)]))
            #expect(renamed.name == "audit2")
            #expect(renamed.steps.map(\.name) == ["b", "c"])
            #expect(renamed.version == 3)
            #expect(renamed.id == created.id)
            #expect(await errorOf { try await store.workflow(.name("audit")) }?.kind.isNotFound == true)
        }
    }

    @Test func aStaleExpectedVersionIsAConflictAndChangesNothing() async throws {
        try await withStore { store in
            _ = try await store.createWorkflow(WorkflowDraft(name: "cfg"))
            _ = try await store.updateWorkflow(named: "cfg", WorkflowChanges(description: "v2", expectedVersion: 1))
            let error = await errorOf { try await store.updateWorkflow(named: "cfg", WorkflowChanges(description: "v3", expectedVersion: 1)) }
            #expect(error?.kind.isConflict == true)
            #expect(error?.details["currentVersion"] == "2")
            #expect(try await store.workflow(.name("cfg")).description == "v2")
        }
    }

    @Test func renamingOntoATakenNameIsAConflict() async throws {
        try await withStore { store in
            _ = try await store.createWorkflow(WorkflowDraft(name: "one"))
            _ = try await store.createWorkflow(WorkflowDraft(name: "two"))
            let error = await errorOf { try await store.updateWorkflow(named: "one", WorkflowChanges(name: "two")) }
            #expect(error?.kind.isConflict == true)
            #expect(try await store.workflow(.name("one")).version == 1)
        }
    }

    @Test func deleteRemovesTheWorkflow() async throws {
        try await withStore { store in
            _ = try await store.createWorkflow(WorkflowDraft(name: "gone"))
            try await store.deleteWorkflow(named: "gone")
            #expect(await errorOf { try await store.workflow(.name("gone")) }?.kind.isNotFound == true)
        }
    }

    @Test func pagesCover2500WorkflowsWithoutDuplicatesOrGaps() async throws {
        try await withStore { store in
            let names = (0..<2500).map { String(format: "wf-%05d", $0) }
            try await withThrowingTaskGroup(of: Void.self) { group in
                // Eight writers at a time: as many as the pool has clients.
                for chunk in stride(from: 0, to: names.count, by: names.count / 8) {
                    let slice = names[chunk..<min(chunk + names.count / 8, names.count)]
                    group.addTask {
                        for name in slice { _ = try await store.createWorkflow(WorkflowDraft(name: name)) }
                    }
                }
                try await group.waitForAll()
            }
            var seen: [String] = []
            var cursor: String? = nil
            var pages = 0
            repeat {
                let page = try await store.listWorkflows(limit: 100, after: cursor)
                #expect(page.items.count <= 100)
                seen += page.items.map(\.name)
                cursor = page.next
                pages += 1
            } while cursor != nil && pages < 100
            #expect(pages == 25)
            #expect(seen == names)
        }
    }

    @Test func pageSizesOutsideTheLimitsAreRefused() async throws {
        try await withStore { store in
            #expect(await errorOf { try await store.listWorkflows(limit: 0, after: nil) }?.kind.validationFields == ["limit"])
            #expect(await errorOf { try await store.listWorkflows(limit: 1001, after: nil) }?.kind.validationFields == ["limit"])
        }
    }
}
