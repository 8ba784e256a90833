import Foundation
import MongoKit
import OrchestratorModel
import OrchestratorStorage

/// The shape of workflows in the `workflows` collection. Reading is lenient
/// (a missing field takes its default) so documents written by an older
/// version of the daemon stay readable.
enum WorkflowDocument {
    static func encode(_ workflow: Workflow) -> BSONDocument {
        var doc: BSONDocument = [
            "name": BSON(workflow.name),
            "description": BSON(workflow.description),
            "steps": .array(workflow.steps.map { .document(encode($0)) }),
            "locks": .array(workflow.locks.map { BSON($0) }),
            "version": BSON(workflow.version),
            "createdAt": BSON(workflow.createdAt),
            "updatedAt": BSON(workflow.updatedAt),
        ]
        if let id = ObjectId(workflow.id) { doc["_id"] = .objectId(id) }
        if let by = workflow.updatedBy { doc["updatedBy"] = BSON(Int(by)) }
        if let window = workflow.window { doc["window"] = BSON(window) }
        if !workflow.secretParams.isEmpty { doc["secretParams"] = .array(workflow.secretParams.map { BSON($0) }) }
        return doc
    }

    static func encode(_ step: Step) -> BSONDocument {
        var doc: BSONDocument = [
            "name": BSON(step.name),
            "description": BSON(step.description),
            "executionOrder": BSON(step.executionOrder),
            "action": .document(encode(step.action)),
            "retries": BSON(step.retries),
            "retryDelaySeconds": BSON(step.retryDelaySeconds),
            "continueOnFailure": BSON(step.continueOnFailure),
            "idempotent": BSON(step.idempotent),
            "status": BSON(step.status.rawValue),
        ]
        if let timeout = step.timeoutSeconds { doc["timeoutSeconds"] = BSON(timeout) }
        if !step.locks.isEmpty { doc["locks"] = .array(step.locks.map { BSON($0) }) }
        if let approval = step.approval { doc["approval"] = .document(encode(approval)) }
        if let rollback = step.rollback { doc["rollback"] = .document(encode(rollback)) }
        if !step.secrets.isEmpty { doc["secrets"] = .array(step.secrets.map { BSON($0) }) }
        if let runAs = step.runAs { doc["runAs"] = .document(encode(runAs)) }
        return doc
    }

    static func encode(_ runAs: RunAs) -> BSONDocument {
        var doc: BSONDocument = ["user": BSON(runAs.user)]
        if let group = runAs.group { doc["group"] = BSON(group) }
        return doc
    }

    static func decodeRunAs(_ doc: BSONDocument) -> RunAs? {
        doc["user"]?.stringValue.map { RunAs(user: $0, group: doc["group"]?.stringValue) }
    }

    static func encode(_ approval: Approval) -> BSONDocument {
        var doc: BSONDocument = ["approvers": BSON(approval.approvers), "notStarter": BSON(approval.notStarter)]
        if let group = approval.group { doc["group"] = BSON(group) }
        if let timeout = approval.timeoutSeconds { doc["timeoutSeconds"] = BSON(timeout) }
        return doc
    }

    static func decodeApproval(_ doc: BSONDocument) -> Approval {
        Approval(
            approvers: doc["approvers"]?.intValue ?? 1, group: doc["group"]?.stringValue,
            notStarter: doc["notStarter"]?.boolValue ?? true, timeoutSeconds: doc["timeoutSeconds"]?.intValue)
    }

    static func encode(_ action: Action) -> BSONDocument {
        var doc: BSONDocument = [
            "exec": .array(action.exec.map { BSON($0) }),
            "env": .document(BSONDocument(action.env.sorted { $0.key < $1.key }.map { ($0.key, BSON($0.value)) })),
        ]
        if let cwd = action.cwd { doc["cwd"] = BSON(cwd) }
        return doc
    }

