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

/// The secret store on both backends, through the service that seals and
/// opens values: what is stored is never the value, a sealed value is bound
/// to its name, a rotation re-encrypts under the new key and loses nothing
/// set meanwhile, and a key that did not seal a secret does not open it.
@Suite struct SecretStoreTests {
    private static let keyA = SecretKeyring(testKey: Array(repeating: 1, count: 32))
    private static let keyB = SecretKeyring(testKey: Array(repeating: 2, count: 32))

    private func withSecrets<T>(_ backend: Backend, _ body: (any SecretStore) async throws -> T) async throws -> T {
        switch backend {
        case .memory: return try await body(InMemorySecretStore())
        case .mongodb:
            return try await withTestPool { pool in
                let store = MongoSecretStore(pool: pool)
                try await store.prepare()
                return try await body(store)
            }
        }
    }

    private func service(_ store: any SecretStore, _ keyring: SecretKeyring) -> SecretService {
        SecretService(store: store, keyring: keyring, clock: SystemClock(), logger: Logger(label: "test"))
    }

    @Test(arguments: Backend.allCases) func valuesAreSealedUnderTheirNameAndOpenOnlyWithTheirKey(_ backend: Backend) async throws {
        try await withSecrets(backend) { store in
            let secrets = service(store, Self.keyA)
            let record = try await secrets.set("enable", value: "hunter2\nline two", by: 1000)
            #expect(record.setBy == 1000 && record.keyId == Self.keyA.current.id)
            #expect(try await secrets.reveal(["enable"]) == ["enable": "hunter2\nline two"])
            let sealed = try #require(try await store.sealedSecrets(named: ["enable"]).first)
            #expect(!String(decoding: sealed.sealed, as: UTF8.self).contains("hunter2"))
            // The same bytes under another name do not open: the name is bound in.
            var moved = sealed
            moved.record.name = "other"
            try await store.putSecret(moved)
            let swapped = await errorOf { try await secrets.reveal(["other"]) }
            #expect(swapped?.message.contains("does not open") == true, "\(String(describing: swapped))")
            // Another key does not open it, and says which key it needs.
            let wrongKey = await errorOf { try await service(store, Self.keyB).reveal(["enable"]) }
            #expect(wrongKey?.message.contains("sealed under key \(Self.keyA.current.id)") == true, "\(String(describing: wrongKey))")
            // Missing ones are named; listing shows no value.
            #expect(try await secrets.missing(["enable", "absent"]) == ["absent"])
            let gone = await errorOf { try await secrets.reveal(["absent"]) }
            #expect(gone?.kind.isNotFound == true)
            #expect(try await secrets.list(limit: 1, after: nil).items.map(\.name) == ["enable"])
            #expect(try await secrets.list(limit: 1, after: "enable").items.map(\.name) == ["other"])
            try await secrets.delete("enable")
            #expect(await errorOf { try await secrets.delete("enable") }?.kind.isNotFound == true)
        }
    }

    @Test(arguments: Backend.allCases) func aRotationReencryptsWhatThePreviousKeySealedAndSkipsWhatIsSetMeanwhile(_ backend: Backend) async throws {
        try await withSecrets(backend) { store in
            for index in 0..<250 { _ = try await service(store, Self.keyA).set("s\(index)", value: "v\(index)", by: 0) }
            let rotating = SecretKeyring(current: Self.keyB.current, previous: Self.keyA.current)
            let (resealed, unknown) = try await service(store, rotating).rotate()
            #expect(resealed == 250 && unknown.isEmpty)
            let newOnly = service(store, Self.keyB)
            #expect(try await newOnly.reveal(["s0", "s249"]) == ["s0": "v0", "s249": "v249"])
            #expect(try await store.sealedSecrets(notUnder: Self.keyB.current.id, after: nil, limit: 10).isEmpty)
            // A reseal of a value that was set again meanwhile does not overwrite the new value.
            let stale = try #require(try await store.sealedSecrets(named: ["s1"]).first)
            _ = try await newOnly.set("s1", value: "newer", by: 0)
            #expect(try await store.reseal(stale, replacing: stale) == false)
            #expect(try await newOnly.reveal(["s1"]) == ["s1": "newer"])
            // A key that sealed nothing here finds every secret unknown.
            let (none, strangers) = try await service(store, SecretKeyring(testKey: Array(repeating: 3, count: 32))).rotate()
            #expect(none == 0 && strangers == [Self.keyB.current.id: 250])
        }
    }

    @Test func badSecretsGetEveryProblem() async throws {
        let secrets = service(InMemorySecretStore(), Self.keyA)
        let problems = await errorOf { try await secrets.set("Bad Name", value: "", by: 0) }
        guard case .validationFailed(let errors)? = problems?.kind else { Issue.record("\(String(describing: problems))"); return }
        #expect(errors.map(\.field) == ["name", "value"])
        let big = await errorOf { try await secrets.set("big", value: String(repeating: "x", count: SecretRules.maximumValueBytes + 1), by: 0) }
        #expect(big?.message.contains("at most 65536 bytes") == true)
        let nul = await errorOf { try await secrets.set("nul", value: "a\u{0}b", by: 0) }
        #expect(nul?.message.contains("NUL") == true)
        #expect(try await secrets.list(limit: 10, after: nil).items.isEmpty)
    }
}
