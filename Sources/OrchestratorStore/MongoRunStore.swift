import Foundation
import MongoKit
import OrchestratorModel

/// Runs in the `runs` collection. State changes are conditional
/// `update_one`s (owner, status or event count in the filter), never
/// findAndModify, which SecantusDB makes slow on large collections.
public struct MongoRunStore: RunStore {
    public static let collectionName = "runs"
    private let pool: MongoPool

    public init(pool: MongoPool) {
        self.pool = pool
    }

    public func prepare() async throws(OrchestratorError) {
        try await createIndexes(pool, collection: Self.collectionName, [
            ["key": ["status": 1, "leaseExpiresAt": 1], "name": "status_lease"],
            ["key": ["workflowName": 1, "_id": -1], "name": "workflow_newest"],
            ["key": ["workflowId": 1, "status": 1], "name": "workflow_status"],
        ])
    }

    private static let activeStatuses: BSON = [BSON(RunStatus.queued.rawValue), BSON(RunStatus.running.rawValue)]

    private static func filter(id: String) throws(OrchestratorError) -> BSONDocument {
        guard let oid = ObjectId(id) else { throw OrchestratorError.notFound("run", id) }
        return ["_id": .objectId(oid)]
    }

    public func createRun(_ run: Run) async throws(OrchestratorError) {
        let document = RunDocument.encode(run)
        try await withDatabase(pool) { client throws(MongoError) in
            try client.collection(Self.collectionName).insertOne(document)
        }
    }

    public func run(id: String) async throws(OrchestratorError) -> Run {
        let filter = try Self.filter(id: id)
        let found = try await withDatabase(pool) { client throws(MongoError) in
            try client.collection(Self.collectionName).findOne(filter)
        }
        guard let found else { throw OrchestratorError.notFound("run", id) }
        return RunDocument.decode(found)
    }

    public func listRuns(workflow: String?, status: RunStatus?, limit: Int, after: String?) async throws(OrchestratorError) -> Page<Run> {
        var v = Validator()
        v.require(Limits.pageSize.contains(limit), "limit", "must be between \(Limits.pageSize.lowerBound) and \(Limits.pageSize.upperBound)")
        if let after { v.require(ObjectId(after) != nil, "after", "must be a run id (the previous page's next)") }
        try v.check()
        var filter = BSONDocument()
        if let workflow { filter["workflowName"] = BSON(workflow) }
        if let status { filter["status"] = BSON(status.rawValue) }
        if let after = after.flatMap(ObjectId.init) { filter["_id"] = ["$lt": .objectId(after)] }
        let projection: BSONDocument = ["definition": 0, "events": 0, "steps.stdout": 0, "steps.stderr": 0]
        let documents = try await withDatabase(pool) { [filter] client throws(MongoError) in
            try client.collection(Self.collectionName).find(filter, sort: ["_id": -1], limit: limit + 1, projection: projection)
        }
        let items = documents.prefix(limit).map(RunDocument.decode)
        return Page(items: Array(items), next: documents.count > limit ? items.last?.id : nil)
    }

    public func claim(id: String, owner: String, until: Date, now: Date) async throws(OrchestratorError) -> Run? {
        var filter = try Self.filter(id: id)
        filter["status"] = ["$in": Self.activeStatuses]
        filter["$or"] = [["owner": BSON(owner)], ["owner": .null], ["leaseExpiresAt": ["$lt": BSON(now)]]]
        let update: BSONDocument = ["$set": ["owner": BSON(owner), "leaseExpiresAt": BSON(until)]]
        let idFilter = try Self.filter(id: id)
        let document = try await withDatabase(pool) { [filter] client throws(MongoError) -> BSONDocument? in
            let collection = client.collection(Self.collectionName)
            guard try collection.updateOne(filter, update).matched == 1 else { return nil }
            return try collection.findOne(idFilter)
        }
        return document.map(RunDocument.decode)
    }

    public func renew(ids: [String], owner: String, until: Date) async throws(OrchestratorError) -> [String: LeaseState] {
        let oids = ids.compactMap(ObjectId.init)
        guard !oids.isEmpty else { return [:] }
        let filter: BSONDocument = [
            "_id": ["$in": .array(oids.map { .objectId($0) })], "owner": BSON(owner), "status": ["$in": Self.activeStatuses],
        ]
        let update: BSONDocument = ["$set": ["leaseExpiresAt": BSON(until)]]
        let held = try await withDatabase(pool) { client throws(MongoError) in
            let collection = client.collection(Self.collectionName)
            _ = try collection.updateMany(filter, update)
            return try collection.find(filter, projection: ["_id": 1, "cancelRequested": 1])
        }
        var states = Dictionary(uniqueKeysWithValues: ids.map { ($0, LeaseState.lost) })
        for document in held {
            guard let id = document["_id"]?.objectIdValue?.hex else { continue }
            states[id] = .held(cancelRequested: document["cancelRequested"]?.boolValue ?? false)
        }
        return states
    }

    public func apply(_ change: RunChange, to id: String, owner: String) async throws(OrchestratorError) -> Bool {
        guard !change.isEmpty else { return true }
        var filter = try Self.filter(id: id)
        filter["owner"] = BSON(owner)
        var set = BSONDocument()
        if let status = change.status { set["status"] = BSON(status.rawValue) }
        if let startedAt = change.startedAt { set["startedAt"] = BSON(startedAt) }
        if let finishedAt = change.finishedAt { set["finishedAt"] = BSON(finishedAt) }
        if change.status?.isTerminal == true { set["owner"] = .null; set["leaseExpiresAt"] = .null }
        for (index, step) in change.steps.sorted(by: { $0.key < $1.key }) {
            set["steps.\(index)"] = .document(RunDocument.encode(step))
        }
        var update: BSONDocument = [:]
        if !set.isEmpty { update["$set"] = .document(set) }
        if !change.events.isEmpty {
            update["$push"] = ["events": ["$each": .array(change.events.map { .document(RunDocument.encode($0)) })]]
            update["$inc"] = ["eventCount": BSON(change.events.count)]
        }
        return try await withDatabase(pool) { [filter, update] client throws(MongoError) in
            try client.collection(Self.collectionName).updateOne(filter, update).matched == 1
        }
    }

