import OrchestratorModel

/// Targets on the wire: `target.*` params and results.

extension Target: RPCResult, PageItem {
    public var json: JSONValue {
        [
            "id": .string(id), "name": .string(name),
            "labels": .object(labels.mapValues { .string($0) }), "vars": .object(vars.mapValues { .string($0) }),
            "createdAt": JSONValue(createdAt), "updatedAt": JSONValue(updatedAt),
        ]
    }

    public init(result r: ResultReader) throws(ResultDecodingError) {
        self.init(
            id: try r.string("id"), name: try r.string("name"), labels: try r.stringMap("labels"), vars: try r.stringMap("vars"),
            createdAt: try r.date("createdAt"), updatedAt: try r.date("updatedAt"))
    }

    public init(resultJSON: JSONValue) throws(ResultDecodingError) { try self.init(result: ResultReader(resultJSON)) }
    public var resultJSON: JSONValue { json }
    public init(pageItem: ResultReader) throws(ResultDecodingError) { try self.init(result: pageItem) }
    public var pageItemJSON: JSONValue { json }
}

/// `target.create`: `name`, `labels`, `vars`. `id` and the times are
/// accepted and ignored, so `target.get`'s output can be sent back.
extension TargetDraft: RPCParams {
    public init(params p: ParamReader) throws(RPCError) {
        try p.allowOnly(["name", "labels", "vars", "id", "createdAt", "updatedAt"])
        let name = try p.string("name")
        self.init(name: name, labels: try p.optionalStringMap("labels") ?? [:], vars: try p.optionalStringMap("vars") ?? [:])
    }

    public var paramsJSON: [String: JSONValue] {
        ["name": .string(name), "labels": .object(labels.mapValues { .string($0) }), "vars": .object(vars.mapValues { .string($0) })]
    }

    var json: JSONValue { .object(paramsJSON) }

    init(result r: ResultReader) throws(ResultDecodingError) {
        self.init(name: try r.string("name"), labels: try r.stringMap("labels"), vars: try r.stringMap("vars"))
    }
}

/// `target.get`, `target.delete`: `name`.
public struct TargetKey: RPCParams, Equatable {
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

extension TargetSelector {
    /// `{"names": [...]}` or `{"labels": {...}}`, exactly one.
    public init(params p: ParamReader) throws(RPCError) {
        try p.allowOnly(["names", "labels"])
        switch (try p.optionalStringArray("names"), try p.optionalStringMap("labels")) {
        case (let names?, nil): self = .names(names)
        case (nil, let labels?): self = .labels(labels)
        // One was given and refused (its problem is noted): no second problem about which one.
        case (nil, nil) where p.wasRefused("names") || p.wasRefused("labels"): self = .names([])
        default: throw .invalidParams("invalid params: \(p.path.isEmpty ? "a selector" : p.path) takes exactly one of 'names' or 'labels'")
        }
    }

    public var json: JSONValue {
        switch self {
        case .names(let names): ["names": .array(names.map { .string($0) })]
        case .labels(let labels): ["labels": .object(labels.mapValues { .string($0) })]
        }
    }

    init(result r: ResultReader) throws(ResultDecodingError) {
        if let names = try? r.stringArray("names") { self = .names(names) } else { self = .labels(try r.stringMap("labels")) }
    }
}

/// `target.list`: `selector` (optional), `limit` (default 100), `after`.
public struct TargetListParams: RPCParams, Equatable {
    public var selector: TargetSelector?
    public var limit: Int
    public var after: String?

    public init(selector: TargetSelector? = nil, limit: Int = Limits.defaultPageSize, after: String? = nil) {
        self.selector = selector
        self.limit = limit
        self.after = after
    }

    public init(params p: ParamReader) throws(RPCError) {
        try p.allowOnly(["selector", "limit", "after"])
        let selector = try p.optionalObject("selector").map { (r) throws(RPCError) in try TargetSelector(params: r) }
        self.init(selector: selector, limit: try p.optionalInt("limit") ?? Limits.defaultPageSize, after: try p.optionalString("after"))
    }

    public var paramsJSON: [String: JSONValue] {
        var o: [String: JSONValue] = ["limit": JSONValue(limit)]
        if let selector { o["selector"] = selector.json }
        if let after { o["after"] = .string(after) }
        return o
    }
}

/// `target.update`: `name` addresses the target; `newName` renames it;
/// `labels` and `vars` are merge patches (a null value removes the key).
public struct TargetUpdateParams: RPCParams, Equatable {
    public var name: String
    public var changes: TargetChanges

    public init(name: String, changes: TargetChanges) {
        self.name = name
        self.changes = changes
    }

    public init(params p: ParamReader) throws(RPCError) {
        try p.allowOnly(["name", "newName", "labels", "vars"])
        let name = try p.string("name")
        self.init(name: name, changes: TargetChanges(
            name: try p.optionalString("newName"), labels: try p.optionalPatchMap("labels") ?? [:], vars: try p.optionalPatchMap("vars") ?? [:]))
    }

    public var paramsJSON: [String: JSONValue] {
        func patch(_ map: [String: String?]) -> JSONValue { .object(map.mapValues { $0.map(JSONValue.string) ?? .null }) }
        var o: [String: JSONValue] = ["name": .string(name)]
        if let newName = changes.name { o["newName"] = .string(newName) }
        if !changes.labels.isEmpty { o["labels"] = patch(changes.labels) }
        if !changes.vars.isEmpty { o["vars"] = patch(changes.vars) }
        return o
    }
}

/// `target.import`: `format` (`ansible-yaml` or `json`), `content`, `dryRun` (default false).
public struct TargetImportParams: RPCParams, Equatable {
    public var format: String
    public var content: String
    public var dryRun: Bool

    public init(format: String, content: String, dryRun: Bool = false) {
        self.format = format
        self.content = content
        self.dryRun = dryRun
    }

    public init(params p: ParamReader) throws(RPCError) {
        try p.allowOnly(["format", "content", "dryRun"])
        let format = try p.string("format")
        let content = try p.string("content")
        self.init(format: format, content: content, dryRun: try p.optionalBool("dryRun") ?? false)
    }

    public var paramsJSON: [String: JSONValue] {
        ["format": .string(format), "content": .string(content), "dryRun": .bool(dryRun)]
    }
}

extension TargetImport: RPCResult {
    public var resultJSON: JSONValue {
        [
            "dryRun": .bool(dryRun),
            "created": .array(created.map(\.json)),
            "updated": .array(updated.map { ["name": .string($0.after.name), "before": $0.before.json, "after": $0.after.json] }),
            "unchanged": .array(unchanged.map { .string($0) }),
        ]
    }

    public init(resultJSON: JSONValue) throws(ResultDecodingError) {
        let r = try ResultReader(resultJSON)
        self.init(
            dryRun: try r.bool("dryRun"),
            created: try r.array("created") { (t) throws(ResultDecodingError) in try TargetDraft(result: t) },
            updated: try r.array("updated") { (u) throws(ResultDecodingError) in
                Update(before: try TargetDraft(result: u.object("before")), after: try TargetDraft(result: u.object("after")))
            },
            unchanged: try r.stringArray("unchanged"))
    }
}
