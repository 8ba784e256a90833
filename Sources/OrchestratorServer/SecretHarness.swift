import OrchestratorModel
import OrchestratorProtocol
import OrchestratorServices

/// The `secret.*` methods: admins only (the route table makes them restricted).
struct SecretHarness: Sendable {
    let service: SecretService

    func set(_ p: SecretSetParams, _ c: CallContext) async throws(RPCError) -> SecretRecord {
        try await domain { () throws(OrchestratorError) in try await service.set(p.name, value: p.value, by: c.peer.uid) }
    }

    func list(_ p: WorkflowListParams, _ c: CallContext) async throws(RPCError) -> Page<SecretRecord> {
        try await domain { () throws(OrchestratorError) in try await service.list(limit: p.limit, after: p.after) }
    }

    func delete(_ p: NameParams, _ c: CallContext) async throws(RPCError) -> Deleted {
        try await domain { () throws(OrchestratorError) in try await service.delete(p.name) }
        return Deleted()
    }
}
