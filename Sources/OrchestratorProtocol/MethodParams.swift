import Foundation
import OrchestratorModel

/// A method's params as a type: encoded by clients (`paramsJSON`, the wire's
/// params object), read by the daemon from a `ParamReader` with the precise
/// `-32602` errors the wire promises (`init(params:)`).
///
/// The readers below are the ones the harnesses in OrchestratorServer use
/// today, key for key and error for error; the encoders write what orchctl
/// has always sent (defaults it spells out stay spelled out, optional fields
/// it leaves out stay out).
public protocol RPCParams: Sendable {
    init(params: ParamReader) throws(RPCError)
    var paramsJSON: [String: JSONValue] { get }
}

/// `daemon.status`: no params at all.
public struct NoParams: RPCParams, Equatable {
    public init() {}

    public init(params: ParamReader) throws(RPCError) {
        try params.allowOnly([])
    }

    public var paramsJSON: [String: JSONValue] { [:] }
}

// MARK: - Steps and actions as params

extension Step {
    /// A step as a definition to send (`step.add`, the steps of
    /// `workflow.create`/`update`): no `status`, and no `timeoutSeconds` when
    /// there is none. `Step(params:)` reads it back.
    public var paramsJSON: JSONValue {
        var o: [String: JSONValue] = [
            "name": .string(name), "description": .string(description), "executionOrder": JSONValue(executionOrder),
            "retries": JSONValue(retries), "retryDelaySeconds": JSONValue(retryDelaySeconds),
            "continueOnFailure": .bool(continueOnFailure), "idempotent": .bool(idempotent),
        ]
        if let approval { o["approval"] = approval.json } else { o["action"] = action.json }
        if let rollback { o["rollback"] = rollback.json }
        if let timeoutSeconds { o["timeoutSeconds"] = JSONValue(timeoutSeconds) }
        if !locks.isEmpty { o["locks"] = .array(locks.map { .string($0) }) }
        if !secrets.isEmpty { o["secrets"] = .array(secrets.map { .string($0) }) }
        if let runAs { o["runAs"] = runAs.json }
        return .object(o)
    }
}

// MARK: - workflow.*

/// `workflow.create`: `name`, `description`, `steps` (left out when empty).
extension WorkflowDraft: RPCParams {
    public var paramsJSON: [String: JSONValue] {
        var o: [String: JSONValue] = ["name": .string(name), "description": .string(description)]
        if !steps.isEmpty { o["steps"] = .array(steps.map(\.paramsJSON)) }
        if !locks.isEmpty { o["locks"] = .array(locks.map { .string($0) }) }
        if let window { o["window"] = .string(window) }
        if !secretParams.isEmpty { o["secretParams"] = .array(secretParams.map { .string($0) }) }
        return o
    }
}

/// `workflow.get`: exactly one of `name` or `id`.
extension WorkflowKey: RPCParams {
    public init(params p: ParamReader) throws(RPCError) {
        try p.allowOnly(["name", "id"])
        switch (try p.optionalString("name"), try p.optionalString("id")) {
        case (let name?, nil): self = .name(name)
        case (nil, let id?): self = .id(id)
        default: throw .invalidParams("invalid params: give exactly one of 'name' or 'id'")
        }
    }

    public var paramsJSON: [String: JSONValue] {
        switch self {
        case .name(let name): ["name": .string(name)]
        case .id(let id): ["id": .string(id)]
        }
    }
}

/// `workflow.list`: `limit` (default 100), `after` (the previous page's `next`).
public struct WorkflowListParams: RPCParams, Equatable {
    public var limit: Int
    public var after: String?

    public init(limit: Int = Limits.defaultPageSize, after: String? = nil) {
        self.limit = limit
        self.after = after
    }

    public init(params p: ParamReader) throws(RPCError) {
        try p.allowOnly(["limit", "after"])
        self.init(limit: try p.optionalInt("limit") ?? Limits.defaultPageSize, after: try p.optionalString("after"))
    }

    public var paramsJSON: [String: JSONValue] {
        var o: [String: JSONValue] = ["limit": JSONValue(limit)]
        if let after { o["after"] = .string(after) }
        return o
    }
}

/// `workflow.update`: `name` addresses the workflow; the changes (with
/// `newName` for a rename) and `expectedVersion` sit beside it.
public struct WorkflowUpdateParams: RPCParams, Equatable {
    public var name: String
    public var changes: WorkflowChanges

