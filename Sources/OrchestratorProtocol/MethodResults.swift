import Foundation
import OrchestratorModel

/// What a method answers, as a type: encoded by the daemon (with the `.json`
/// encoders of WireModel.swift), decoded by clients.
public protocol RPCResult: Sendable {
    init(resultJSON: JSONValue) throws(ResultDecodingError)
    var resultJSON: JSONValue { get }
}

/// The params of a notification the daemon sends (e.g. `run.event`).
public protocol RPCNotificationParams: Sendable {
    init(notificationJSON: JSONValue) throws(ResultDecodingError)
    var notificationJSON: JSONValue { get }
}

// MARK: - The model, read back from the wire

extension Action {
    public init(result r: ResultReader) throws(ResultDecodingError) {
        self.init(exec: try r.stringArray("exec"), env: try r.stringMap("env"), cwd: try r.optionalString("cwd"))
    }
}

extension Step: RPCResult {
    /// A step as `Step.json` writes it (status included).
    public init(result r: ResultReader) throws(ResultDecodingError) {
        self.init(
            name: try r.string("name"),
            description: try r.optionalString("description") ?? "",
            executionOrder: try r.int("executionOrder"),
            action: try r.has("approval") && !r.has("action") ? Action(exec: []) : Action(result: r.object("action")),
            timeoutSeconds: try r.optionalInt("timeoutSeconds"),
            retries: try r.int("retries"),
            retryDelaySeconds: try r.int("retryDelaySeconds"),
            continueOnFailure: try r.bool("continueOnFailure"),
            idempotent: try r.bool("idempotent"),
            locks: try r.has("locks") ? r.stringArray("locks") : [],
            approval: try r.has("approval") ? Approval(result: r.object("approval")) : nil,
            rollback: try r.has("rollback") ? Action(result: r.object("rollback")) : nil,
            secrets: try r.has("secrets") ? r.stringArray("secrets") : [],
            runAs: try r.has("runAs") ? RunAs(user: r.object("runAs").string("user"), group: r.object("runAs").optionalString("group")) : nil,
            status: try r.value("status", as: StepStatus.self)
        )
    }

    public init(resultJSON: JSONValue) throws(ResultDecodingError) {
        try self.init(result: ResultReader(resultJSON))
    }

    public var resultJSON: JSONValue { json }
}

extension Workflow: RPCResult {
    public init(result r: ResultReader) throws(ResultDecodingError) {
        self.init(
            id: try r.string("id"),
            name: try r.string("name"),
            description: try r.optionalString("description") ?? "",
            steps: try r.array("steps") { (s) throws(ResultDecodingError) in try Step(result: s) },
            locks: try r.has("locks") ? r.stringArray("locks") : [],
            version: try r.int("version"),
            createdAt: try r.date("createdAt"),
            updatedAt: try r.date("updatedAt"),
            updatedBy: try r.optionalInt("updatedBy").flatMap(UInt32.init(exactly:)),
            window: try r.optionalString("window"),
            secretParams: try r.has("secretParams") ? r.stringArray("secretParams") : []
        )
    }

    public init(resultJSON: JSONValue) throws(ResultDecodingError) {
        try self.init(result: ResultReader(resultJSON))
    }

    public var resultJSON: JSONValue { json }
}

extension FieldChange {
    public init(result r: ResultReader) throws(ResultDecodingError) {
        self.init(field: try r.string("field"), from: try r.optionalString("from"), to: try r.optionalString("to"))
    }
}

extension WorkflowDiff: RPCResult {
    public init(resultJSON: JSONValue) throws(ResultDecodingError) {
        let r = try ResultReader(resultJSON)
        self.init(
            workflow: try r.string("workflow"), from: try r.int("from"), to: try r.optionalInt("to"),
            fields: try r.array("fields") { (f) throws(ResultDecodingError) in try FieldChange(result: f) },
            steps: try r.array("steps") { (s) throws(ResultDecodingError) in
                StepDiff(
                    step: try s.string("step"), change: try s.value("change", as: StepDiff.Change.self), renamedFrom: try s.optionalString("renamedFrom"),
                    fields: try s.array("fields", required: false) { (f) throws(ResultDecodingError) in try FieldChange(result: f) })
            })
    }

    public var resultJSON: JSONValue { json }
}

