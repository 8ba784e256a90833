import Foundation
import MongoKit
import OrchestratorModel
import OrchestratorStorage

/// Schedules (`schedules`) and maintenance windows (`windows`), one
/// document each, unique by name. A schedule's fire cursor (`nextFireAt`)
/// moves only by a write guarded by where it was, so two daemons that find
/// the same fire time due cannot both move it; the run each fire time starts
/// is kept unique by its request id in `runs` (see ScheduleRunner).
public struct MongoScheduleStore: ScheduleStore {
    public static let schedulesCollection = "schedules"
    public static let windowsCollection = "windows"
    private let pool: MongoPool

    public init(pool: MongoPool) {
        self.pool = pool
    }

    public func prepare() async throws(OrchestratorError) {
        try await createIndexes(pool, collection: Self.schedulesCollection, [
            ["key": ["name": 1], "name": "name_unique", "unique": true],
            ["key": ["enabled": 1, "nextFireAt": 1], "name": "due"],
        ])
        try await createIndexes(pool, collection: Self.windowsCollection, [["key": ["name": 1], "name": "name_unique", "unique": true]])
    }

    // MARK: Schedules

    static func encode(_ s: Schedule) -> BSONDocument {
        var doc: BSONDocument = [
            "name": BSON(s.name), "workflow": BSON(s.workflow), "cron": BSON(s.cron), "timezone": BSON(s.timezone),
            "params": .document(RunDocument.strings(s.params)), "enabled": BSON(s.enabled), "missed": BSON(s.missed.rawValue),
            "createdAt": BSON(s.createdAt), "updatedAt": BSON(s.updatedAt), "nextFireAt": BSON(s.nextFireAt),
            "targets": s.targets.map(RunDocument.encode) ?? .null, "batchSize": BSON(s.batchSize?.description),
            "maxFailPercentage": BSON(s.maxFailPercentage), "window": BSON(s.window),
            "updatedBy": s.updatedBy.map { BSON(Int($0)) } ?? .null,
        ]
        if let id = ObjectId(s.id) { doc["_id"] = .objectId(id) }
        return doc
    }

    static func decodeSchedule(_ doc: BSONDocument) -> Schedule {
        Schedule(
            id: doc["_id"]?.objectIdValue?.hex ?? "", name: doc["name"]?.stringValue ?? "", workflow: doc["workflow"]?.stringValue ?? "",
            cron: doc["cron"]?.stringValue ?? "", timezone: doc["timezone"]?.stringValue ?? "UTC", params: RunDocument.strings(doc["params"]),
            targets: doc["targets"]?.documentValue.map(RunDocument.decodeSelector), batchSize: doc["batchSize"]?.stringValue.flatMap(BatchSize.init),
            maxFailPercentage: doc["maxFailPercentage"]?.intValue, enabled: doc["enabled"]?.boolValue ?? true,
            missed: doc["missed"]?.stringValue.flatMap(MissedPolicy.init(rawValue:)) ?? .skip, window: doc["window"]?.stringValue,
            createdAt: doc["createdAt"]?.dateValue ?? Date(timeIntervalSince1970: 0), updatedAt: doc["updatedAt"]?.dateValue ?? Date(timeIntervalSince1970: 0),
            nextFireAt: doc["nextFireAt"]?.dateValue, lastFireAt: doc["lastFireAt"]?.dateValue, lastRunId: doc["lastRunId"]?.stringValue,
            updatedBy: doc["updatedBy"]?.intValue.flatMap(UInt32.init(exactly:)))
    }

    public func createSchedule(_ schedule: Schedule) async throws(OrchestratorError) {
        try await insert(Self.encode(schedule), into: Self.schedulesCollection, onDuplicate: .nameTaken("schedule", schedule.name))
    }

    public func schedule(named name: String) async throws(OrchestratorError) -> Schedule {
        Self.decodeSchedule(try await find(name, in: Self.schedulesCollection, kind: "schedule"))
    }

    public func listSchedules(limit: Int, after: String?) async throws(OrchestratorError) -> Page<Schedule> {
        try await page(Self.schedulesCollection, limit: limit, after: after, Self.decodeSchedule, name: \.name)
    }

    public func replaceSchedule(_ schedule: Schedule, read: Schedule) async throws(OrchestratorError) {
        guard let oid = ObjectId(schedule.id) else { throw OrchestratorError.notFound("schedule", schedule.name) }
        var set = Self.encode(schedule)
        set["_id"] = nil
        set["createdAt"] = nil
        let filter: BSONDocument = ["_id": .objectId(oid), "updatedAt": BSON(read.updatedAt), "nextFireAt": BSON(read.nextFireAt)]
        try await replace(filter, set: set, in: Self.schedulesCollection, kind: "schedule", name: read.name)
    }

    public func deleteSchedule(named name: String) async throws(OrchestratorError) {
        try await delete(name, in: Self.schedulesCollection, kind: "schedule")
    }

    public func dueSchedules(now: Date, limit: Int) async throws(OrchestratorError) -> [Schedule] {
        let documents = try await withDatabase(pool) { client throws(MongoError) in
            try client.collection(Self.schedulesCollection).find(
                ["enabled": true, "nextFireAt": ["$lte": BSON(now)]], sort: ["nextFireAt": 1], limit: limit)
        }
        return documents.map(Self.decodeSchedule)
    }

