import Foundation
import MongoKit
import OrchestratorModel
import OrchestratorStorage

/// The shape of runs in the `runs` collection. Besides the Run model a
/// document holds its lease (`owner`, `leaseExpiresAt`), `eventCount`, and
/// how far its log is folded into it (`logNext`, and `logWriter`, the owner
/// that folded it last; see RunLogDocument).
enum RunDocument {
    static func encode(_ run: Run) -> BSONDocument {
        var doc: BSONDocument = [
            "workflowId": BSON(run.workflowId),
            "workflowName": BSON(run.workflowName),
            "workflowVersion": BSON(run.workflowVersion),
            "definition": .array(run.definition.map { .document(WorkflowDocument.encode($0)) }),
            "params": .document(BSONDocument(run.params.sorted { $0.key < $1.key }.map { ($0.key, BSON($0.value)) })),
            "status": BSON(run.status.rawValue),
            "steps": .array(run.steps.map { .document(encode($0)) }),
            "requestedBy": ["uid": BSON(Int(run.requestedBy.uid)), "gid": BSON(Int(run.requestedBy.gid)), "pid": BSON(Int(run.requestedBy.pid))],
            "createdAt": BSON(run.createdAt),
            "startedAt": BSON(run.startedAt),
            "finishedAt": BSON(run.finishedAt),
            "cancelRequested": BSON(run.cancelRequested),
            "events": .array(run.events.map { .document(encode($0)) }),
            "eventCount": BSON(run.events.count),
            "owner": .null,
            "leaseExpiresAt": .null,
            "logNext": 0,
            "logWriter": .null,
        ]
        if let id = ObjectId(run.id) { doc["_id"] = .objectId(id) }
        if let requestId = run.requestId { doc["requestId"] = BSON(requestId) }
        if let fleet = run.fleet { doc["fleet"] = encode(fleet) }
        if !run.locks.isEmpty { doc["locks"] = .array(run.locks.map { BSON($0) }) }
        if let window = run.window { doc["window"] = .document(MongoScheduleStore.encode(window)) }
        if let schedule = run.schedule { doc["schedule"] = BSON(schedule) }
        if !run.secrets.isEmpty { doc["secrets"] = .array(run.secrets.map { BSON($0) }) }
        if !run.secretParams.isEmpty { doc["secretParams"] = .array(run.secretParams.map { BSON($0) }) }
        if let keeper = run.keeper { doc["keeper"] = BSON(keeper) }
        if let membership = run.membership {
            doc["fleetRunId"] = BSON(membership.fleetRunId)
            doc["target"] = .document(encode(membership.target))
            doc["fleetResumes"] = BSON(membership.fleetResumesAtStart)
        }
        return doc
    }

    static func encode(_ selector: TargetSelector) -> BSON {
        switch selector {
        case .names(let names): ["names": .array(names.map { BSON($0) })]
        case .labels(let labels): ["labels": .document(strings(labels))]
        }
    }

    static func decodeSelector(_ doc: BSONDocument) -> TargetSelector {
        doc["names"].map { .names(($0.arrayValue ?? []).compactMap(\.stringValue)) } ?? .labels(strings(doc["labels"]))
    }

    static func encode(_ fleet: Fleet) -> BSON {
        [
            "selector": encode(fleet.selector), "batchSize": BSON(fleet.batchSize.description), "maxFailPercentage": BSON(fleet.maxFailPercentage),
            "targetCount": BSON(fleet.targetCount), "batchCount": BSON(fleet.batchCount),
            "targets": .array(fleet.targets.map { .document(encode($0)) }),
        ]
    }

    static func encode(_ target: FleetTarget) -> BSONDocument {
        ["name": BSON(target.name), "labels": .document(strings(target.labels)), "vars": .document(strings(target.vars)),
         "batch": BSON(target.batch), "runId": BSON(target.runId)]
    }

    static func strings(_ map: [String: String]) -> BSONDocument {
        BSONDocument(map.sorted { $0.key < $1.key }.map { ($0.key, BSON($0.value)) })
    }

    static func strings(_ doc: BSON?) -> [String: String] {
        Dictionary((doc?.documentValue?.fields ?? []).compactMap { field in field.value.stringValue.map { (field.key, $0) } }) { first, _ in first }
    }

    static func decodeFleet(_ doc: BSONDocument) -> Fleet? {
        guard let selectorDoc = doc["selector"]?.documentValue else { return nil }
        let selector = decodeSelector(selectorDoc)
        return Fleet(
            selector: selector, batchSize: doc["batchSize"]?.stringValue.flatMap(BatchSize.init) ?? .percent(100),
            maxFailPercentage: doc["maxFailPercentage"]?.intValue ?? 0,
            targets: (doc["targets"]?.arrayValue ?? []).compactMap { $0.documentValue.map(decodeTarget) },
            targetCount: doc["targetCount"]?.intValue ?? 0, batchCount: doc["batchCount"]?.intValue ?? 0)
    }

