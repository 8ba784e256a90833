import Foundation
import MongoKit
import OrchestratorModel
import OrchestratorStorage

/// Secrets in the `secrets` collection, one document per name (`_id`):
/// the sealed value (base64 of AES-GCM's nonce, ciphertext and tag), the
/// key's id, who set it and when. Never a value in clear.
public struct MongoSecretStore: SecretStore {
    public static let collectionName = "secrets"
    private let pool: MongoPool

    public init(pool: MongoPool) {
        self.pool = pool
    }

    public func prepare() async throws(OrchestratorError) {
        try await createIndexes(pool, collection: Self.collectionName, [["key": ["keyId": 1], "name": "key_id"]])
    }

    static func encode(_ secret: SealedSecret) -> BSONDocument {
        [
            "_id": BSON(secret.record.name), "sealed": BSON(Data(secret.sealed).base64EncodedString()), "keyId": BSON(secret.record.keyId),
            "setBy": BSON(Int(secret.record.setBy)), "setAt": BSON(secret.record.setAt),
        ]
    }

    static func decodeRecord(_ doc: BSONDocument) -> SecretRecord {
        SecretRecord(
            name: doc["_id"]?.stringValue ?? "", setBy: UInt32(clamping: doc["setBy"]?.intValue ?? 0),
            setAt: doc["setAt"]?.dateValue ?? Date(timeIntervalSince1970: 0), keyId: doc["keyId"]?.stringValue ?? "")
    }

    static func decode(_ doc: BSONDocument) -> SealedSecret {
        SealedSecret(record: decodeRecord(doc), sealed: Array(Data(base64Encoded: doc["sealed"]?.stringValue ?? "") ?? Data()))
    }

    public func putSecret(_ secret: SealedSecret) async throws(OrchestratorError) {
        var fields = Self.encode(secret)
        fields["_id"] = nil
        _ = try await withDatabase(pool, writes: true) { [fields] client throws(MongoError) in
            try client.collection(Self.collectionName).updateOne(["_id": BSON(secret.record.name)], ["$set": .document(fields)], upsert: true)
        }
    }

    public func sealedSecrets(named names: [String]) async throws(OrchestratorError) -> [SealedSecret] {
        guard !names.isEmpty else { return [] }
        let filter: BSONDocument = ["_id": ["$in": .array(names.map { BSON($0) })]]
        return try await withDatabase(pool) { client throws(MongoError) in
            try client.collection(Self.collectionName).find(filter).map(Self.decode)
        }
    }

    public func listSecrets(limit: Int, after: String?) async throws(OrchestratorError) -> Page<SecretRecord> {
        let filter: BSONDocument = after.map { ["_id": ["$gt": BSON($0)]] } ?? [:]
        let documents = try await withDatabase(pool) { client throws(MongoError) in
            try client.collection(Self.collectionName).find(filter, sort: ["_id": 1], limit: limit + 1, projection: ["sealed": 0])
        }
        let items = documents.prefix(limit).map(Self.decodeRecord)
        return Page(items: Array(items), next: documents.count > limit ? items.last?.name : nil)
    }

    public func deleteSecret(named name: String) async throws(OrchestratorError) {
        let deleted = try await withDatabase(pool, writes: true) { client throws(MongoError) in
            try client.collection(Self.collectionName).deleteOne(["_id": BSON(name)])
        }
        guard deleted == 1 else { throw OrchestratorError.notFound("secret", name) }
    }

    public func sealedSecrets(notUnder keyId: String, after: String?, limit: Int) async throws(OrchestratorError) -> [SealedSecret] {
        var filter: BSONDocument = ["keyId": ["$ne": BSON(keyId)]]
        if let after { filter["_id"] = ["$gt": BSON(after)] }
        return try await withDatabase(pool) { [filter] client throws(MongoError) in
            try client.collection(Self.collectionName).find(filter, sort: ["_id": 1], limit: limit).map(Self.decode)
        }
    }

    public func reseal(_ new: SealedSecret, replacing old: SealedSecret) async throws(OrchestratorError) -> Bool {
        let filter: BSONDocument = [
            "_id": BSON(old.record.name), "keyId": BSON(old.record.keyId), "sealed": BSON(Data(old.sealed).base64EncodedString()),
        ]
        let update: BSONDocument = ["$set": ["sealed": BSON(Data(new.sealed).base64EncodedString()), "keyId": BSON(new.record.keyId)]]
        return try await withDatabase(pool, writes: true) { client throws(MongoError) in
            try client.collection(Self.collectionName).updateOne(filter, update).matched == 1
        }
    }
}
