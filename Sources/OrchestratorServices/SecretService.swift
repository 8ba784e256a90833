import Foundation
import Logging
import OrchestratorEngine
import OrchestratorModel
import OrchestratorStorage

/// The rules of secrets: who sets them (admins, checked by the caller),
/// what a value may be, sealing under the daemon's key, and reading them
/// back for the steps that use them. No value ever leaves in clear except
/// into a step's process.
public struct SecretService: SecretSource {
    private let store: any SecretStore
    private let keyring: SecretKeyring
    private let clock: any EngineClock
    private let logger: Logger

    public init(store: any SecretStore, keyring: SecretKeyring, clock: any EngineClock, logger: Logger) {
        self.store = store
        self.keyring = keyring
        self.clock = clock
        self.logger = logger
    }

    /// The id of the key new values are sealed under.
    public var keyId: String { keyring.current.id }

    public func set(_ name: String, value: String, by uid: UInt32) async throws(OrchestratorError) -> SecretRecord {
        var v = Validator()
        v.merge(SecretRules.problems(name: name, value: value))
        try v.check()
        let record = SecretRecord(name: name, setBy: uid, setAt: clock.now().milliseconds, keyId: keyring.current.id)
        try await store.putSecret(SealedSecret(record: record, sealed: try keyring.seal(value, name: name)))
        return record
    }

    public func list(limit: Int, after: String?) async throws(OrchestratorError) -> Page<SecretRecord> {
        try PageRequest.check(limit: limit, after: after)
        return try await store.listSecrets(limit: limit, after: after)
    }

    public func delete(_ name: String) async throws(OrchestratorError) {
        var v = Validator()
        v.name(name, "name")
        try v.check()
        try await store.deleteSecret(named: name)
    }

    /// Which of `names` do not exist (no value is opened to tell).
    public func missing(_ names: [String]) async throws(OrchestratorError) -> [String] {
        guard !names.isEmpty else { return [] }
        let found = Set(try await store.sealedSecrets(named: names).map(\.record.name))
        return names.filter { !found.contains($0) }
    }

    public func reveal(_ names: [String]) async throws(OrchestratorError) -> [String: String] {
        guard !names.isEmpty else { return [:] }
        let sealed = try await store.sealedSecrets(named: names)
        var values: [String: String] = [:]
        for secret in sealed { values[secret.record.name] = try keyring.open(secret) }
        if let absent = names.first(where: { values[$0] == nil }) {
            throw OrchestratorError.notFound("secret", absent, message: "secret '\(absent)' does not exist (deleted after the run started?); set it with 'orchctl secret set \(absent)'")
        }
        return values
    }

    /// Seals again, under the current key, every secret sealed under the
    /// previous one (a rotation); returns how many. Guarded per secret, so
    /// daemons doing it at once, or someone setting a secret meanwhile,
    /// lose nothing. Secrets under a key this daemon does not have are
    /// left alone and counted in `unknown`.
    public func rotate() async throws(OrchestratorError) -> (resealed: Int, unknown: [String: Int]) {
        var resealed = 0
        var unknown: [String: Int] = [:]
        var after: String?
        while true {
            let batch = try await store.sealedSecrets(notUnder: keyring.current.id, after: after, limit: 200)
            guard let last = batch.last else { break }
            after = last.record.name
            for secret in batch {
                guard let previous = keyring.previous, secret.record.keyId == previous.id else {
                    unknown[secret.record.keyId, default: 0] += 1
                    continue
                }
                let value: String
                do {
                    value = try keyring.open(secret)
                } catch {
                    // One damaged record must not keep every daemon from starting: it is left as it is, and said.
                    logger.error("secret \(secret.record.name) does not open with the previous key (\(error.message)); left as it is: set it again")
                    continue
                }
                var record = secret.record
                record.keyId = keyring.current.id
                if try await store.reseal(SealedSecret(record: record, sealed: try keyring.seal(value, name: record.name)), replacing: secret) {
                    resealed += 1
                }
            }
        }
        if resealed > 0 {
            logger.notice("re-encrypted \(resealed) secrets under key \(keyring.current.id) (\(keyring.current.path)); the previous key is no longer needed once every daemon has it")
        }
        return (resealed, unknown)
    }
}