extension WorkflowHistoryEntry: PageItem {
    public init(pageItem r: ResultReader) throws(ResultDecodingError) {
        self.init(
            version: try r.int("version"), name: try r.string("name"), updatedAt: try r.date("updatedAt"),
            updatedBy: try r.optionalInt("updatedBy").flatMap(UInt32.init(exactly:)), changes: try r.stringArray("changes"))
    }

    public var pageItemJSON: JSONValue { json }
}

extension RunStep {
    /// `stdout` and `stderr` are absent in `run.list`'s summaries: they read as empty.
    public init(result r: ResultReader) throws(ResultDecodingError) {
        self.init(
            name: try r.string("name"),
            executionOrder: try r.int("executionOrder"),
            status: try r.value("status", as: StepStatus.self),
            attempts: try r.int("attempts"),
            exitCode: try r.optionalInt("exitCode"),
            startedAt: try r.optionalDate("startedAt"),
            finishedAt: try r.optionalDate("finishedAt"),
            error: try r.optionalString("error"),
            stdout: try r.optionalString("stdout") ?? "",
            stderr: try r.optionalString("stderr") ?? "",
            retryAt: try r.optionalDate("retryAt"),
            waitingFor: try r.has("waitingFor")
                ? LockWait(lock: r.object("waitingFor").string("lock"), runId: r.object("waitingFor").string("runId")) : nil,
            decisions: try r.array("decisions", required: false) { (d) throws(ResultDecodingError) in
                ApprovalDecision(
                    runId: "", step: try r.string("name"), attempt: try d.int("attempt"), uid: UInt32(clamping: try d.int("uid")),
                    approved: try d.string("decision") == "approved", comment: try d.string("comment"), at: try d.date("at"))
            },
            rollback: try r.has("rollback") ? RollbackRecord(result: r.object("rollback")) : nil
        )
    }
}

extension RollbackRecord {
    public init(result r: ResultReader) throws(ResultDecodingError) {
        self.init(
            startedAt: try r.optionalDate("startedAt"), finishedAt: try r.optionalDate("finishedAt"), exitCode: try r.optionalInt("exitCode"),
            error: try r.optionalString("error"), stdout: try r.optionalString("stdout") ?? "", stderr: try r.optionalString("stderr") ?? "")
    }
}

extension Approval {
    public init(result r: ResultReader) throws(ResultDecodingError) {
        self.init(
            approvers: try r.int("approvers"), group: try r.optionalString("group"), notStarter: try r.bool("notStarter"),
            timeoutSeconds: try r.optionalInt("timeoutSeconds"))
    }
}

extension RunEvent {
    public init(result r: ResultReader) throws(ResultDecodingError) {
        self.init(
            sequence: try r.int("sequence"),
            step: try r.optionalString("step"),
            status: try r.string("status"),
            at: try r.date("at"),
            attempt: try r.optionalInt("attempt"),
            exitCode: try r.optionalInt("exitCode"),
            message: try r.optionalString("message"),
            target: try r.optionalString("target"),
            batch: try r.optionalInt("batch")
        )
    }

    /// The status as a step's, for an event about a step.
    public var stepStatus: StepStatus? { step == nil ? nil : StepStatus(rawValue: status) }
    /// The status as a run's, for an event about the run (nil for `resumed`).
    public var runStatus: RunStatus? { step == nil ? RunStatus(rawValue: status) : nil }
}

extension Requester {
    public init(result r: ResultReader) throws(ResultDecodingError) {
        self.init(uid: try r.integer("uid", as: UInt32.self), gid: try r.integer("gid", as: UInt32.self), pid: try r.integer("pid", as: Int32.self))
    }
}

