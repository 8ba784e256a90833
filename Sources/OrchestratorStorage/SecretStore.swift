import OrchestratorModel

/// Where secrets are kept: sealed (encrypted) values and who set them.
/// The store never sees a value in clear.
public protocol SecretStore: Sendable {
    /// Creates the secret, or replaces its value.
    func putSecret(_ secret: SealedSecret) async throws(OrchestratorError)
    /// The sealed secrets of these names that exist.
    func sealedSecrets(named names: [String]) async throws(OrchestratorError) -> [SealedSecret]
    /// Names in order, after `after`.
    func listSecrets(limit: Int, after: String?) async throws(OrchestratorError) -> Page<SecretRecord>
    /// NotFound when there is none of that name.
    func deleteSecret(named name: String) async throws(OrchestratorError)
    /// Up to `limit` secrets sealed under another key than `keyId`, in name order after `after`.
    func sealedSecrets(notUnder keyId: String, after: String?, limit: Int) async throws(OrchestratorError) -> [SealedSecret]
    /// Replaces `old` by `new` (the same name) only while the stored value
    /// is still exactly `old`: nobody set it again meanwhile, not even in the
    /// same millisecond. False when that no longer holds.
    func reseal(_ new: SealedSecret, replacing old: SealedSecret) async throws(OrchestratorError) -> Bool
}
