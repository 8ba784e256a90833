import OrchestratorModel
import OrchestratorStorage
import Synchronization

/// Secrets in memory, for tests and the simulation.
public final class InMemorySecretStore: SecretStore {
    private let state = Mutex([String: SealedSecret]())

    public init() {}

    public func putSecret(_ secret: SealedSecret) async throws(OrchestratorError) {
        state.withLock { $0[secret.record.name] = secret }
    }

    public func sealedSecrets(named names: [String]) async throws(OrchestratorError) -> [SealedSecret] {
        state.withLock { stored in names.compactMap { stored[$0] } }
    }

    public func listSecrets(limit: Int, after: String?) async throws(OrchestratorError) -> Page<SecretRecord> {
        let sorted = state.withLock { stored in stored.values.map(\.record).filter { after == nil || $0.name > after! }.sorted { $0.name < $1.name } }
        let items = Array(sorted.prefix(limit))
        return Page(items: items, next: sorted.count > limit ? items.last?.name : nil)
    }

    public func deleteSecret(named name: String) async throws(OrchestratorError) {
        try state.withLock { stored throws(OrchestratorError) in
            guard stored.removeValue(forKey: name) != nil else { throw OrchestratorError.notFound("secret", name) }
        }
    }

    public func sealedSecrets(notUnder keyId: String, after: String?, limit: Int) async throws(OrchestratorError) -> [SealedSecret] {
        state.withLock { stored in
            Array(stored.values.filter { $0.record.keyId != keyId && (after == nil || $0.record.name > after!) }.sorted { $0.record.name < $1.record.name }.prefix(limit))
        }
    }

    public func reseal(_ new: SealedSecret, replacing old: SealedSecret) async throws(OrchestratorError) -> Bool {
        state.withLock { stored in
            guard let current = stored[old.record.name], current.sealed == old.sealed, current.record.keyId == old.record.keyId else { return false }
            stored[old.record.name] = new
            return true
        }
    }
}