extension Run: RPCResult {
    /// A full run, or a summary (`run.list`): a summary has no `definition`,
    /// `events` or step outputs, which then read as empty.
    public init(result r: ResultReader) throws(ResultDecodingError) {
        self.init(
            id: try r.string("id"),
            workflowId: try r.string("workflowId"),
            workflowName: try r.string("workflowName"),
            workflowVersion: try r.int("workflowVersion"),
            definition: try r.array("definition", required: false) { (s) throws(ResultDecodingError) in try Step(result: s) },
            params: try r.stringMap("params"),
            status: try r.value("status", as: RunStatus.self),
            steps: try r.array("steps") { (s) throws(ResultDecodingError) in try RunStep(result: s) },
            requestedBy: try Requester(result: r.object("requestedBy")),
            createdAt: try r.date("createdAt"),
            startedAt: try r.optionalDate("startedAt"),
            finishedAt: try r.optionalDate("finishedAt"),
            cancelRequested: try r.bool("cancelRequested"),
            events: try r.array("events", required: false) { (e) throws(ResultDecodingError) in try RunEvent(result: e) },
            requestId: try r.optionalString("requestId"),
            fleet: try r.has("fleet") ? Fleet(result: r.object("fleet"), targets: r.array("targets", required: false) { (t) throws(ResultDecodingError) in
                try FleetTarget(listed: t)
            }) : nil,
            membership: try r.has("fleetRunId") ? FleetMembership(
                fleetRunId: r.string("fleetRunId"), target: FleetTarget(member: r.object("target"), runId: r.string("id"))) : nil,
            locks: try r.has("locks") ? r.stringArray("locks") : [],
            window: try r.has("window") ? MaintenanceWindow(result: r.object("window")) : nil,
            schedule: try r.optionalString("schedule"),
            secrets: try r.has("secrets") ? r.stringArray("secrets") : [],
            secretParams: try r.has("secretParams") ? r.stringArray("secretParams") : []
        )
        if r.has("waitingFor") {
            let wait = try r.object("waitingFor")
            windowWait = WindowWait(window: try wait.string("window"), opensAt: try wait.optionalDate("opensAt"))
        }
    }

    public init(resultJSON: JSONValue) throws(ResultDecodingError) {
        try self.init(result: ResultReader(resultJSON))
    }

    /// The full run, as `run.get`, `run.start`, `run.cancel`, `run.resume` and `run.watch` answer.
    public var resultJSON: JSONValue { json() }
}

// MARK: - Listings and acknowledgements

/// What a listing holds: workflows in full, runs as summaries.
public protocol PageItem: Sendable {
    init(pageItem: ResultReader) throws(ResultDecodingError)
    var pageItemJSON: JSONValue { get }
}

extension Workflow: PageItem {
    public init(pageItem: ResultReader) throws(ResultDecodingError) { try self.init(result: pageItem) }
    public var pageItemJSON: JSONValue { json }
}

extension Run: PageItem {
    /// A summary: no definition, events or outputs.
    public init(pageItem: ResultReader) throws(ResultDecodingError) { try self.init(result: pageItem) }
    public var pageItemJSON: JSONValue { json(summary: true) }
}

/// `{items, next}`: `workflow.list`, `run.list`.
extension Page: RPCResult where Item: PageItem {
    public init(resultJSON: JSONValue) throws(ResultDecodingError) {
        let r = try ResultReader(resultJSON)
        self.init(
            items: try r.array("items") { (item) throws(ResultDecodingError) in try Item(pageItem: item) },
            next: try r.optionalString("next"))
    }

    public var resultJSON: JSONValue {
        ["items": .array(items.map(\.pageItemJSON)), "next": JSONValue(next)]
    }
}

/// `{items}`: `step.list`, every step of a workflow (no paging).
public struct StepList: RPCResult, Equatable {
    public var items: [Step]

    public init(items: [Step]) {
        self.items = items
    }

    public init(resultJSON: JSONValue) throws(ResultDecodingError) {
        let r = try ResultReader(resultJSON)
        items = try r.array("items") { (s) throws(ResultDecodingError) in try Step(result: s) }
    }

    public var resultJSON: JSONValue { ["items": .array(items.map(\.json))] }
}

/// `{deleted: true}`: `workflow.delete`.
public struct Deleted: RPCResult, Equatable {
    public init() {}

    public init(resultJSON: JSONValue) throws(ResultDecodingError) {
        guard try ResultReader(resultJSON).bool("deleted") else {
            throw ResultDecodingError(path: "deleted", reason: "must be true")
        }
    }

    public var resultJSON: JSONValue { ["deleted": true] }
}

/// `metrics.get`: this daemon's figures, as Prometheus scrapes them.
public struct MetricsText: RPCResult, Equatable {
    /// Prometheus's text exposition format, version 0.0.4.
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"
    public var text: String

    public init(text: String) {
        self.text = text
    }

    public init(resultJSON: JSONValue) throws(ResultDecodingError) {
        let r = try ResultReader(resultJSON)
        self.init(text: try r.string("text"))
    }