    public init(name: String, changes: WorkflowChanges) {
        self.name = name
        self.changes = changes
    }

    public init(params p: ParamReader) throws(RPCError) {
        let name = try p.string("name")
        self.init(name: name, changes: try WorkflowChanges(params: p))
    }

    public var paramsJSON: [String: JSONValue] {
        var o: [String: JSONValue] = ["name": .string(name)]
        if let newName = changes.name { o["newName"] = .string(newName) }
        if let description = changes.description { o["description"] = .string(description) }
        if let steps = changes.steps { o["steps"] = .array(steps.map(\.paramsJSON)) }
        if let locks = changes.locks { o["locks"] = .array(locks.map { .string($0) }) }
        if let window = changes.window { o["window"] = JSONValue(window) }
        if let secretParams = changes.secretParams { o["secretParams"] = .array(secretParams.map { .string($0) }) }
        if let expectedVersion = changes.expectedVersion { o["expectedVersion"] = JSONValue(expectedVersion) }
        return o
    }
}

/// `workflow.get`: exactly one of `name` or `id`, and `version` (default: the current one).
public struct WorkflowGetParams: RPCParams, Equatable {
    public var key: WorkflowKey
    public var version: Int?

    public init(_ key: WorkflowKey, version: Int? = nil) {
        self.key = key
        self.version = version
    }

    public init(params p: ParamReader) throws(RPCError) {
        try p.allowOnly(["name", "id", "version"])
        let version = try p.optionalInt("version")
        var rest = p.values
        rest["version"] = nil
        self.init(try WorkflowKey(params: p.reading(rest)), version: version)
    }

    public var paramsJSON: [String: JSONValue] {
        var o = key.paramsJSON
        if let version { o["version"] = JSONValue(version) }
        return o
    }
}

/// `workflow.history`: `name`, `limit` (default 100), `after` (the previous page's `next`).
public struct WorkflowHistoryParams: RPCParams, Equatable {
    public var name: String
    public var limit: Int
    /// Versions older than this one.
    public var after: Int?

    public init(name: String, limit: Int = Limits.defaultPageSize, after: Int? = nil) {
        self.name = name
        self.limit = limit
        self.after = after
    }

    public init(params p: ParamReader) throws(RPCError) {
        try p.allowOnly(["name", "limit", "after"])
        let after = try p.optionalString("after")
        guard after.map({ Int($0) != nil }) ?? true else {
            throw .invalidParams("invalid params: after must be the previous page's next (a version number as a string)")
        }
        self.init(name: try p.string("name"), limit: try p.optionalInt("limit") ?? Limits.defaultPageSize, after: after.flatMap { Int($0) })
    }

    public var paramsJSON: [String: JSONValue] {
        var o: [String: JSONValue] = ["name": .string(name), "limit": JSONValue(limit)]
        if let after { o["after"] = .string(String(after)) }
        return o
    }
}

/// `workflow.diff`: `name`, then `from` and `to` (versions; `to` defaults to
/// the current one), or `definition` (a draft as `workflow.create` takes it)
/// to compare the current version with.
public struct WorkflowDiffParams: RPCParams, Equatable {
    public var name: String
    public var from: Int?
    public var to: Int?
    public var definition: WorkflowDraft?

    public init(name: String, from: Int? = nil, to: Int? = nil, definition: WorkflowDraft? = nil) {
        self.name = name
        self.from = from
        self.to = to
        self.definition = definition
    }

    public init(params p: ParamReader) throws(RPCError) {
        try p.allowOnly(["name", "from", "to", "definition"])
        self.init(
            name: try p.string("name"), from: try p.optionalInt("from"), to: try p.optionalInt("to"),
            definition: try p.optionalObject("definition").map { (r) throws(RPCError) in try WorkflowDraft(params: r) })
    }

    public var paramsJSON: [String: JSONValue] {
        var o: [String: JSONValue] = ["name": .string(name)]
        if let from { o["from"] = JSONValue(from) }
        if let to { o["to"] = JSONValue(to) }
        if let definition { o["definition"] = .object(definition.paramsJSON) }
        return o
    }
}

/// `workflow.delete`: `name`.
public struct WorkflowDeleteParams: RPCParams, Equatable {
    public var name: String

    public init(name: String) {
        self.name = name
    }

    public init(params p: ParamReader) throws(RPCError) {
        try p.allowOnly(["name"])
        self.init(name: try p.string("name"))
    }

    public var paramsJSON: [String: JSONValue] { ["name": .string(name)] }
}