    static func decodeTarget(_ doc: BSONDocument) -> FleetTarget {
        FleetTarget(
            name: doc["name"]?.stringValue ?? "", labels: strings(doc["labels"]), vars: strings(doc["vars"]),
            batch: doc["batch"]?.intValue ?? 1, runId: doc["runId"]?.stringValue ?? "")
    }

    static func logNext(_ doc: BSONDocument) -> Int { doc["logNext"]?.intValue ?? 0 }

    static func encode(_ step: RunStep) -> BSONDocument {
        var doc: BSONDocument = [
            "name": BSON(step.name), "executionOrder": BSON(step.executionOrder), "status": BSON(step.status.rawValue),
            "attempts": BSON(step.attempts), "exitCode": BSON(step.exitCode), "startedAt": BSON(step.startedAt),
            "finishedAt": BSON(step.finishedAt), "error": BSON(step.error), "stdout": BSON(step.stdout), "stderr": BSON(step.stderr),
        ]
        doc["process"] = step.process.map { encode($0) } ?? .null
        if let retryAt = step.retryAt { doc["retryAt"] = BSON(retryAt) }
        if let wait = step.waitingFor { doc["waitingFor"] = ["lock": BSON(wait.lock), "runId": BSON(wait.runId), "step": BSON(wait.step)] }
        if !step.decisions.isEmpty { doc["decisions"] = .array(step.decisions.map { .document(encode($0)) }) }
        if let rollback = step.rollback {
            doc["rollback"] = [
                "startedAt": BSON(rollback.startedAt), "finishedAt": BSON(rollback.finishedAt), "exitCode": BSON(rollback.exitCode),
                "error": BSON(rollback.error), "stdout": BSON(rollback.stdout), "stderr": BSON(rollback.stderr),
            ]
        }
        return doc
    }

    /// A decision as the `approvals` collection keeps it (and a step's record, when it ends).
    static func encode(_ decision: ApprovalDecision) -> BSONDocument {
        [
            "runId": BSON(decision.runId), "step": BSON(decision.step), "attempt": BSON(decision.attempt), "uid": BSON(Int(decision.uid)),
            "approved": BSON(decision.approved), "comment": BSON(decision.comment), "at": BSON(decision.at),
        ]
    }

    static func decodeDecision(_ doc: BSONDocument) -> ApprovalDecision {
        ApprovalDecision(
            runId: doc["runId"]?.stringValue ?? "", step: doc["step"]?.stringValue ?? "", attempt: doc["attempt"]?.intValue ?? 0,
            uid: UInt32(clamping: doc["uid"]?.intValue ?? 0), approved: doc["approved"]?.boolValue ?? false,
            comment: doc["comment"]?.stringValue ?? "", at: doc["at"]?.dateValue ?? Date(timeIntervalSince1970: 0))
    }

    static func encode(_ process: StepProcess) -> BSON {
        ["host": BSON(process.host), "pid": BSON(Int(process.pid)), "startTicks": .int64(Int64(bitPattern: process.startTicks))]
    }

    static func encode(_ event: RunEvent) -> BSONDocument {
        var doc: BSONDocument = ["sequence": BSON(event.sequence), "status": BSON(event.status), "at": BSON(event.at)]
        if let step = event.step { doc["step"] = BSON(step) }
        if let target = event.target { doc["target"] = BSON(target) }
        if let batch = event.batch { doc["batch"] = BSON(batch) }
        if let attempt = event.attempt { doc["attempt"] = BSON(attempt) }
        if let exitCode = event.exitCode { doc["exitCode"] = BSON(exitCode) }
        if let message = event.message { doc["message"] = BSON(message) }
        return doc
    }