    public func claimable(owner: String, now: Date, limit: Int) async throws(OrchestratorError) -> [String] {
        let filter: BSONDocument = [
            "status": ["$in": Self.activeStatuses],
            "$or": [["owner": BSON(owner)], ["owner": .null], ["leaseExpiresAt": ["$lt": BSON(now)]]],
        ]
        let documents = try await withDatabase(pool) { client throws(MongoError) in
            try client.collection(Self.collectionName).find(filter, sort: ["_id": 1], limit: limit, projection: ["_id": 1])
        }
        return documents.compactMap { $0["_id"]?.objectIdValue?.hex }
    }

    public func requestCancel(id: String, now: Date) async throws(OrchestratorError) -> Run {
        let current = try await run(id: id)
        guard current.status.isActive else {
            throw OrchestratorError.conflict("run \(id) is already \(current.status.rawValue)", details: ["status": current.status.rawValue])
        }
        var flag = try Self.filter(id: id)
        flag["status"] = ["$in": Self.activeStatuses]
        // A queued run that no daemon executes is cancelled here and now.
        var idle = try Self.filter(id: id)
        idle["status"] = BSON(RunStatus.queued.rawValue)
        idle["eventCount"] = BSON(current.events.count)
        idle["$or"] = [["owner": .null], ["leaseExpiresAt": ["$lt": BSON(now)]]]
        var set: BSONDocument = ["status": BSON(RunStatus.cancelled.rawValue), "finishedAt": BSON(now), "cancelRequested": true]
        var events: [BSON] = []
        var sequence = current.events.count
        for (index, step) in current.steps.enumerated() where !step.status.isFinal {
            var cancelled = step
            cancelled.status = .cancelled
            set["steps.\(index)"] = .document(RunDocument.encode(cancelled))
            events.append(.document(RunDocument.encode(RunEvent(sequence: sequence, step: step.name, status: StepStatus.cancelled.rawValue, at: now))))
            sequence += 1
        }
        events.append(.document(RunDocument.encode(RunEvent(sequence: sequence, step: nil, status: RunStatus.cancelled.rawValue, at: now))))
        let idleUpdate: BSONDocument = [
            "$set": .document(set), "$push": ["events": ["$each": .array(events)]], "$inc": ["eventCount": BSON(events.count)],
        ]
        try await withDatabase(pool) { [flag, idle] client throws(MongoError) in
            let collection = client.collection(Self.collectionName)
            if try collection.updateOne(idle, idleUpdate).matched == 0 {
                _ = try collection.updateOne(flag, ["$set": ["cancelRequested": true]])
            }
        }
        return try await run(id: id)
    }

    public func resume(id: String, now: Date) async throws(OrchestratorError) -> Run {
        let current = try await run(id: id)
        guard current.status == .failed || current.status == .cancelled else {
            throw OrchestratorError.conflict(
                "only a failed or cancelled run can be resumed; run \(id) is \(current.status.rawValue)",
                details: ["status": current.status.rawValue])
        }
        var filter = try Self.filter(id: id)
        filter["status"] = BSON(current.status.rawValue)
        filter["eventCount"] = BSON(current.events.count)
        var set: BSONDocument = [
            "status": BSON(RunStatus.queued.rawValue), "finishedAt": .null, "cancelRequested": false, "owner": .null,
            "leaseExpiresAt": .null,
        ]
        for (index, step) in current.steps.enumerated() where step.status != .succeeded {
            var again = step
            again.status = .pending
            set["steps.\(index)"] = .document(RunDocument.encode(again))
        }
        let event = RunEvent(sequence: current.events.count, step: nil, status: "resumed", at: now, message: "resumed from \(current.status.rawValue)")
        let update: BSONDocument = [
            "$set": .document(set), "$push": ["events": .document(RunDocument.encode(event))], "$inc": ["eventCount": 1],
        ]
        let matched = try await withDatabase(pool) { [filter] client throws(MongoError) in
            try client.collection(Self.collectionName).updateOne(filter, update).matched
        }
        guard matched == 1 else { throw OrchestratorError.conflict("run \(id) changed while resuming it; try again") }
        return try await run(id: id)
    }

    public func hasActiveRun(workflowId: String) async throws(OrchestratorError) -> Bool {
        let filter: BSONDocument = ["workflowId": BSON(workflowId), "status": ["$in": Self.activeStatuses]]
        return try await withDatabase(pool) { client throws(MongoError) in
            try client.collection(Self.collectionName).findOne(filter, projection: ["_id": 1]) != nil
        }
    }

    public func events(id: String, from sequence: Int) async throws(OrchestratorError) -> (status: RunStatus, events: [RunEvent]) {
        let filter = try Self.filter(id: id)
        let found = try await withDatabase(pool) { client throws(MongoError) in
            try client.collection(Self.collectionName).findOne(filter, projection: ["status": 1, "events": ["$slice": [BSON(sequence), 10000]]])
        }
        guard let found else { throw OrchestratorError.notFound("run", id) }
        let status = found["status"]?.stringValue.flatMap(RunStatus.init(rawValue:)) ?? .failed
        return (status, (found["events"]?.arrayValue ?? []).compactMap { $0.documentValue.map(RunDocument.decodeEvent) })
    }
}
