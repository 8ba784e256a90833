import Foundation
import MongoKit
import OrchestratorModel

/// A daemon as it announced itself under its id.
public struct DaemonRecord: Sendable, Equatable {
    public var id: String
    /// This process's start: a random id, new at every start.
    public var instance: String
    public var host: String
    public var pid: Int32
    /// The kernel's boot id and the process's pid namespace: with `pid`,
    /// they tell whether the holder was a process on this very machine that
    /// is gone now.
    public var bootId: String
    public var pidNamespace: String
    /// In the database server's time.
    public var heartbeatAt: Date?

    public init(id: String, instance: String, host: String, pid: Int32, bootId: String, pidNamespace: String, heartbeatAt: Date? = nil) {
        self.id = id
        self.instance = instance
        self.host = host
        self.pid = pid
        self.bootId = bootId
        self.pidNamespace = pidNamespace
        self.heartbeatAt = heartbeatAt
    }
}

/// Which process holds each daemon id (collection `daemons`, one document
/// per id): a daemon takes its id at start and beats while it runs, so two
/// live daemons never share one (cloned machines or containers, a copied
/// config), since two daemons with one id would each take the other's runs
/// for their own. Heartbeats are stamped with the server's clock
/// (`$currentDate`), the one clock leases are judged by too.
public struct MongoDaemonRegistry: Sendable {
    public static let collectionName = "daemons"
    private let pool: MongoPool

    public init(pool: MongoPool) {
        self.pool = pool
    }

    /// Takes `record.id` if nobody holds it, if this instance does, or if its
    /// holder's last heartbeat is before `staleBefore`. False when a holder
    /// with a fresher heartbeat has it.
    public func take(_ record: DaemonRecord, staleBefore: Date) async throws(OrchestratorError) -> Bool {
        let filter: BSONDocument = [
            "_id": BSON(record.id), "$or": [["instance": BSON(record.instance)], ["heartbeatAt": ["$lt": BSON(staleBefore)]]],
        ]
        return try await set(record, where: filter)
    }

    /// Takes the id from `holder` (whose process is known to be gone) if it still has it.
    public func replace(_ holder: DaemonRecord, with record: DaemonRecord) async throws(OrchestratorError) -> Bool {
        try await set(record, where: ["_id": BSON(record.id), "instance": BSON(holder.instance)])
    }

    private func set(_ record: DaemonRecord, where filter: BSONDocument) async throws(OrchestratorError) -> Bool {
        let update: BSONDocument = [
            "$set": [
                "instance": BSON(record.instance), "host": BSON(record.host), "pid": BSON(Int(record.pid)),
                "bootId": BSON(record.bootId), "pidNamespace": BSON(record.pidNamespace),
            ],
            "$currentDate": ["heartbeatAt": true],
        ]
        do {
            _ = try await pool.withClient { client throws(MongoError) in
                try client.collection(Self.collectionName).updateOne(filter, update, upsert: true)
            }
            return true
        } catch {
            if error.kind == .duplicateKey { return false }
            throw OrchestratorError.from(error)
        }
    }

    public func holder(of id: String) async throws(OrchestratorError) -> DaemonRecord? {
        let document = try await withDatabase(pool) { client throws(MongoError) in
            try client.collection(Self.collectionName).findOne(["_id": BSON(id)])
        }
        guard let document else { return nil }
        return DaemonRecord(
            id: id, instance: document["instance"]?.stringValue ?? "", host: document["host"]?.stringValue ?? "?",
            pid: Int32(clamping: document["pid"]?.intValue ?? 0), bootId: document["bootId"]?.stringValue ?? "",
            pidNamespace: document["pidNamespace"]?.stringValue ?? "", heartbeatAt: document["heartbeatAt"]?.dateValue)
    }

    /// A heartbeat; false when another instance holds the id now.
    public func beat(_ record: DaemonRecord) async throws(OrchestratorError) -> Bool {
        try await withDatabase(pool) { client throws(MongoError) in
            try client.collection(Self.collectionName).updateOne(
                ["_id": BSON(record.id), "instance": BSON(record.instance)], ["$currentDate": ["heartbeatAt": true]]).matched == 1
        }
    }

    /// Gives the id up at a clean exit, so the next start takes it at once.
    public func release(_ record: DaemonRecord) async throws(OrchestratorError) {
        _ = try await withDatabase(pool) { client throws(MongoError) in
            try client.collection(Self.collectionName).deleteOne(["_id": BSON(record.id), "instance": BSON(record.instance)])
        }
    }
}