    static func decode(_ doc: BSONDocument) -> Run {
        let requester = doc["requestedBy"]?.documentValue ?? BSONDocument()
        var params: [String: String] = [:]
        for field in doc["params"]?.documentValue?.fields ?? [] {
            if let value = field.value.stringValue { params[field.key] = value }
        }
        return Run(
            id: doc["_id"]?.objectIdValue?.hex ?? "",
            workflowId: doc["workflowId"]?.stringValue ?? "",
            workflowName: doc["workflowName"]?.stringValue ?? "",
            workflowVersion: doc["workflowVersion"]?.intValue ?? 0,
            definition: (doc["definition"]?.arrayValue ?? []).compactMap { $0.documentValue.map(WorkflowDocument.decodeStep) },
            params: params,
            status: doc["status"]?.stringValue.flatMap(RunStatus.init(rawValue:)) ?? .failed,
            steps: (doc["steps"]?.arrayValue ?? []).compactMap { $0.documentValue.map(decodeStep) },
            requestedBy: Requester(
                uid: UInt32(clamping: requester["uid"]?.intValue ?? 0), gid: UInt32(clamping: requester["gid"]?.intValue ?? 0),
                pid: Int32(clamping: requester["pid"]?.intValue ?? 0)),
            createdAt: doc["createdAt"]?.dateValue ?? Date(timeIntervalSince1970: 0),
            startedAt: doc["startedAt"]?.dateValue,
            finishedAt: doc["finishedAt"]?.dateValue,
            cancelRequested: doc["cancelRequested"]?.boolValue ?? false,
            events: (doc["events"]?.arrayValue ?? []).compactMap { $0.documentValue.map(decodeEvent) },
            requestId: doc["requestId"]?.stringValue,
            fleet: doc["fleet"]?.documentValue.flatMap(decodeFleet),
            membership: doc["fleetRunId"]?.stringValue.map { fleetRunId in
                FleetMembership(
                    fleetRunId: fleetRunId, target: doc["target"]?.documentValue.map(decodeTarget) ?? FleetTarget(name: "", batch: 1, runId: ""),
                    fleetResumesAtStart: doc["fleetResumes"]?.intValue ?? 0)
            },
            locks: (doc["locks"]?.arrayValue ?? []).compactMap(\.stringValue),
            window: doc["window"]?.documentValue.map(MongoScheduleStore.decodeWindow),
            schedule: doc["schedule"]?.stringValue,
            secrets: (doc["secrets"]?.arrayValue ?? []).compactMap(\.stringValue),
            secretParams: (doc["secretParams"]?.arrayValue ?? []).compactMap(\.stringValue),
            keeper: doc["keeper"]?.stringValue
        )
    }

    static func decodeStep(_ doc: BSONDocument) -> RunStep {
        var process: StepProcess?
        if let p = doc["process"]?.documentValue, let host = p["host"]?.stringValue, let pid = p["pid"]?.intValue {
            let ticks: UInt64
            if case .int64(let raw)? = p["startTicks"] { ticks = UInt64(bitPattern: raw) } else { ticks = UInt64(p["startTicks"]?.intValue ?? 0) }
            process = StepProcess(host: host, pid: Int32(clamping: pid), startTicks: ticks)
        }
        return RunStep(
            name: doc["name"]?.stringValue ?? "",
            executionOrder: doc["executionOrder"]?.intValue ?? 0,
            status: doc["status"]?.stringValue.flatMap(StepStatus.init(rawValue:)) ?? .pending,
            attempts: doc["attempts"]?.intValue ?? 0,
            exitCode: doc["exitCode"]?.intValue,
            startedAt: doc["startedAt"]?.dateValue,
            finishedAt: doc["finishedAt"]?.dateValue,
            error: doc["error"]?.stringValue,
            stdout: doc["stdout"]?.stringValue ?? "",
            stderr: doc["stderr"]?.stringValue ?? "",
            process: process,
            retryAt: doc["retryAt"]?.dateValue,
            waitingFor: doc["waitingFor"]?.documentValue.flatMap { w in
                w["lock"]?.stringValue.map { LockWait(lock: $0, runId: w["runId"]?.stringValue ?? "", step: w["step"]?.stringValue) }
            },
            decisions: (doc["decisions"]?.arrayValue ?? []).compactMap { $0.documentValue.map(decodeDecision) },
            rollback: doc["rollback"]?.documentValue.map { r in
                RollbackRecord(
                    startedAt: r["startedAt"]?.dateValue, finishedAt: r["finishedAt"]?.dateValue, exitCode: r["exitCode"]?.intValue,
                    error: r["error"]?.stringValue, stdout: r["stdout"]?.stringValue ?? "", stderr: r["stderr"]?.stringValue ?? "")
            }
        )
    }

    static func decodeEvent(_ doc: BSONDocument) -> RunEvent {
        RunEvent(
            sequence: doc["sequence"]?.intValue ?? 0, step: doc["step"]?.stringValue, status: doc["status"]?.stringValue ?? "",
            at: doc["at"]?.dateValue ?? Date(timeIntervalSince1970: 0), attempt: doc["attempt"]?.intValue,
            exitCode: doc["exitCode"]?.intValue, message: doc["message"]?.stringValue, target: doc["target"]?.stringValue,
            batch: doc["batch"]?.intValue)
    }
}