    public func advanceSchedule(id: String, from: Date, to next: Date?, fired: Date, runId: String?) async throws(OrchestratorError) -> Bool {
        guard let oid = ObjectId(id) else { return false }
        var set: BSONDocument = ["nextFireAt": BSON(next), "lastFireAt": BSON(fired)]
        if let runId { set["lastRunId"] = BSON(runId) }
        let update: BSONDocument = ["$set": .document(set)]
        return try await withDatabase(pool, writes: true) { client throws(MongoError) in
            try client.collection(Self.schedulesCollection).updateOne(["_id": .objectId(oid), "nextFireAt": BSON(from)], update).matched == 1
        }
    }

    // MARK: Windows

    static func encode(_ w: MaintenanceWindow) -> BSONDocument {
        var doc: BSONDocument = [
            "name": BSON(w.name), "cron": BSON(w.cron), "timezone": BSON(w.timezone), "durationMinutes": BSON(w.durationMinutes),
            "createdAt": BSON(w.createdAt), "updatedAt": BSON(w.updatedAt),
        ]
        if let id = ObjectId(w.id) { doc["_id"] = .objectId(id) }
        return doc
    }

    static func decodeWindow(_ doc: BSONDocument) -> MaintenanceWindow {
        MaintenanceWindow(
            id: doc["_id"]?.objectIdValue?.hex ?? "", name: doc["name"]?.stringValue ?? "", cron: doc["cron"]?.stringValue ?? "",
            timezone: doc["timezone"]?.stringValue ?? "UTC", durationMinutes: doc["durationMinutes"]?.intValue ?? 0,
            createdAt: doc["createdAt"]?.dateValue ?? Date(timeIntervalSince1970: 0), updatedAt: doc["updatedAt"]?.dateValue ?? Date(timeIntervalSince1970: 0))
    }

    public func createWindow(_ window: MaintenanceWindow) async throws(OrchestratorError) {
        try await insert(Self.encode(window), into: Self.windowsCollection, onDuplicate: .nameTaken("window", window.name))
    }

    public func window(named name: String) async throws(OrchestratorError) -> MaintenanceWindow {
        Self.decodeWindow(try await find(name, in: Self.windowsCollection, kind: "window"))
    }

    public func listWindows(limit: Int, after: String?) async throws(OrchestratorError) -> Page<MaintenanceWindow> {
        try await page(Self.windowsCollection, limit: limit, after: after, Self.decodeWindow, name: \.name)
    }

    public func replaceWindow(_ window: MaintenanceWindow, read: MaintenanceWindow) async throws(OrchestratorError) {
        guard let oid = ObjectId(window.id) else { throw OrchestratorError.notFound("window", window.name) }
        var set = Self.encode(window)
        set["_id"] = nil
        set["createdAt"] = nil
        try await replace(["_id": .objectId(oid), "updatedAt": BSON(read.updatedAt)], set: set, in: Self.windowsCollection, kind: "window", name: read.name)
    }

    public func deleteWindow(named name: String) async throws(OrchestratorError) {
        try await delete(name, in: Self.windowsCollection, kind: "window")
    }

    // MARK: Shared

    private func insert(_ document: BSONDocument, into collection: String, onDuplicate: OrchestratorError) async throws(OrchestratorError) {
        try await withDatabase(pool, onDuplicate: onDuplicate, writes: true) { client throws(MongoError) in
            try client.collection(collection).insertOne(document)
        }
    }

    private func find(_ name: String, in collection: String, kind: String) async throws(OrchestratorError) -> BSONDocument {
        let found = try await withDatabase(pool) { client throws(MongoError) in
            try client.collection(collection).findOne(["name": BSON(name)])
        }
        guard let found else { throw OrchestratorError.notFound(kind, name) }
        return found
    }

    private func page<Item: Sendable>(
        _ collection: String, limit: Int, after: String?, _ decode: @Sendable (BSONDocument) -> Item, name: KeyPath<Item, String>
    ) async throws(OrchestratorError) -> Page<Item> {
        let filter: BSONDocument = after.map { ["name": ["$gt": BSON($0)]] } ?? [:]
        // One extra document tells whether another page exists.
        let documents = try await withDatabase(pool) { client throws(MongoError) in
            try client.collection(collection).find(filter, sort: ["name": 1], limit: limit + 1)
        }
        let items = documents.prefix(limit).map(decode)
        return Page(items: Array(items), next: documents.count > limit ? items.last?[keyPath: name] : nil)
    }

    private func replace(_ filter: BSONDocument, set: BSONDocument, in collection: String, kind: String, name: String) async throws(OrchestratorError) {
        let update: BSONDocument = ["$set": .document(set)]
        let matched = try await withDatabase(pool, onDuplicate: .nameTaken(kind, name), writes: true) { client throws(MongoError) in
            try client.collection(collection).updateOne(filter, update).matched
        }
        if matched == 0 { throw OrchestratorError.changedMeanwhile(kind, name) }
    }

    private func delete(_ name: String, in collection: String, kind: String) async throws(OrchestratorError) {
        let deleted = try await withDatabase(pool, writes: true) { client throws(MongoError) in
            try client.collection(collection).deleteOne(["name": BSON(name)])
        }
        if deleted == 0 { throw OrchestratorError.notFound(kind, name) }
    }
}