    public var resultJSON: JSONValue { ["contentType": .string(Self.contentType), "text": .string(text)] }
}

/// `daemon.status`: what an operator asks first when something looks wrong.
public struct DaemonStatus: RPCResult, Equatable {
    /// Who asked, and whether they may change things.
    public struct Caller: Sendable, Equatable {
        public var uid: UInt32
        public var gid: UInt32
        public var pid: Int32
        public var admin: Bool

        public init(uid: UInt32, gid: UInt32, pid: Int32, admin: Bool) {
            self.uid = uid
            self.gid = gid
            self.pid = pid
            self.admin = admin
        }
    }

    public var version: String
    public var uptimeSeconds: Int64
    public var activeRuns: Int
    public var connections: Int
    public var watchers: Int
    /// `ok`, or what is wrong with MongoDB.
    public var mongodb: String
    public var pid: Int
    public var socket: String
    public var database: String
    public var caller: Caller

    public init(
        version: String, uptimeSeconds: Int64, activeRuns: Int, connections: Int, watchers: Int, mongodb: String,
        pid: Int, socket: String, database: String, caller: Caller
    ) {
        self.version = version
        self.uptimeSeconds = uptimeSeconds
        self.activeRuns = activeRuns
        self.connections = connections
        self.watchers = watchers
        self.mongodb = mongodb
        self.pid = pid
        self.socket = socket
        self.database = database
        self.caller = caller
    }

    public init(resultJSON: JSONValue) throws(ResultDecodingError) {
        let r = try ResultReader(resultJSON)
        let c = try r.object("caller")
        self.init(
            version: try r.string("version"), uptimeSeconds: Int64(try r.int("uptimeSeconds")), activeRuns: try r.int("activeRuns"),
            connections: try r.int("connections"), watchers: try r.int("watchers"), mongodb: try r.string("mongodb"),
            pid: try r.int("pid"), socket: try r.string("socket"), database: try r.string("database"),
            caller: Caller(
                uid: try c.integer("uid", as: UInt32.self), gid: try c.integer("gid", as: UInt32.self),
                pid: try c.integer("pid", as: Int32.self), admin: try c.bool("admin"))
        )
    }

    public var resultJSON: JSONValue {
        [
            "version": .string(version),
            "uptimeSeconds": .int(uptimeSeconds),
            "activeRuns": JSONValue(activeRuns),
            "connections": JSONValue(connections),
            "watchers": JSONValue(watchers),
            "mongodb": .string(mongodb),
            "pid": JSONValue(pid),
            "socket": .string(socket),
            "database": .string(database),
            "caller": [
                "uid": .int(Int64(caller.uid)), "gid": .int(Int64(caller.gid)), "pid": .int(Int64(caller.pid)), "admin": .bool(caller.admin),
            ],
        ]
    }
}

// MARK: - Notifications

/// `run.event`: one step (or run) transition, streamed during `run.watch`.
public struct RunEventNotification: RPCNotificationParams, Equatable {
    public var runId: String
    public var event: RunEvent

    public init(runId: String, event: RunEvent) {
        self.runId = runId
        self.event = event
    }

    public init(notificationJSON: JSONValue) throws(ResultDecodingError) {
        let r = try ResultReader(notificationJSON)
        self.init(runId: try r.string("runId"), event: try RunEvent(result: r))
    }

    public var notificationJSON: JSONValue { event.json(runId: runId) }

