import Foundation
import MongoKit
import OrchestratorModel
import OrchestratorStorage

/// Workflows in the `workflows` collection, one document each with its steps
/// embedded. Step changes are single `update_one` calls guarded by their
/// filter (e.g. "no step of that name yet"), so there is no read-modify-write
/// window; when the guard fails, a follow-up read says why.
public struct MongoWorkflowStore: WorkflowStore {
    public static let collectionName = "workflows"
    public static let versionsCollectionName = "workflow_versions"
    private let pool: MongoPool

    public init(pool: MongoPool) {
        self.pool = pool
    }

    /// Creates the indexes the store relies on; safe to call on every start.
    public func prepare() async throws(OrchestratorError) {
        try await createIndexes(pool, collection: Self.collectionName, [["key": ["name": 1], "name": "name_unique", "unique": true]])
        try await createIndexes(
            pool, collection: Self.versionsCollectionName,
            [["key": ["workflowId": 1, "version": 1], "name": "workflow_version_unique", "unique": true]])
    }

    public func createWorkflow(_ workflow: Workflow) async throws(OrchestratorError) {
        let document = WorkflowDocument.encode(workflow)
        try await withDatabase(pool, onDuplicate: Self.nameTaken(workflow.name), writes: true) { client throws(MongoError) in
            try client.collection(Self.collectionName).insertOne(document)
        }
    }

    public func workflow(_ key: WorkflowKey) async throws(OrchestratorError) -> Workflow {
        let filter: BSONDocument
        switch key {
        case .name(let name): filter = ["name": BSON(name)]
        case .id(let id):
            guard let oid = ObjectId(id) else { throw OrchestratorError.notFound("workflow", id) }
            filter = ["_id": .objectId(oid)]
        }
        let found = try await withDatabase(pool) { client throws(MongoError) in
            try client.collection(Self.collectionName).findOne(filter)
        }
        guard let found else { throw OrchestratorError.notFound("workflow", key.description) }
        return WorkflowDocument.decodeWorkflow(found)
    }

    public func listWorkflows(limit: Int, after: String?) async throws(OrchestratorError) -> Page<Workflow> {
        let filter: BSONDocument = after.map { ["name": ["$gt": BSON($0)]] } ?? [:]
        // One extra document tells whether another page exists.
        let documents = try await withDatabase(pool) { client throws(MongoError) in
            try client.collection(Self.collectionName).find(filter, sort: ["name": 1], limit: limit + 1)
        }
        let items = documents.prefix(limit).map(WorkflowDocument.decodeWorkflow)
        return Page(items: Array(items), next: documents.count > limit ? items.last?.name : nil)
    }

    public func updateWorkflow(named name: String, _ changes: WorkflowChanges, _ revision: WorkflowRevision) async throws(OrchestratorError) -> Workflow {
        let filter: BSONDocument = ["name": BSON(name), "version": BSON(revision.basedOn)]
        var set = Self.revised(revision)
        if let newName = changes.name { set["name"] = BSON(newName) }
        if let description = changes.description { set["description"] = BSON(description) }
        if let locks = changes.locks { set["locks"] = .array(locks.map { BSON($0) }) }
        if let window = changes.window { set["window"] = window.map { BSON($0) } ?? .null }
        if let secretParams = changes.secretParams { set["secretParams"] = .array(secretParams.map { BSON($0) }) }
        if let steps = changes.steps {
            set["steps"] = .array(steps.map { var s = $0; s.status = .pending; return .document(WorkflowDocument.encode(s)) })
        }
        let update: BSONDocument = ["$set": .document(set), "$inc": ["version": 1]]
        let finalName = changes.name ?? name
        let onDuplicate = changes.name.map(Self.nameTaken)
        let (result, current) = try await withDatabase(pool, onDuplicate: onDuplicate, writes: true) { [filter] client throws(MongoError) in
            let collection = client.collection(Self.collectionName)
            let result = try collection.updateOne(filter, update)
            let current = try collection.findOne(["name": BSON(result.matched == 1 ? finalName : name)])
            return (result, current)
        }
        guard let current else { throw OrchestratorError.notFound("workflow", name) }
        let workflow = WorkflowDocument.decodeWorkflow(current)
        guard result.matched == 1 else { throw OrchestratorError.versionConflict(name, expected: revision.basedOn, current: workflow.version) }
        return workflow
    }

    /// The versions go after the workflow: a crash between the two leaves
    /// only versions nobody can name, never a workflow without its history.
    public func deleteWorkflow(named name: String) async throws(OrchestratorError) {
        let deleted = try await withDatabase(pool, writes: true) { client throws(MongoError) in
            let collection = client.collection(Self.collectionName)
            guard let found = try collection.findOne(["name": BSON(name)]), let id = found["_id"] else { return 0 }
            let deleted = try collection.deleteOne(["_id": id, "name": BSON(name)])
            if deleted == 1 { _ = try client.collection(Self.versionsCollectionName).deleteMany(["workflowId": id]) }
            return deleted
        }
        if deleted == 0 { throw OrchestratorError.notFound("workflow", name) }
    }

