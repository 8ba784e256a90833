import OrchestratorModel

/// The domain as the wire shows it, and wire params as domain inputs. This
/// file is the one edge where JSON-RPC meets the model.
extension Action {
    public var json: JSONValue {
        var o: [String: JSONValue] = ["exec": .array(exec.map { .string($0) }), "env": .object(env.mapValues { .string($0) })]
        if let cwd { o["cwd"] = .string(cwd) }
        return .object(o)
    }

    static let keys: Set<String> = ["exec", "env", "cwd"]

    public init(params: ParamReader) throws(RPCError) {
        try params.allowOnly(Self.keys)
        self.init(exec: try params.stringArray("exec"), env: try params.optionalStringMap("env") ?? [:], cwd: try params.optionalString("cwd"))
    }
}

extension Approval {
    public var json: JSONValue {
        var o: [String: JSONValue] = ["approvers": JSONValue(approvers), "notStarter": .bool(notStarter)]
        if let group { o["group"] = .string(group) }
        if let timeoutSeconds { o["timeoutSeconds"] = JSONValue(timeoutSeconds) }
        return .object(o)
    }

    public init(params: ParamReader) throws(RPCError) {
        try params.allowOnly(["approvers", "group", "notStarter", "timeoutSeconds"])
        self.init(
            approvers: try params.optionalInt("approvers") ?? 1, group: try params.optionalString("group"),
            notStarter: try params.optionalBool("notStarter") ?? true, timeoutSeconds: try params.optionalInt("timeoutSeconds"))
    }
}

extension Step {
    /// An approval step has `approval` and no `action`.
    public var json: JSONValue {
        var o: [String: JSONValue] = [
            "name": .string(name), "description": .string(description), "executionOrder": JSONValue(executionOrder),
            "timeoutSeconds": JSONValue(timeoutSeconds), "retries": JSONValue(retries),
            "retryDelaySeconds": JSONValue(retryDelaySeconds), "continueOnFailure": .bool(continueOnFailure),
            "idempotent": .bool(idempotent), "locks": .array(locks.map { .string($0) }), "status": .string(status.rawValue),
        ]
        if let approval { o["approval"] = approval.json } else { o["action"] = action.json }
        if let rollback { o["rollback"] = rollback.json }
        if !secrets.isEmpty { o["secrets"] = .array(secrets.map { .string($0) }) }
        if let runAs { o["runAs"] = runAs.json }
        return .object(o)
    }

    /// `status` is accepted (so `workflow.get` output can be fed back) but ignored.
    static let keys: Set<String> = [
        "name", "description", "executionOrder", "action", "approval", "rollback", "timeoutSeconds", "retries", "retryDelaySeconds",
        "continueOnFailure", "idempotent", "locks", "secrets", "runAs", "status",
    ]

    public init(params: ParamReader) throws(RPCError) {
        try params.allowOnly(Self.keys)
        let approval = try params.optionalObject("approval").map { (r) throws(RPCError) in try Approval(params: r) }
        // An approval step runs nothing; an action given with it is kept, for validation to refuse.
        let action = approval != nil && !params.has("action") ? Action(exec: []) : try Action(params: params.object("action"))
        self.init(
            name: try params.string("name"),
            description: try params.optionalString("description") ?? "",
            executionOrder: try params.int("executionOrder"),
            action: action,
            timeoutSeconds: try params.optionalInt("timeoutSeconds"),
            retries: try params.optionalInt("retries") ?? 0,
            retryDelaySeconds: try params.optionalInt("retryDelaySeconds") ?? 1,
            continueOnFailure: try params.optionalBool("continueOnFailure") ?? false,
            idempotent: try params.optionalBool("idempotent") ?? false,
            locks: try params.optionalStringArray("locks") ?? [],
            approval: approval,
            rollback: try params.optionalObject("rollback").map { (r) throws(RPCError) in try Action(params: r) },
            secrets: try params.optionalStringArray("secrets") ?? [],
            runAs: try params.optionalObject("runAs").map { (r) throws(RPCError) in try RunAs(params: r) }
        )
    }
}

extension RunAs {
    public var json: JSONValue {
        var o: [String: JSONValue] = ["user": .string(user)]
        if let group { o["group"] = .string(group) }
        return .object(o)
    }

    public init(params: ParamReader) throws(RPCError) {
        try params.allowOnly(["user", "group"])
        self.init(user: try params.string("user"), group: try params.optionalString("group"))
    }
}

extension Workflow {
    public var json: JSONValue {
        var o: [String: JSONValue] = [
            "id": .string(id), "name": .string(name), "description": .string(description),
            "steps": .array(orderedSteps.map(\.json)), "locks": .array(locks.map { .string($0) }), "version": JSONValue(version),
            "createdAt": JSONValue(createdAt), "updatedAt": JSONValue(updatedAt),
        ]
        if let updatedBy { o["updatedBy"] = JSONValue(Int(updatedBy)) }
        if let window { o["window"] = .string(window) }
        if !secretParams.isEmpty { o["secretParams"] = .array(secretParams.map { .string($0) }) }
        return .object(o)
    }
}

