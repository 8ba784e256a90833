import Foundation
import OrchestratorModel
import OrchestratorStorage
import Synchronization

/// Targets in memory, for tests and the simulation, with the guards of the
/// MongoDB store: a unique name, atomic merges.
public final class InMemoryTargetStore: TargetStore {
    private let state = Mutex([String: Target]())

    public init() {}

    public func createTarget(_ target: Target) async throws(OrchestratorError) {
        try state.withLock { stored throws(OrchestratorError) in
            guard stored[target.name] == nil else { throw OrchestratorError.targetNameTaken(target.name) }
            stored[target.name] = target
        }
    }

    public func target(named name: String) async throws(OrchestratorError) -> Target {
        guard let found = state.withLock({ $0[name] }) else { throw OrchestratorError.notFound("target", name) }
        return found
    }

    public func listTargets(selector: TargetSelector?, limit: Int, after: String?) async throws(OrchestratorError) -> Page<Target> {
        let sorted = state.withLock { stored in
            stored.values.filter { (after == nil || $0.name > after!) && (selector?.matches($0) ?? true) }.sorted { $0.name < $1.name }
        }
        let items = Array(sorted.prefix(limit))
        return Page(items: items, next: sorted.count > limit ? items.last?.name : nil)
    }

    public func updateTarget(named name: String, _ changes: TargetChanges) async throws(OrchestratorError) -> Target {
        try state.withLock { stored throws(OrchestratorError) in
            guard let current = stored[name] else { throw OrchestratorError.notFound("target", name) }
            var updated = changes.applied(to: current)
            updated.updatedAt = Date().milliseconds
            if updated.name != name {
                guard stored[updated.name] == nil else { throw OrchestratorError.targetNameTaken(updated.name) }
                stored[name] = nil
            }
            stored[updated.name] = updated
            return updated
        }
    }

    public func deleteTarget(named name: String) async throws(OrchestratorError) {
        try state.withLock { stored throws(OrchestratorError) in
            guard stored.removeValue(forKey: name) != nil else { throw OrchestratorError.notFound("target", name) }
        }
    }
}