    /// The whole `run.event` notification, as `JSONCoding.serializeBytes`
    /// writes `RPCCodec.notification` of it (the same bytes, keys in
    /// order), written field by field: a watcher is sent every event, and
    /// building three dictionaries and sorting their keys for each one was
    /// most of what sending it cost.
    public func appendNotification(to out: inout [UInt8]) {
        out.append(contentsOf: #"{"jsonrpc":"2.0","method":"#.utf8)
        JSONCoding.writeString(Method.runEventNotification, into: &out)
        out.append(contentsOf: #","params":{"at":"#.utf8)
        JSONCoding.writeString(RFC3339.format(event.at), into: &out)
        Self.append("attempt", event.attempt, to: &out)
        Self.append("batch", event.batch, to: &out)
        Self.append("exitCode", event.exitCode, to: &out)
        if let message = event.message {
            Self.appendKey("message", to: &out)
            JSONCoding.writeString(message, into: &out)
        }
        Self.appendKey("runId", to: &out)
        JSONCoding.writeString(runId, into: &out)
        Self.appendKey("sequence", to: &out)
        JSONCoding.writeInteger(Int64(event.sequence), into: &out)
        Self.appendKey("status", to: &out)
        JSONCoding.writeString(event.status, into: &out)
        Self.appendKey("step", to: &out)
        if let step = event.step { JSONCoding.writeString(step, into: &out) } else { out.append(contentsOf: "null".utf8) }
        if let target = event.target {
            Self.appendKey("target", to: &out)
            JSONCoding.writeString(target, into: &out)
        }
        out.append(contentsOf: "}}".utf8)
    }

    /// `,"key":value`, only when there is a value.
    private static func append(_ key: String, _ value: Int?, to out: inout [UInt8]) {
        guard let value else { return }
        appendKey(key, to: &out)
        JSONCoding.writeInteger(Int64(value), into: &out)
    }

    /// `,"key":` after a field already written.
    private static func appendKey(_ key: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: ","))
        JSONCoding.writeString(key, into: &out)
        out.append(UInt8(ascii: ":"))
    }
}

/// `run.output`: one line a step printed, streamed during `run.follow`.
/// `kept`: read from the run's record once the step ended (it ran on
/// another daemon, or before the follower came), not as it was printed.
public struct RunOutputNotification: RPCNotificationParams, Equatable {
    public var line: OutputLine
    public var kept: Bool

    public init(line: OutputLine, kept: Bool = false) {
        self.line = line
        self.kept = kept
    }

    public init(notificationJSON: JSONValue) throws(ResultDecodingError) {
        let r = try ResultReader(notificationJSON)
        self.init(
            line: OutputLine(
                runId: try r.string("runId"), target: try r.optionalString("target"), step: try r.string("step"),
                attempt: try r.int("attempt"), stream: try r.string("stream"), text: try r.string("line")),
            kept: try r.bool("kept"))
    }

    public var notificationJSON: JSONValue {
        var o: [String: JSONValue] = [
            "runId": .string(line.runId), "step": .string(line.step), "attempt": JSONValue(line.attempt), "stream": .string(line.stream),
            "line": .string(line.text), "kept": .bool(kept),
        ]
        if let target = line.target { o["target"] = .string(target) }
        return .object(o)
    }
}

/// `run.output_gap`: some lines are not streamed (the follower fell
/// behind, or they were printed before it came and are no longer at hand);
/// `message` says where they are.
public struct RunOutputGapNotification: RPCNotificationParams, Equatable {
    public var runId: String
    public var message: String

    public init(runId: String, message: String) {
        self.runId = runId
        self.message = message
    }

    public init(notificationJSON: JSONValue) throws(ResultDecodingError) {
        let r = try ResultReader(notificationJSON)
        self.init(runId: try r.string("runId"), message: try r.string("message"))
    }

    public var notificationJSON: JSONValue { ["runId": .string(runId), "message": .string(message)] }
}

// MARK: - Fleets

extension Fleet {
    init(result r: ResultReader, targets: [FleetTarget]) throws(ResultDecodingError) {
        let size = try r.string("batchSize")
        guard let batchSize = BatchSize(size) else { throw ResultDecodingError(path: r.name("batchSize"), reason: "must be a count or a percentage") }
        self.init(selector: try TargetSelector(result: r.object("selector")), batchSize: batchSize,
                  maxFailPercentage: try r.int("maxFailPercentage"), targets: targets,
                  targetCount: try r.int("targetCount"), batchCount: try r.int("batches"))
    }
}

extension FleetTarget {
    /// As a fleet run lists it.
    init(listed r: ResultReader) throws(ResultDecodingError) {
        self.init(name: try r.string("name"), batch: try r.int("batch"), runId: try r.string("runId"))
        status = try r.value("status", as: TargetStatus.self)
        for (step, value) in try r.stringMap("steps") {
            guard let status = StepStatus(rawValue: value) else { throw ResultDecodingError(path: r.name("steps.\(step)"), reason: "not a step status") }
            steps[step] = status
        }
    }

    /// As a member run shows its target.
    init(member r: ResultReader, runId: String) throws(ResultDecodingError) {
        self.init(name: try r.string("name"), labels: try r.stringMap("labels"), vars: try r.stringMap("vars"), batch: try r.int("batch"), runId: runId)
    }
}