extension FieldChange {
    public var json: JSONValue { ["field": .string(field), "from": JSONValue(from), "to": JSONValue(to)] }
}

extension StepDiff {
    public var json: JSONValue {
        var o: [String: JSONValue] = ["step": .string(step), "change": .string(change.rawValue)]
        if let renamedFrom { o["renamedFrom"] = .string(renamedFrom) }
        if change == .changed { o["fields"] = .array(fields.map(\.json)) }
        return .object(o)
    }
}

extension WorkflowDiff {
    /// `to` is null when the newer side is a draft; `changed` says whether anything differs.
    public var json: JSONValue {
        [
            "workflow": .string(workflow), "from": JSONValue(from), "to": JSONValue(to), "changed": .bool(!isEmpty),
            "fields": .array(fields.map(\.json)), "steps": .array(steps.map(\.json)),
        ]
    }
}

extension WorkflowHistoryEntry {
    public var json: JSONValue {
        var o: [String: JSONValue] = [
            "version": JSONValue(version), "name": .string(name), "updatedAt": JSONValue(updatedAt),
            "changes": .array(changes.map { .string($0) }),
        ]
        if let updatedBy { o["updatedBy"] = JSONValue(Int(updatedBy)) }
        return .object(o)
    }
}

extension WorkflowDraft {
    /// `id`, `version` and the timestamps are accepted and ignored, so the
    /// output of `workflow.get` can be sent back as a definition.
    public init(params: ParamReader) throws(RPCError) {
        try params.allowOnly(["name", "description", "steps", "locks", "window", "secretParams", "id", "version", "createdAt", "updatedAt", "updatedBy"])
        self.init(
            name: try params.string("name"),
            description: try params.optionalString("description") ?? "",
            steps: try Self.steps(params),
            locks: try params.optionalStringArray("locks") ?? [],
            window: try params.optionalString("window"),
            secretParams: try params.optionalStringArray("secretParams") ?? []
        )
    }

    static func steps(_ params: ParamReader) throws(RPCError) -> [Step] {
        var steps: [Step] = []
        for reader in try params.optionalObjectArray("steps") ?? [] {
            steps.append(try Step(params: reader))
        }
        return steps
    }
}

extension WorkflowChanges {
    /// `workflow.update`: `name` addresses the workflow, `newName` renames it.
    public init(params: ParamReader) throws(RPCError) {
        try params.allowOnly(["name", "newName", "description", "steps", "locks", "window", "secretParams", "expectedVersion"])
        self.init(
            name: try params.optionalString("newName"),
            description: try params.optionalString("description"),
            steps: params.has("steps") ? try WorkflowDraft.steps(params) : nil,
            locks: try params.optionalStringArray("locks"),
            // Present and null: unbind the window.
            window: params.has("window") ? .some(try params.optionalString("window")) : nil,
            secretParams: try params.optionalStringArray("secretParams"),
            expectedVersion: try params.optionalInt("expectedVersion")
        )
    }
}

extension StepChanges {
    /// `step.update`: the fields to replace; `timeoutSeconds: null` removes the timeout.
    public init(params: ParamReader) throws(RPCError) {
        try params.allowOnly(Step.keys.subtracting(["status"]))
        self.init(
            name: try params.optionalString("name"),
            description: try params.optionalString("description"),
            executionOrder: try params.optionalInt("executionOrder"),
            action: try params.optionalObject("action").map { (reader) throws(RPCError) in try Action(params: reader) },
            timeoutSeconds: try params.clearableInt("timeoutSeconds"),
            retries: try params.optionalInt("retries"),
            retryDelaySeconds: try params.optionalInt("retryDelaySeconds"),
            continueOnFailure: try params.optionalBool("continueOnFailure"),
            idempotent: try params.optionalBool("idempotent"),
            locks: try params.optionalStringArray("locks"),
            secrets: try params.optionalStringArray("secrets"),
            // Present and null: the step runs as the daemon's user again.
            runAs: params.has("runAs") ? .some(try params.optionalObject("runAs").map { (r) throws(RPCError) in try RunAs(params: r) }) : nil
        )
    }
}

extension OrchestratorError {
    /// The one place where domain errors become JSON-RPC errors.
    public var rpcError: RPCError {
        switch kind {
        case .notFound(let resource, let key):
            let keyName = ObjectIdRule.isValid(key) ? "id" : "name"
            return RPCError(.notFound, message, data: .object(["kind": .string(resource), keyName: .string(key)]))
        case .conflict:
            return RPCError(.conflict, message, data: details.isEmpty ? nil : .object(details.mapValues { .string($0) }))
        case .validationFailed(let errors):
            return RPCError(.validationFailed, message, data: [
                "errors": .array(errors.map { ["field": .string($0.field), "message": .string($0.message)] })
            ])
        case .permissionDenied: return RPCError(.permissionDenied, message)
        case .storageUnavailable: return RPCError(.storageUnavailable, message)
        case .outcomeUnknown:
            return RPCError(.outcomeUnknown, message, data: .object(["requestId": details["requestId"].map { .string($0) } ?? .null]))
        case .invalidParams: return RPCError(.invalidParams, message)
        case .internalError: return RPCError(.internalError, message)
        }
    }
}

