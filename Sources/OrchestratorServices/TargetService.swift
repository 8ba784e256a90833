import Foundation
import Logging
import OrchestratorEngine
import OrchestratorInventory
import OrchestratorModel
import OrchestratorStorage

/// The rules of targets: what is valid, and what importing an inventory
/// creates or changes. The store persists what this decides.
public struct TargetService: Sendable {
    private let targets: any TargetStore
    private let ids: any IdSource
    private let clock: any EngineClock
    private let logger: Logger

    public init(targets: any TargetStore, ids: any IdSource, clock: any EngineClock, logger: Logger) {
        self.targets = targets
        self.ids = ids
        self.clock = clock
        self.logger = logger
    }

    public func create(_ draft: TargetDraft) async throws(OrchestratorError) -> Target {
        try draft.validate()
        let now = clock.now().milliseconds
        let target = Target(id: ids.next(), name: draft.name, labels: draft.labels, vars: draft.vars, createdAt: now, updatedAt: now)
        try await targets.createTarget(target)
        return target
    }

    public func get(_ name: String) async throws(OrchestratorError) -> Target {
        try await targets.target(named: name)
    }

    public func list(selector: TargetSelector?, limit: Int, after: String?) async throws(OrchestratorError) -> Page<Target> {
        var v = Validator()
        if let selector { v.merge(selector.problems(at: "selector")) }
        v.require(Limits.pageSize.contains(limit), "limit", "must be between \(Limits.pageSize.lowerBound) and \(Limits.pageSize.upperBound)")
        try v.check()
        return try await targets.listTargets(selector: selector, limit: limit, after: after)
    }

    public func update(_ name: String, _ changes: TargetChanges) async throws(OrchestratorError) -> Target {
        try changes.validate()
        let current = try await targets.target(named: name)
        // The merged result must hold together too (e.g. two vars one environment variable would hold).
        try changes.applied(to: current).draft.validate()
        return try await targets.updateTarget(named: name, changes)
    }

    public func delete(_ name: String) async throws(OrchestratorError) {
        try await targets.deleteTarget(named: name)
    }

    /// Reads the inventory (every problem at once, or nothing is changed),
    /// compares each host with the target of its name, and unless `dryRun`
    /// creates and updates. Safe to repeat: what is already as the
    /// inventory says is left as it is.
    public func importInventory(_ content: String, format: Inventory.Format, dryRun: Bool) async throws(OrchestratorError) -> TargetImport {
        let drafts = try Inventory.read(content, format: format)
        var plan = TargetImport(dryRun: dryRun)
        for draft in drafts {
            do throws(OrchestratorError) {
                let current = try await targets.target(named: draft.name)
                if current.draft == draft { plan.unchanged.append(draft.name) } else { plan.updated.append(.init(before: current.draft, after: draft)) }
            } catch where error.isNotFound {
                plan.created.append(draft)
            }
        }
        guard !dryRun else { return plan }
        for draft in plan.created {
            do throws(OrchestratorError) {
                _ = try await create(draft)
            } catch where error.kind == .conflict {
                // Created meanwhile (an import repeated after a lost answer): make it as the inventory says.
                let current = try await targets.target(named: draft.name)
                _ = try await targets.updateTarget(named: draft.name, TargetImport.Update(before: current.draft, after: draft).changes)
            }
        }
        for update in plan.updated {
            _ = try await targets.updateTarget(named: update.after.name, update.changes)
        }
        logger.notice("targets imported: \(plan.created.count) created, \(plan.updated.count) updated, \(plan.unchanged.count) unchanged")
        return plan
    }
}