    public func keepVersion(_ workflow: Workflow) async throws(OrchestratorError) {
        guard let oid = ObjectId(workflow.id) else { throw OrchestratorError.notFound("workflow", workflow.id) }
        var document = WorkflowDocument.encode(workflow.definition)
        document["_id"] = nil
        document["workflowId"] = .objectId(oid)
        do {
            try await withDatabase(pool, onDuplicate: Self.alreadyKept, writes: true) { [document] client throws(MongoError) in
                try client.collection(Self.versionsCollectionName).insertOne(document)
            }
        } catch where error == Self.alreadyKept {
            // Kept by an earlier attempt of this change or by a concurrent one: the same definition.
        }
    }

    public func keptVersion(workflowId: String, version: Int) async throws(OrchestratorError) -> Workflow? {
        guard let oid = ObjectId(workflowId) else { return nil }
        let found = try await withDatabase(pool) { client throws(MongoError) in
            try client.collection(Self.versionsCollectionName).findOne(["workflowId": .objectId(oid), "version": BSON(version)])
        }
        return found.map { Self.decodeKept($0, workflowId: workflowId) }
    }

    public func keptVersions(workflowId: String, before: Int?, limit: Int) async throws(OrchestratorError) -> [Workflow] {
        guard let oid = ObjectId(workflowId) else { return [] }
        var filter: BSONDocument = ["workflowId": .objectId(oid)]
        if let before { filter["version"] = ["$lt": BSON(before)] }
        let documents = try await withDatabase(pool) { [filter] client throws(MongoError) in
            try client.collection(Self.versionsCollectionName).find(filter, sort: ["version": -1], limit: limit)
        }
        return documents.map { Self.decodeKept($0, workflowId: workflowId) }
    }

    private static func decodeKept(_ document: BSONDocument, workflowId: String) -> Workflow {
        var workflow = WorkflowDocument.decodeWorkflow(document)
        workflow.id = workflowId
        return workflow
    }

    private static let alreadyKept = OrchestratorError.conflict("this version is kept already")

    /// The fields every change sets besides its own.
    private static func revised(_ revision: WorkflowRevision) -> BSONDocument {
        var set: BSONDocument = ["updatedAt": BSON(Date().milliseconds)]
        set["updatedBy"] = revision.by.map { BSON(Int($0)) } ?? .null
        return set
    }

    public func addStep(_ step: Step, toWorkflow workflow: String, _ revision: WorkflowRevision) async throws(OrchestratorError) -> Workflow {
        var newStep = step
        newStep.status = .pending
        let filter: BSONDocument = [
            "name": BSON(workflow),
            "version": BSON(revision.basedOn),
            "steps.name": ["$ne": BSON(step.name)],
            // The guard on the array's length keeps the step limit without a read first.
            "steps.\(Limits.stepsPerWorkflow - 1)": ["$exists": false],
        ]
        let update: BSONDocument = [
            "$push": ["steps": .document(WorkflowDocument.encode(newStep))],
            "$inc": ["version": 1],
            "$set": .document(Self.revised(revision)),
        ]
        return try await guardedStepChange(workflow: workflow, revision, filter: filter, update: update) { current throws(OrchestratorError) in
            if current.steps.contains(where: { $0.name == step.name }) {
                throw OrchestratorError.conflict("workflow '\(workflow)' already has a step named '\(step.name)'")
            }
            throw OrchestratorError.validation([FieldError(field: "step", message: "a workflow holds at most \(Limits.stepsPerWorkflow) steps")])
        }
    }

    public func updateStep(named name: String, inWorkflow workflow: String, _ changes: StepChanges, _ revision: WorkflowRevision) async throws(OrchestratorError) -> Workflow {
        var filter: BSONDocument = ["name": BSON(workflow), "version": BSON(revision.basedOn), "steps.name": BSON(name)]
        let renaming = changes.name.flatMap { $0 == name ? nil : $0 }
        if let renaming {
            filter["$and"] = [["steps.name": BSON(name)], ["steps.name": ["$ne": BSON(renaming)]]]
            filter["steps.name"] = nil
        }
        var fields = Self.revised(revision)
        for field in WorkflowDocument.stepUpdate(changes).fields { fields[field.key] = field.value }
        let update: BSONDocument = ["$set": .document(fields), "$inc": ["version": 1]]
        return try await guardedStepChange(
            workflow: workflow, revision, filter: filter, update: update, arrayFilters: [["s.name": BSON(name)]]
        ) { current throws(OrchestratorError) in
            guard current.steps.contains(where: { $0.name == name }) else {
                throw OrchestratorError.notFound("step", "\(workflow)/\(name)")
            }
            throw OrchestratorError.conflict("workflow '\(workflow)' already has a step named '\(renaming ?? name)'")
        }
    }