// MARK: - step.*

/// `step.add`: `workflow`, `step`.
public struct StepAddParams: RPCParams, Equatable {
    public var workflow: String
    public var step: Step

    public init(workflow: String, step: Step) {
        self.workflow = workflow
        self.step = step
    }

    public init(params p: ParamReader) throws(RPCError) {
        try p.allowOnly(["workflow", "step"])
        let workflow = try p.string("workflow")
        self.init(workflow: workflow, step: try Step(params: p.object("step")))
    }

    public var paramsJSON: [String: JSONValue] { ["workflow": .string(workflow), "step": step.paramsJSON] }
}

/// `step.get`, `step.delete`: `workflow`, `name`.
public struct StepKey: RPCParams, Equatable {
    public var workflow: String
    public var name: String

    public init(workflow: String, name: String) {
        self.workflow = workflow
        self.name = name
    }

    public init(params p: ParamReader) throws(RPCError) {
        try p.allowOnly(["workflow", "name"])
        let workflow = try p.string("workflow")
        self.init(workflow: workflow, name: try p.string("name"))
    }

    public var paramsJSON: [String: JSONValue] { ["workflow": .string(workflow), "name": .string(name)] }
}

/// `step.list`: `workflow`.
public struct StepListParams: RPCParams, Equatable {
    public var workflow: String

    public init(workflow: String) {
        self.workflow = workflow
    }

    public init(params p: ParamReader) throws(RPCError) {
        try p.allowOnly(["workflow"])
        self.init(workflow: try p.string("workflow"))
    }

    public var paramsJSON: [String: JSONValue] { ["workflow": .string(workflow)] }
}

/// `step.update`: `workflow` and `name` address the step; the step fields to
/// replace sit beside them, `newName` for a rename, `timeoutSeconds: null`
/// to remove the timeout.
public struct StepUpdateParams: RPCParams, Equatable {
    public var workflow: String
    public var name: String
    public var changes: StepChanges

    public init(workflow: String, name: String, changes: StepChanges) {
        self.workflow = workflow
        self.name = name
        self.changes = changes
    }

    public init(params p: ParamReader) throws(RPCError) {
        let workflow = try p.string("workflow")
        let name = try p.string("name")
        var fields = p.values
        fields["workflow"] = nil
        fields["name"] = fields.removeValue(forKey: "newName")
        self.init(workflow: workflow, name: name, changes: try StepChanges(params: p.reading(fields)))
    }

    public var paramsJSON: [String: JSONValue] {
        var o: [String: JSONValue] = ["workflow": .string(workflow), "name": .string(name)]
        if let newName = changes.name { o["newName"] = .string(newName) }
        if let description = changes.description { o["description"] = .string(description) }
        if let executionOrder = changes.executionOrder { o["executionOrder"] = JSONValue(executionOrder) }
        if let action = changes.action { o["action"] = action.json }
        if let timeoutSeconds = changes.timeoutSeconds { o["timeoutSeconds"] = JSONValue(timeoutSeconds) }
        if let retries = changes.retries { o["retries"] = JSONValue(retries) }
        if let retryDelaySeconds = changes.retryDelaySeconds { o["retryDelaySeconds"] = JSONValue(retryDelaySeconds) }
        if let continueOnFailure = changes.continueOnFailure { o["continueOnFailure"] = .bool(continueOnFailure) }
        if let idempotent = changes.idempotent { o["idempotent"] = .bool(idempotent) }
        if let locks = changes.locks { o["locks"] = .array(locks.map { .string($0) }) }
        if let secrets = changes.secrets { o["secrets"] = .array(secrets.map { .string($0) }) }
        if let runAs = changes.runAs { o["runAs"] = runAs?.json ?? .null }
        return o
    }
}

// MARK: - run.*

/// `run.start`: `workflow`, `params` (an object of strings, sent even when
/// empty), `requestId`; for a fleet run `targets` (a selector), `batchSize`
/// (a count, or a percentage as `"25%"`) and `maxFailPercentage`.
public struct RunStartParams: RPCParams, Equatable {
    public var workflow: String
    public var params: [String: String]
    /// Makes the request safe to repeat: a second `run.start` with the same
    /// id within 24 h returns the first run.
    public var requestId: String?
    public var targets: TargetSelector?
    public var batchSize: BatchSize?
    public var maxFailPercentage: Int?
    /// Runs the workflow as it was at this version (default: as it is now).
    public var version: Int?

