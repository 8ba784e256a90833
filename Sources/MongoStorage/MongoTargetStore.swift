import Foundation
import MongoKit
import OrchestratorModel
import OrchestratorStorage

/// Targets in the `targets` collection, one document each. `labelPairs`
/// (`group=ams`, one per item of a comma-listed value) is what selectors
/// match, through a multikey index. An update is a read, then a write
/// guarded by the `version` it read (retried when another update came
/// between), so merging labels never loses a concurrent change.
public struct MongoTargetStore: TargetStore {
    public static let collectionName = "targets"
    private let pool: MongoPool
    private static let updateAttempts = 8

    public init(pool: MongoPool) {
        self.pool = pool
    }

    public func prepare() async throws(OrchestratorError) {
        try await createIndexes(pool, collection: Self.collectionName, [
            ["key": ["name": 1], "name": "name_unique", "unique": true],
            ["key": ["labelPairs": 1, "name": 1], "name": "label_pairs"],
        ])
    }

    static func encode(_ target: Target, version: Int) -> BSONDocument {
        var doc: BSONDocument = [
            "name": BSON(target.name),
            "labels": .document(BSONDocument(target.labels.sorted { $0.key < $1.key }.map { ($0.key, BSON($0.value)) })),
            "labelPairs": .array(TargetRules.labelPairs(target.labels).sorted().map { BSON($0) }),
            "vars": .document(BSONDocument(target.vars.sorted { $0.key < $1.key }.map { ($0.key, BSON($0.value)) })),
            "version": BSON(version),
            "createdAt": BSON(target.createdAt),
            "updatedAt": BSON(target.updatedAt),
        ]
        if let id = ObjectId(target.id) { doc["_id"] = .objectId(id) }
        return doc
    }

    static func decode(_ doc: BSONDocument) -> Target {
        func strings(_ field: String) -> [String: String] {
            Dictionary((doc[field]?.documentValue?.fields ?? []).compactMap { field in field.value.stringValue.map { (field.key, $0) } }) { first, _ in first }
        }
        return Target(
            id: doc["_id"]?.objectIdValue?.hex ?? "", name: doc["name"]?.stringValue ?? "",
            labels: strings("labels"), vars: strings("vars"),
            createdAt: doc["createdAt"]?.dateValue ?? Date(timeIntervalSince1970: 0),
            updatedAt: doc["updatedAt"]?.dateValue ?? Date(timeIntervalSince1970: 0))
    }

    public func createTarget(_ target: Target) async throws(OrchestratorError) {
        let document = Self.encode(target, version: 1)
        try await withDatabase(pool, onDuplicate: .targetNameTaken(target.name), writes: true) { client throws(MongoError) in
            try client.collection(Self.collectionName).insertOne(document)
        }
    }

    public func target(named name: String) async throws(OrchestratorError) -> Target {
        guard let found = try await document(named: name) else { throw OrchestratorError.notFound("target", name) }
        return Self.decode(found)
    }

    private func document(named name: String) async throws(OrchestratorError) -> BSONDocument? {
        try await withDatabase(pool) { client throws(MongoError) in
            try client.collection(Self.collectionName).findOne(["name": BSON(name)])
        }
    }

    public func listTargets(selector: TargetSelector?, limit: Int, after: String?) async throws(OrchestratorError) -> Page<Target> {
        var conditions: [BSON] = []
        switch selector {
        case .names(let names): conditions.append(["name": ["$in": .array(names.map { BSON($0) })]])
        case .labels(let labels): conditions.append(["labelPairs": ["$all": .array(TargetRules.labelPairs(labels).sorted().map { BSON($0) })]])
        case nil: break
        }
        if let after { conditions.append(["name": ["$gt": BSON(after)]]) }
        let filter: BSONDocument = conditions.isEmpty ? [:] : ["$and": .array(conditions)]
        // One extra document tells whether another page exists.
        let documents = try await withDatabase(pool) { client throws(MongoError) in
            try client.collection(Self.collectionName).find(filter, sort: ["name": 1], limit: limit + 1)
        }
        let items = documents.prefix(limit).map(Self.decode)
        return Page(items: Array(items), next: documents.count > limit ? items.last?.name : nil)
    }

    public func updateTarget(named name: String, _ changes: TargetChanges) async throws(OrchestratorError) -> Target {
        for _ in 0..<Self.updateAttempts {
            guard let current = try await document(named: name) else { throw OrchestratorError.notFound("target", name) }
            let version = current["version"]?.intValue ?? 1
            var updated = changes.applied(to: Self.decode(current))
            updated.updatedAt = Date().milliseconds
            var replacement = Self.encode(updated, version: version + 1)
            replacement["_id"] = nil
            let filter: BSONDocument = ["name": BSON(name), "version": BSON(version)]
            let onDuplicate = changes.name.map(OrchestratorError.targetNameTaken)
            let matched = try await withDatabase(pool, onDuplicate: onDuplicate, writes: true) { [replacement] client throws(MongoError) in
                try client.collection(Self.collectionName).updateOne(filter, ["$set": .document(replacement)]).matched == 1
            }
            if matched { return updated }
        }
        throw OrchestratorError.conflict("target '\(name)' kept changing while updating it; try again")
    }

    public func deleteTarget(named name: String) async throws(OrchestratorError) {
        let deleted = try await withDatabase(pool, writes: true) { client throws(MongoError) in
            try client.collection(Self.collectionName).deleteOne(["name": BSON(name)])
        }
        if deleted == 0 { throw OrchestratorError.notFound("target", name) }
    }
}