    static func decodeWorkflow(_ doc: BSONDocument) -> Workflow {
        Workflow(
            id: doc["_id"]?.objectIdValue?.hex ?? "",
            name: doc["name"]?.stringValue ?? "",
            description: doc["description"]?.stringValue ?? "",
            steps: (doc["steps"]?.arrayValue ?? []).compactMap { $0.documentValue.map(decodeStep) },
            locks: (doc["locks"]?.arrayValue ?? []).compactMap(\.stringValue),
            version: doc["version"]?.intValue ?? 1,
            createdAt: doc["createdAt"]?.dateValue ?? Date(timeIntervalSince1970: 0),
            updatedAt: doc["updatedAt"]?.dateValue ?? Date(timeIntervalSince1970: 0),
            updatedBy: doc["updatedBy"]?.intValue.flatMap(UInt32.init(exactly:)),
            window: doc["window"]?.stringValue,
            secretParams: (doc["secretParams"]?.arrayValue ?? []).compactMap(\.stringValue)
        )
    }

    static func decodeStep(_ doc: BSONDocument) -> Step {
        Step(
            name: doc["name"]?.stringValue ?? "",
            description: doc["description"]?.stringValue ?? "",
            executionOrder: doc["executionOrder"]?.intValue ?? 0,
            action: decodeAction(doc["action"]?.documentValue ?? BSONDocument()),
            timeoutSeconds: doc["timeoutSeconds"]?.intValue,
            retries: doc["retries"]?.intValue ?? 0,
            retryDelaySeconds: doc["retryDelaySeconds"]?.intValue ?? 1,
            continueOnFailure: doc["continueOnFailure"]?.boolValue ?? false,
            idempotent: doc["idempotent"]?.boolValue ?? false,
            locks: (doc["locks"]?.arrayValue ?? []).compactMap(\.stringValue),
            approval: doc["approval"]?.documentValue.map(decodeApproval),
            rollback: doc["rollback"]?.documentValue.map(decodeAction),
            secrets: (doc["secrets"]?.arrayValue ?? []).compactMap(\.stringValue),
            runAs: doc["runAs"]?.documentValue.flatMap(decodeRunAs),
            status: doc["status"]?.stringValue.flatMap(StepStatus.init(rawValue:)) ?? .pending
        )
    }

    static func decodeAction(_ doc: BSONDocument) -> Action {
        var env: [String: String] = [:]
        for field in doc["env"]?.documentValue?.fields ?? [] {
            if let value = field.value.stringValue { env[field.key] = value }
        }
        return Action(
            exec: (doc["exec"]?.arrayValue ?? []).compactMap(\.stringValue),
            env: env,
            cwd: doc["cwd"]?.stringValue
        )
    }

    /// `$set` fields for a step update, addressed through the array filter `s`.
    /// A removed timeout is set to null rather than `$unset`, so the whole
    /// change is one operator whose field order is under our control.
    static func stepUpdate(_ changes: StepChanges) -> BSONDocument {
        var set = BSONDocument()
        let prefix = "steps.$[s]."
        if let description = changes.description { set[prefix + "description"] = BSON(description) }
        if let order = changes.executionOrder { set[prefix + "executionOrder"] = BSON(order) }
        if let action = changes.action { set[prefix + "action"] = .document(encode(action)) }
        switch changes.timeoutSeconds {
        case .some(.some(let timeout)): set[prefix + "timeoutSeconds"] = BSON(timeout)
        case .some(.none): set[prefix + "timeoutSeconds"] = .null
        case .none: break
        }
        if let retries = changes.retries { set[prefix + "retries"] = BSON(retries) }
        if let delay = changes.retryDelaySeconds { set[prefix + "retryDelaySeconds"] = BSON(delay) }
        if let flag = changes.continueOnFailure { set[prefix + "continueOnFailure"] = BSON(flag) }
        if let flag = changes.idempotent { set[prefix + "idempotent"] = BSON(flag) }
        if let locks = changes.locks { set[prefix + "locks"] = .array(locks.map { BSON($0) }) }
        if let secrets = changes.secrets { set[prefix + "secrets"] = .array(secrets.map { BSON($0) }) }
        if let runAs = changes.runAs { set[prefix + "runAs"] = runAs.map { .document(encode($0)) } ?? .null }
        // The rename goes last: some servers (SecantusDB) re-evaluate the array
        // filter, which matches on the old name, after each field they set.
        if let name = changes.name { set[prefix + "name"] = BSON(name) }
        return set
    }
}