    public init(
        workflow: String, params: [String: String] = [:], requestId: String? = nil, targets: TargetSelector? = nil,
        batchSize: BatchSize? = nil, maxFailPercentage: Int? = nil, version: Int? = nil
    ) {
        self.version = version
        self.workflow = workflow
        self.params = params
        self.requestId = requestId
        self.targets = targets
        self.batchSize = batchSize
        self.maxFailPercentage = maxFailPercentage
    }

    public init(params p: ParamReader) throws(RPCError) {
        try p.allowOnly(["workflow", "params", "requestId", "targets", "batchSize", "maxFailPercentage", "version"])
        let workflow = try p.string("workflow")
        let targets = try p.optionalObject("targets").map { (r) throws(RPCError) in try TargetSelector(params: r) }
        let batchSize = try BatchSize(param: p)
        let maxFail = try p.optionalInt("maxFailPercentage")
        guard targets != nil || p.wasRefused("targets") || (batchSize == nil && maxFail == nil) else {
            throw .invalidParams("invalid params: batchSize and maxFailPercentage are for fleet runs: give targets too")
        }
        self.init(workflow: workflow, params: try p.optionalStringMap("params") ?? [:], requestId: try p.optionalString("requestId"),
                  targets: targets, batchSize: batchSize, maxFailPercentage: maxFail, version: try p.optionalInt("version"))
    }

    public var paramsJSON: [String: JSONValue] {
        var o: [String: JSONValue] = ["workflow": .string(workflow), "params": .object(params.mapValues { .string($0) })]
        if let requestId { o["requestId"] = .string(requestId) }
        if let targets { o["targets"] = targets.json }
        switch batchSize {
        case .count(let n)?: o["batchSize"] = JSONValue(n)
        case .percent?: o["batchSize"] = .string(batchSize!.description)
        case nil: break
        }
        if let maxFailPercentage { o["maxFailPercentage"] = JSONValue(maxFailPercentage) }
        if let version { o["version"] = JSONValue(version) }
        return o
    }
}

/// `run.approve`, `run.reject`: `id` (a run), `step` (an approval step), `comment` (optional).
public struct RunDecisionParams: RPCParams, Equatable {
    public var id: String
    public var step: String
    public var comment: String

    public init(id: String, step: String, comment: String = "") {
        self.id = id
        self.step = step
        self.comment = comment
    }

    public init(params p: ParamReader) throws(RPCError) {
        try p.allowOnly(["id", "step", "comment"])
        self.init(id: try p.string("id"), step: try p.string("step"), comment: try p.optionalString("comment") ?? "")
    }

    public var paramsJSON: [String: JSONValue] {
        var o: [String: JSONValue] = ["id": .string(id), "step": .string(step)]
        if !comment.isEmpty { o["comment"] = .string(comment) }
        return o
    }
}

extension BatchSize {
    /// `batchSize`: a count, or a string such as "25%"; nil when absent.
    init?(param p: ParamReader) throws(RPCError) {
        switch p.values["batchSize"] {
        case .none, .some(.null): return nil
        case .some(.int(let n)): self = .count(Int(clamping: n))
        case .some(.string(let text)):
            guard let size = BatchSize(text) else { throw .invalidParams("invalid params: batchSize must be a count or a percentage such as \"25%\", got \"\(text.prefix(20))\"") }
            self = size
        case .some(let other): throw .invalidParams("invalid params: batchSize must be an integer or a string such as \"25%\", got \(other.typeName)")
        }
    }
}

/// `run.target`: `id` (a fleet run), `target` (a name).
public struct RunTargetParams: RPCParams, Equatable {
    public var id: String
    public var target: String

    public init(id: String, target: String) {
        self.id = id
        self.target = target
    }

    public init(params p: ParamReader) throws(RPCError) {
        try p.allowOnly(["id", "target"])
        let id = try p.string("id")
        self.init(id: id, target: try p.string("target"))
    }

    public var paramsJSON: [String: JSONValue] { ["id": .string(id), "target": .string(target)] }
}

/// `run.follow`: `id`, and optionally only one `step`, one `target` (of a
/// fleet run) or one `attempt`.
public struct RunFollowParams: RPCParams, Equatable {
    public var id: String
    public var step: String?
    public var target: String?
    public var attempt: Int?

    public init(id: String, step: String? = nil, target: String? = nil, attempt: Int? = nil) {
        self.id = id
        self.step = step
        self.target = target
        self.attempt = attempt
    }