    public func deleteStep(named name: String, fromWorkflow workflow: String, _ revision: WorkflowRevision) async throws(OrchestratorError) -> Workflow {
        let filter: BSONDocument = ["name": BSON(workflow), "version": BSON(revision.basedOn), "steps.name": BSON(name)]
        let update: BSONDocument = [
            "$pull": ["steps": ["name": BSON(name)]],
            "$inc": ["version": 1],
            "$set": .document(Self.revised(revision)),
        ]
        return try await guardedStepChange(workflow: workflow, revision, filter: filter, update: update) { _ throws(OrchestratorError) in
            throw OrchestratorError.notFound("step", "\(workflow)/\(name)")
        }
    }

    /// Applies a filtered update to one workflow and returns it afterwards.
    /// When the filter matched nothing, `explain` turns the workflow as it is
    /// now into the error (a missing workflow is always NotFound, a moved
    /// version always a version conflict).
    private func guardedStepChange(
        workflow: String, _ revision: WorkflowRevision, filter: BSONDocument, update: BSONDocument, arrayFilters: [BSON]? = nil,
        explain: (Workflow) throws(OrchestratorError) -> Never
    ) async throws(OrchestratorError) -> Workflow {
        let (matched, document) = try await withDatabase(pool, writes: true) { client throws(MongoError) in
            let collection = client.collection(Self.collectionName)
            let result = try collection.updateOne(filter, update, arrayFilters: arrayFilters)
            return (result.matched == 1, try collection.findOne(["name": BSON(workflow)]))
        }
        guard let document else { throw OrchestratorError.notFound("workflow", workflow) }
        let current = WorkflowDocument.decodeWorkflow(document)
        if !matched {
            if current.version != revision.basedOn {
                throw OrchestratorError.versionConflict(workflow, expected: revision.basedOn, current: current.version)
            }
            try explain(current)
        }
        return current
    }

    public func markLatestRun(workflowId: String, runId: String, showing statuses: [String: StepStatus]) async throws(OrchestratorError) {
        guard let oid = ObjectId(workflowId) else { throw OrchestratorError.notFound("workflow", workflowId) }
        var (set, filters) = Self.statusChanges(statuses)
        set["lastRunId"] = BSON(runId)
        if statuses.isEmpty {
            set["steps.$[].status"] = BSON(StepStatus.pending.rawValue)
        } else {
            // Every other step: a filter of its own, as `$[]` would overlap the named ones.
            set["steps.$[others].status"] = BSON(StepStatus.pending.rawValue)
            filters.append(["others.name": ["$nin": .array(statuses.keys.sorted().map { BSON($0) })]])
        }
        let update: BSONDocument = ["$set": .document(set)]
        _ = try await withDatabase(pool) { [filters] client throws(MongoError) in
            // Ids are ObjectIds in hex: their order is their creation's (by second, then within one daemon).
            try client.collection(Self.collectionName).updateOne(
                ["_id": .objectId(oid), "$or": [["lastRunId": ["$exists": false]], ["lastRunId": ["$lte": BSON(runId)]]]],
                update, arrayFilters: filters.isEmpty ? nil : filters)
        }
    }

    public func recordStepStatuses(workflowId: String, runId: String, _ statuses: [String: StepStatus]) async throws(OrchestratorError) {
        guard let oid = ObjectId(workflowId), !statuses.isEmpty else { return }
        let (set, filters) = Self.statusChanges(statuses)
        let update: BSONDocument = ["$set": .document(set)]
        _ = try await withDatabase(pool) { [filters] client throws(MongoError) in
            try client.collection(Self.collectionName).updateOne(
                ["_id": .objectId(oid), "lastRunId": BSON(runId)], update, arrayFilters: filters)
        }
    }

    /// The `$set` and array filters that show `statuses`. One array filter
    /// per status, not per step: a server evaluates every filter against
    /// every step of the workflow (SecantusDB spent tens of milliseconds
    /// per write on 200 filters over 200 steps).
    private static func statusChanges(_ statuses: [String: StepStatus]) -> (set: BSONDocument, filters: [BSON]) {
        let byStatus = Dictionary(grouping: statuses, by: \.value)
        var set = BSONDocument()
        var filters: [BSON] = []
        for (index, (status, steps)) in byStatus.sorted(by: { $0.key.rawValue < $1.key.rawValue }).enumerated() {
            set["steps.$[s\(index)].status"] = BSON(status.rawValue)
            filters.append(["s\(index).name": ["$in": .array(steps.map(\.key).sorted().map { BSON($0) })]])
        }
        return (set, filters)
    }

    private static func nameTaken(_ name: String) -> OrchestratorError {
        OrchestratorError.conflict("a workflow named '\(name)' already exists", details: ["name": name])
    }
}
