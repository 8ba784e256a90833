import Foundation
import OrchestratorModel
import Testing

@Suite struct WorkflowStoreTests {
    @Test(arguments: Backend.allCases) func createdWorkflowCanBeReadByNameAndById(_ backend: Backend) async throws {
        try await withWorkflows(backend) { w in
            let created = try await w.service.create(
                WorkflowDraft(name: "backup", description: "nightly", steps: [step("save", "/bin/echo", "hi")]))
            #expect(created.version == 1)
            #expect(created.id.count == 24)
            #expect(created.steps.first?.status == .pending)
            let byName = try await w.service.get(.name("backup"))
            let byId = try await w.service.get(.id(created.id))
            #expect(byName == created)
            #expect(byId == created)
        }
    }

    @Test(arguments: Backend.allCases) func aTakenNameIsAConflict(_ backend: Backend) async throws {
        try await withWorkflows(backend) { w in
            _ = try await w.service.create(WorkflowDraft(name: "vlan-push"))
            let error = await errorOf { try await w.service.create(WorkflowDraft(name: "vlan-push")) }
            #expect(error?.kind.isConflict == true)
            #expect(error?.message.contains("vlan-push") == true)
        }
    }

    @Test(arguments: Backend.allCases) func invalidInputListsEveryProblemAndWritesNothing(_ backend: Backend) async throws {
        try await withWorkflows(backend) { w in
            let draft = WorkflowDraft(name: "Bad!", steps: [step("x", order: -3), step("x")])
            let error = await errorOf { try await w.service.create(draft) }
            #expect(error?.kind.validationFields == ["name", "steps[0].executionOrder", "steps[1].name"])
            let page = try await w.service.list(limit: 10, after: nil)
            #expect(page.items.isEmpty)
        }
    }

    @Test(arguments: Backend.allCases) func missingWorkflowsAreNotFound(_ backend: Backend) async throws {
        try await withWorkflows(backend) { w in
            #expect(await errorOf { try await w.service.get(.name("ghost")) }?.kind == .notFound(resource: "workflow", key: "ghost"))
            #expect(await errorOf { try await w.service.get(.id("0123456789abcdef01234567")) }?.kind.isNotFound == true)
            #expect(await errorOf { try await w.service.delete("ghost") }?.kind.isNotFound == true)
            #expect(await errorOf { try await w.service.update("ghost", WorkflowChanges(description: "x")) }?.kind.isNotFound == true)
        }
    }

    @Test(arguments: Backend.allCases) func updateReplacesGivenFieldsAndBumpsTheVersion(_ backend: Backend) async throws {
        try await withWorkflows(backend) { w in
            let created = try await w.service.create(WorkflowDraft(name: "audit", description: "old", steps: [step("a")]))
            let updated = try await w.service.update("audit", WorkflowChanges(description: "new"))
            #expect(updated.description == "new")
            #expect(updated.steps == created.steps)
            #expect(updated.version == 2)
            #expect(updated.updatedAt >= created.updatedAt)
            let renamed = try await w.service.update("audit", WorkflowChanges(name: "audit2", steps: [step("b"), step("c", order: 1)]))
            #expect(renamed.name == "audit2")
            #expect(renamed.steps.map(\.name) == ["b", "c"])
            #expect(renamed.version == 3)
            #expect(renamed.id == created.id)
            #expect(await errorOf { try await w.service.get(.name("audit")) }?.kind.isNotFound == true)
        }
    }

    @Test(arguments: Backend.allCases) func aStaleExpectedVersionIsAConflictAndChangesNothing(_ backend: Backend) async throws {
        try await withWorkflows(backend) { w in
            _ = try await w.service.create(WorkflowDraft(name: "cfg"))
            _ = try await w.service.update("cfg", WorkflowChanges(description: "v2", expectedVersion: 1))
            let error = await errorOf { try await w.service.update("cfg", WorkflowChanges(description: "v3", expectedVersion: 1)) }
            #expect(error?.kind.isConflict == true)
            #expect(error?.details["currentVersion"] == "2")
            #expect(try await w.service.get(.name("cfg")).description == "v2")
        }
    }

    @Test(arguments: Backend.allCases) func renamingOntoATakenNameIsAConflict(_ backend: Backend) async throws {
        try await withWorkflows(backend) { w in
            _ = try await w.service.create(WorkflowDraft(name: "one"))
            _ = try await w.service.create(WorkflowDraft(name: "two"))
            let error = await errorOf { try await w.service.update("one", WorkflowChanges(name: "two")) }
            #expect(error?.kind.isConflict == true)
            #expect(try await w.service.get(.name("one")).version == 1)
        }
    }

    @Test(arguments: Backend.allCases) func deleteRemovesTheWorkflow(_ backend: Backend) async throws {
        try await withWorkflows(backend) { w in
            _ = try await w.service.create(WorkflowDraft(name: "gone"))
            try await w.service.delete("gone")
            #expect(await errorOf { try await w.service.get(.name("gone")) }?.kind.isNotFound == true)
        }
    }

    @Test(arguments: Backend.allCases) func pagesCover2500WorkflowsWithoutDuplicatesOrGaps(_ backend: Backend) async throws {
        try await withWorkflows(backend) { w in
            let names = (0..<2500).map { String(format: "wf-%05d", $0) }
            try await withThrowingTaskGroup(of: Void.self) { group in
                // Eight writers at a time: as many as the pool has clients.
                for chunk in stride(from: 0, to: names.count, by: names.count / 8) {
                    let slice = names[chunk..<min(chunk + names.count / 8, names.count)]
                    group.addTask {
                        for name in slice { _ = try await w.service.create(WorkflowDraft(name: name)) }
                    }
                }
                try await group.waitForAll()
            }
            var seen: [String] = []
            var cursor: String? = nil
            var pages = 0
            repeat {
                let page = try await w.service.list(limit: 100, after: cursor)
                #expect(page.items.count <= 100)
                seen += page.items.map(\.name)
                cursor = page.next
                pages += 1
            } while cursor != nil && pages < 100
            #expect(pages == 25)
            #expect(seen == names)
        }
    }

    @Test(arguments: Backend.allCases) func pageSizesOutsideTheLimitsAreRefused(_ backend: Backend) async throws {
        try await withWorkflows(backend) { w in
            #expect(await errorOf { try await w.service.list(limit: 0, after: nil) }?.kind.validationFields == ["limit"])
            #expect(await errorOf { try await w.service.list(limit: 1001, after: nil) }?.kind.validationFields == ["limit"])
        }
    }
}