    public init(params p: ParamReader) throws(RPCError) {
        try p.allowOnly(["id", "step", "target", "attempt"])
        self.init(id: try p.string("id"), step: try p.optionalString("step"), target: try p.optionalString("target"), attempt: try p.optionalInt("attempt"))
    }

    public var paramsJSON: [String: JSONValue] {
        var o: [String: JSONValue] = ["id": .string(id)]
        if let step { o["step"] = .string(step) }
        if let target { o["target"] = .string(target) }
        if let attempt { o["attempt"] = JSONValue(attempt) }
        return o
    }
}

/// `run.resolve`: `ref` (an id, the start of one, or `last`), and with
/// `last` optionally the `workflow` whose newest run it means.
public struct RunResolveParams: RPCParams, Equatable {
    public var ref: String
    public var workflow: String?

    public init(ref: String, workflow: String? = nil) {
        self.ref = ref
        self.workflow = workflow
    }

    public init(params p: ParamReader) throws(RPCError) {
        try p.allowOnly(["ref", "workflow"])
        self.init(ref: try p.string("ref"), workflow: try p.optionalString("workflow"))
    }

    public var paramsJSON: [String: JSONValue] {
        var o: [String: JSONValue] = ["ref": .string(ref)]
        if let workflow { o["workflow"] = .string(workflow) }
        return o
    }
}

/// `run.get`, `run.cancel`, `run.resume`: `id`.
public struct RunKey: RPCParams, Equatable {
    public var id: String

    public init(id: String) {
        self.id = id
    }

    public init(params p: ParamReader) throws(RPCError) {
        try p.allowOnly(["id"])
        self.init(id: try p.string("id"))
    }

    public var paramsJSON: [String: JSONValue] { ["id": .string(id)] }
}

/// `run.list`: `workflow`, `status`, `limit` (default 100), `after`.
public struct RunListParams: RPCParams, Equatable {
    public var workflow: String?
    public var status: RunStatus?
    /// Only runs created at or after this time.
    public var since: Date?
    public var limit: Int
    public var after: String?

    public init(workflow: String? = nil, status: RunStatus? = nil, since: Date? = nil, limit: Int = Limits.defaultPageSize, after: String? = nil) {
        self.workflow = workflow
        self.status = status
        self.since = since
        self.limit = limit
        self.after = after
    }

    public init(params p: ParamReader) throws(RPCError) {
        try p.allowOnly(["workflow", "status", "since", "limit", "after"])
        let workflow = try p.optionalString("workflow")
        let status = try p.optionalString("status")
        guard status == nil || RunStatus(rawValue: status ?? "") != nil else {
            throw .invalidParams("invalid params: status must be one of \(RunStatus.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        var since: Date?
        if let text = try p.optionalString("since") {
            guard let date = RFC3339.parse(text) else {
                throw .invalidParams("invalid params: since must be an RFC 3339 time such as 2026-12-01T08:00:00Z, got \"\(text.prefix(40))\"")
            }
            since = date
        }
        let limit = try p.optionalInt("limit") ?? Limits.defaultPageSize
        self.init(workflow: workflow, status: status.flatMap(RunStatus.init(rawValue:)), since: since, limit: limit, after: try p.optionalString("after"))
    }

    public var paramsJSON: [String: JSONValue] {
        var o: [String: JSONValue] = ["limit": JSONValue(limit)]
        if let workflow { o["workflow"] = .string(workflow) }
        if let status { o["status"] = .string(status.rawValue) }
        if let since { o["since"] = .string(RFC3339.format(since)) }
        if let after { o["after"] = .string(after) }
        return o
    }
}

/// `run.watch`: `id`, and `fromSequence` (default 0, negative reads as 0) to
/// skip events already seen.
public struct RunWatchParams: RPCParams, Equatable {
    public var id: String
    public var fromSequence: Int

    public init(id: String, fromSequence: Int = 0) {
        self.id = id
        self.fromSequence = max(fromSequence, 0)
    }

    public init(params p: ParamReader) throws(RPCError) {
        try p.allowOnly(["id", "fromSequence"])
        let id = try p.string("id")
        self.init(id: id, fromSequence: try p.optionalInt("fromSequence") ?? 0)
    }

    public var paramsJSON: [String: JSONValue] {
        var o: [String: JSONValue] = ["id": .string(id)]
        if fromSequence != 0 { o["fromSequence"] = JSONValue(fromSequence) }
        return o
    }
}
