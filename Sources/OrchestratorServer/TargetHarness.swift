import OrchestratorInventory
import OrchestratorModel
import OrchestratorProtocol
import OrchestratorServices

/// The `target.*` methods.
struct TargetHarness: Sendable {
    let service: TargetService

    func create(_ draft: TargetDraft, _ c: CallContext) async throws(RPCError) -> Target {
        try await domain { () throws(OrchestratorError) in try await service.create(draft) }
    }

    func get(_ key: TargetKey, _ c: CallContext) async throws(RPCError) -> Target {
        try await domain { () throws(OrchestratorError) in try await service.get(key.name) }
    }

    func list(_ p: TargetListParams, _ c: CallContext) async throws(RPCError) -> Page<Target> {
        try await domain { () throws(OrchestratorError) in try await service.list(selector: p.selector, limit: p.limit, after: p.after) }
    }

    func update(_ p: TargetUpdateParams, _ c: CallContext) async throws(RPCError) -> Target {
        try await domain { () throws(OrchestratorError) in try await service.update(p.name, p.changes) }
    }

    func delete(_ key: TargetKey, _ c: CallContext) async throws(RPCError) -> Deleted {
        try await domain { () throws(OrchestratorError) in try await service.delete(key.name) }
        return Deleted()
    }

    func importInventory(_ p: TargetImportParams, _ c: CallContext) async throws(RPCError) -> TargetImport {
        guard let format = Inventory.Format(rawValue: p.format) else {
            throw .invalidParams("invalid params: format must be one of \(Inventory.Format.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return try await domain { () throws(OrchestratorError) in try await service.importInventory(p.content, format: format, dryRun: p.dryRun) }
    }
}