extension RunStep {
    public var json: JSONValue {
        [
            "name": .string(name), "executionOrder": JSONValue(executionOrder), "status": .string(status.rawValue),
            "attempts": JSONValue(attempts), "exitCode": JSONValue(exitCode), "startedAt": JSONValue(startedAt),
            "finishedAt": JSONValue(finishedAt), "error": JSONValue(error), "stdout": .string(stdout), "stderr": .string(stderr),
            "retryAt": JSONValue(retryAt),
            "waitingFor": waitingFor.map { ["lock": .string($0.lock), "runId": .string($0.runId)] } ?? .null,
            "decisions": .array(decisions.map(\.json)),
            "rollback": rollback?.json ?? .null,
        ]
    }
}

extension RollbackRecord {
    public var json: JSONValue {
        [
            "startedAt": JSONValue(startedAt), "finishedAt": JSONValue(finishedAt), "exitCode": JSONValue(exitCode), "error": JSONValue(error),
            "stdout": .string(stdout), "stderr": .string(stderr),
        ]
    }
}

extension ApprovalDecision {
    /// On the wire within its step: the run, step and attempt are the step's.
    public var json: JSONValue {
        ["uid": JSONValue(Int(uid)), "decision": .string(verb), "comment": .string(comment), "at": JSONValue(at), "attempt": JSONValue(attempt)]
    }
}

extension RunEvent {
    public func json(runId: String) -> JSONValue {
        var o: [String: JSONValue] = [
            "runId": .string(runId), "sequence": JSONValue(sequence), "status": .string(status), "at": JSONValue(at),
            "step": JSONValue(step),
        ]
        if let target { o["target"] = .string(target) }
        if let batch { o["batch"] = JSONValue(batch) }
        if let attempt { o["attempt"] = JSONValue(attempt) }
        if let exitCode { o["exitCode"] = JSONValue(exitCode) }
        if let message { o["message"] = .string(message) }
        return .object(o)
    }
}

extension Run {
    /// `summary` leaves out the definition, outputs and events (run.list).
    public func json(summary: Bool = false) -> JSONValue {
        var o: [String: JSONValue] = [
            "id": .string(id), "workflowId": .string(workflowId), "workflowName": .string(workflowName),
            "workflowVersion": JSONValue(workflowVersion), "params": .object(params.mapValues { .string($0) }),
            "status": .string(status.rawValue), "cancelRequested": .bool(cancelRequested),
            "requestedBy": ["uid": .int(Int64(requestedBy.uid)), "gid": .int(Int64(requestedBy.gid)), "pid": .int(Int64(requestedBy.pid))],
            "createdAt": JSONValue(createdAt), "startedAt": JSONValue(startedAt), "finishedAt": JSONValue(finishedAt),
            "requestId": JSONValue(requestId), "locks": .array(locks.map { .string($0) }),
        ]
        if let rollback = rollbackStatus { o["rollback"] = ["status": .string(rollback.rawValue)] }
        if let window { o["window"] = window.json }
        if let schedule { o["schedule"] = .string(schedule) }
        if !secrets.isEmpty { o["secrets"] = .array(secrets.map { .string($0) }) }
        if !secretParams.isEmpty { o["secretParams"] = .array(secretParams.map { .string($0) }) }
        if let windowWait { o["waitingFor"] = ["window": .string(windowWait.window), "opensAt": JSONValue(windowWait.opensAt)] }
        if let fleet {
            o["fleet"] = [
                "selector": fleet.selector.json, "batchSize": .string(fleet.batchSize.description),
                "maxFailPercentage": JSONValue(fleet.maxFailPercentage), "batches": JSONValue(fleet.batchCount),
                "targetCount": JSONValue(fleet.targetCount),
            ]
            if !summary { o["targets"] = .array(fleet.targets.map(\.json)) }
        }
        if let membership {
            o["fleetRunId"] = .string(membership.fleetRunId)
            o["target"] = [
                "name": .string(membership.target.name), "batch": JSONValue(membership.target.batch),
                "labels": .object(membership.target.labels.mapValues { .string($0) }),
                "vars": .object(membership.target.vars.mapValues { .string($0) }),
            ]
        }
        if summary {
            o["steps"] = .array(steps.map { step in
                var fields = step.json.objectValue ?? [:]
                fields["stdout"] = nil
                fields["stderr"] = nil
                return .object(fields)
            })
        } else {
            o["steps"] = .array(steps.map(\.json))
            o["definition"] = .array(definition.map(\.json))
            o["events"] = .array(events.map { $0.json(runId: id) })
        }
        return .object(o)
    }
}

extension FleetTarget {
    /// As a fleet run lists it: where it is and how it went (its labels and
    /// vars are in its own run's `target`).
    public var json: JSONValue {
        [
            "name": .string(name), "batch": JSONValue(batch), "runId": .string(runId), "status": .string(status.rawValue),
            "steps": .object(steps.mapValues { .string($0.rawValue) }),
        ]
    }
}
