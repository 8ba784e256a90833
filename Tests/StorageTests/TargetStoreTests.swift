import Foundation
import InMemoryStorage
import Logging
import MongoStorage
import OrchestratorEngine
import OrchestratorModel
import OrchestratorServices
import OrchestratorStorage
import TestSupport
import Testing

/// The target service over a store of `backend` (MongoDB: a fresh database of the shared test server).
func withTargets<T>(_ backend: Backend, _ body: (TargetService) async throws -> T) async throws -> T {
    func make(_ store: any TargetStore, _ ids: any IdSource) -> TargetService {
        TargetService(targets: store, ids: ids, clock: SystemClock(), logger: Logger(label: "test"))
    }
    switch backend {
    case .memory:
        return try await body(make(InMemoryTargetStore(), SequentialIds()))
    case .mongodb:
        return try await withTestPool { pool in
            let store = MongoTargetStore(pool: pool)
            try await store.prepare()
            return try await body(make(store, ObjectIdSource()))
        }
    }
}

@Suite struct TargetStoreTests {
    @Test(arguments: Backend.allCases) func targetsAreCreatedReadListedBySelectorAndDeleted(_ backend: Backend) async throws {
        try await withTargets(backend) { targets in
            _ = try await targets.create(TargetDraft(name: "leaf01", labels: ["site": "ams", "group": "leaf,canary"], vars: ["host": "10.0.0.1"]))
            _ = try await targets.create(TargetDraft(name: "leaf02", labels: ["site": "ams", "group": "leaf"]))
            _ = try await targets.create(TargetDraft(name: "spine01", labels: ["site": "fra", "group": "spine"]))
            #expect(try await targets.get("leaf01").vars == ["host": "10.0.0.1"])

            func names(_ selector: TargetSelector?) async throws -> [String] {
                try await targets.list(selector: selector, limit: 100, after: nil).items.map(\.name)
            }
            #expect(try await names(nil) == ["leaf01", "leaf02", "spine01"])
            #expect(try await names(.labels(["site": "ams"])) == ["leaf01", "leaf02"])
            // A comma-listed label value matches any of its items.
            #expect(try await names(.labels(["group": "canary"])) == ["leaf01"])
            #expect(try await names(.labels(["group": "leaf", "site": "ams"])) == ["leaf01", "leaf02"])
            #expect(try await names(.names(["spine01", "nosuch"])) == ["spine01"])

            let page = try await targets.list(selector: nil, limit: 2, after: nil)
            #expect(page.items.map(\.name) == ["leaf01", "leaf02"])
            #expect(try await targets.list(selector: nil, limit: 2, after: page.next).items.map(\.name) == ["spine01"])

            try await targets.delete("leaf02")
            #expect(await errorOf { try await targets.get("leaf02") }?.kind.isNotFound == true)
            #expect(await errorOf { try await targets.delete("leaf02") }?.kind.isNotFound == true)
            #expect(await errorOf { try await targets.create(TargetDraft(name: "leaf01")) }?.kind.isConflict == true)
        }
    }

    @Test(arguments: Backend.allCases) func anUpdateMergesLabelsAndVarsAndRenames(_ backend: Backend) async throws {
        try await withTargets(backend) { targets in
            _ = try await targets.create(TargetDraft(name: "r1", labels: ["site": "ams", "role": "edge"], vars: ["host": "10.0.0.1", "old": "x"]))
            _ = try await targets.create(TargetDraft(name: "r2"))
            let updated = try await targets.update("r1", TargetChanges(
                name: "r1-ams", labels: ["role": "core", "site": nil], vars: ["old": nil, "asn": "65001"]))
            #expect(updated.name == "r1-ams")
            #expect(updated.labels == ["role": "core"])
            #expect(updated.vars == ["host": "10.0.0.1", "asn": "65001"])
            #expect(try await targets.get("r1-ams") == updated)
            #expect(try await targets.list(selector: .labels(["role": "core"]), limit: 10, after: nil).items.map(\.name) == ["r1-ams"])
            #expect(try await targets.list(selector: .labels(["site": "ams"]), limit: 10, after: nil).items.isEmpty)
            #expect(await errorOf { try await targets.update("r1-ams", TargetChanges(name: "r2")) }?.kind.isConflict == true)
            #expect(await errorOf { try await targets.update("nosuch", TargetChanges(vars: ["a": "b"])) }?.kind.isNotFound == true)
        }
    }

    @Test(arguments: Backend.allCases) func badTargetsGetEveryProblemAndNothingIsStored(_ backend: Backend) async throws {
        try await withTargets(backend) { targets in
            let error = await errorOf {
                try await targets.create(TargetDraft(
                    name: "Leaf_01", labels: ["Site": "ams", "role": "a b"], vars: ["mgmt-ip": "x", "host": "a", "HOST": "b", "name": "n"]))
            }
            guard case .validationFailed(let problems)? = error?.kind else {
                Issue.record("expected a validation error, got \(String(describing: error))")
                return
            }
            #expect(Set(problems.map(\.field)) == ["name", "labels.Site", "labels.role", "vars.mgmt-ip", "vars.HOST", "vars.name"])
            #expect(try await targets.list(selector: nil, limit: 10, after: nil).items.isEmpty)
            // The merged result of an update is checked too: `host` and `HOST` would be one variable.
            _ = try await targets.create(TargetDraft(name: "r1", vars: ["host": "a"]))
            #expect(await errorOf { try await targets.update("r1", TargetChanges(vars: ["HOST": "b"])) } != nil)
        }
    }

    @Test(arguments: Backend.allCases) func anImportCreatesUpdatesAndLeavesAloneAndADryRunChangesNothing(_ backend: Backend) async throws {
        try await withTargets(backend) { targets in
            _ = try await targets.create(TargetDraft(name: "leaf01", labels: ["group": "leaf"], vars: ["ansible_host": "10.0.0.9"]))
            _ = try await targets.create(TargetDraft(name: "leaf02", labels: ["group": "leaf"], vars: ["ansible_host": "10.0.0.2"]))
            _ = try await targets.create(TargetDraft(name: "other"))
            let inventory = """
                all:
                  children:
                    leaf:
                      hosts:
                        leaf01: {ansible_host: 10.0.0.1}
                        leaf02: {ansible_host: 10.0.0.2}
                        leaf03: {ansible_host: 10.0.0.3}
                """
            let plan = try await targets.importInventory(inventory, format: .ansibleYAML, dryRun: true)
            #expect(plan.created.map(\.name) == ["leaf03"])
            #expect(plan.updated.map(\.after.name) == ["leaf01"])
            #expect(plan.updated.first?.before.vars["ansible_host"] == "10.0.0.9")
            #expect(plan.unchanged == ["leaf02"])
            #expect(try await targets.get("leaf01").vars["ansible_host"] == "10.0.0.9")
            #expect(await errorOf { try await targets.get("leaf03") }?.kind.isNotFound == true)

            let done = try await targets.importInventory(inventory, format: .ansibleYAML, dryRun: false)
            #expect(done.created.map(\.name) == plan.created.map(\.name) && done.updated == plan.updated && !done.dryRun)
            #expect(try await targets.get("leaf01").vars["ansible_host"] == "10.0.0.1")
            #expect(try await targets.get("leaf03").labels == ["group": "leaf"])
            #expect(try await targets.get("other").name == "other")
            let again = try await targets.importInventory(inventory, format: .ansibleYAML, dryRun: false)
            #expect(again.created.isEmpty && again.updated.isEmpty && again.unchanged == ["leaf01", "leaf02", "leaf03"])
        }
    }
}
