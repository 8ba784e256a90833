import Foundation
import OrchestratorModel

// MARK: - Windows

extension MaintenanceWindow: RPCResult, PageItem {
    public var json: JSONValue {
        [
            "id": .string(id), "name": .string(name), "cron": .string(cron), "timezone": .string(timezone),
            "durationMinutes": JSONValue(durationMinutes), "createdAt": JSONValue(createdAt), "updatedAt": JSONValue(updatedAt),
        ]
    }

    public init(result r: ResultReader) throws(ResultDecodingError) {
        self.init(
            id: try r.string("id"), name: try r.string("name"), cron: try r.string("cron"), timezone: try r.string("timezone"),
            durationMinutes: try r.int("durationMinutes"), createdAt: try r.date("createdAt"), updatedAt: try r.date("updatedAt"))
    }

    public init(resultJSON: JSONValue) throws(ResultDecodingError) { try self.init(result: ResultReader(resultJSON)) }
    public var resultJSON: JSONValue { json }
    public init(pageItem: ResultReader) throws(ResultDecodingError) { try self.init(result: pageItem) }
    public var pageItemJSON: JSONValue { json }
}

/// `window.create`: `name`, `cron`, `timezone` (default UTC), `durationMinutes`.
public struct WindowDraft: RPCParams, Equatable {
    public var name: String
    public var cron: String
    public var timezone: String
    public var durationMinutes: Int

    public init(name: String, cron: String, timezone: String = "UTC", durationMinutes: Int) {
        self.name = name
        self.cron = cron
        self.timezone = timezone
        self.durationMinutes = durationMinutes
    }

    public init(params p: ParamReader) throws(RPCError) {
        try p.allowOnly(["name", "cron", "timezone", "durationMinutes"])
        self.init(
            name: try p.string("name"), cron: try p.string("cron"), timezone: try p.optionalString("timezone") ?? "UTC",
            durationMinutes: try p.int("durationMinutes"))
    }

    public var paramsJSON: [String: JSONValue] {
        ["name": .string(name), "cron": .string(cron), "timezone": .string(timezone), "durationMinutes": JSONValue(durationMinutes)]
    }
}

/// `window.update`: `name`, then any of `cron`, `timezone`, `durationMinutes`.
public struct WindowUpdateParams: RPCParams, Equatable {
    public var name: String
    public var cron: String?
    public var timezone: String?
    public var durationMinutes: Int?

    public init(name: String, cron: String? = nil, timezone: String? = nil, durationMinutes: Int? = nil) {
        self.name = name
        self.cron = cron
        self.timezone = timezone
        self.durationMinutes = durationMinutes
    }

    public init(params p: ParamReader) throws(RPCError) {
        try p.allowOnly(["name", "cron", "timezone", "durationMinutes"])
        self.init(
            name: try p.string("name"), cron: try p.optionalString("cron"), timezone: try p.optionalString("timezone"),
            durationMinutes: try p.optionalInt("durationMinutes"))
    }

    public var paramsJSON: [String: JSONValue] {
        var o: [String: JSONValue] = ["name": .string(name)]
        if let cron { o["cron"] = .string(cron) }
        if let timezone { o["timezone"] = .string(timezone) }
        if let durationMinutes { o["durationMinutes"] = JSONValue(durationMinutes) }
        return o
    }
}

/// `window.get`, `window.delete`, `schedule.get`, `schedule.delete`: `name`.
public struct NameParams: RPCParams, Equatable {
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

/// `window.list`, `schedule.list`: `limit` (default 100), `after` (the previous page's `next`).
public typealias NamedListParams = WorkflowListParams

// MARK: - Schedules

/// A schedule as `schedule.*` answer it; `schedule.get` adds the next fire times.
public struct ScheduleView: RPCResult, PageItem, Equatable {
    public var schedule: Schedule
    public var upcoming: [Date]

    public init(_ schedule: Schedule, upcoming: [Date] = []) {
        self.schedule = schedule
        self.upcoming = upcoming
    }

    public var json: JSONValue {
        let s = schedule
        var o: [String: JSONValue] = [
            "id": .string(s.id), "name": .string(s.name), "workflow": .string(s.workflow), "cron": .string(s.cron), "timezone": .string(s.timezone),
            "params": .object(s.params.mapValues { .string($0) }), "enabled": .bool(s.enabled), "missed": .string(s.missed.rawValue),
            "createdAt": JSONValue(s.createdAt), "updatedAt": JSONValue(s.updatedAt), "nextFireAt": JSONValue(s.nextFireAt),
            "lastFireAt": JSONValue(s.lastFireAt), "lastRunId": JSONValue(s.lastRunId), "window": JSONValue(s.window),
            "nextFireTimes": .array(upcoming.map { JSONValue($0) }),
        ]
        if let targets = s.targets { o["targets"] = targets.json }
        if let batchSize = s.batchSize { o["batchSize"] = .string(batchSize.description) }
        if let maxFail = s.maxFailPercentage { o["maxFailPercentage"] = JSONValue(maxFail) }
        if let updatedBy = s.updatedBy { o["updatedBy"] = JSONValue(Int(updatedBy)) }
        return .object(o)
    }

    public init(result r: ResultReader) throws(ResultDecodingError) {
        let targets: TargetSelector? = try r.has("targets") ? TargetSelector(result: r.object("targets")) : nil
        let schedule = Schedule(
            id: try r.string("id"), name: try r.string("name"), workflow: try r.string("workflow"), cron: try r.string("cron"),
            timezone: try r.string("timezone"), params: try r.stringMap("params"), targets: targets,
            batchSize: try r.optionalString("batchSize").flatMap(BatchSize.init), maxFailPercentage: try r.optionalInt("maxFailPercentage"),
            enabled: try r.bool("enabled"), missed: try r.value("missed", as: MissedPolicy.self), window: try r.optionalString("window"),
            createdAt: try r.date("createdAt"), updatedAt: try r.date("updatedAt"), nextFireAt: try r.optionalDate("nextFireAt"),
            lastFireAt: try r.optionalDate("lastFireAt"), lastRunId: try r.optionalString("lastRunId"),
            updatedBy: try r.optionalInt("updatedBy").flatMap(UInt32.init(exactly:)))
        let upcoming = try r.has("nextFireTimes") ? r.stringArray("nextFireTimes").compactMap(RFC3339.parse) : []
        self.init(schedule, upcoming: upcoming)
    }

    public init(resultJSON: JSONValue) throws(ResultDecodingError) { try self.init(result: ResultReader(resultJSON)) }
    public var resultJSON: JSONValue { json }
    public init(pageItem: ResultReader) throws(ResultDecodingError) { try self.init(result: pageItem) }
    public var pageItemJSON: JSONValue { json }
}

/// `schedule.create`: `name`, `workflow`, `cron`, then optionally
/// `timezone`, `params`, `targets`, `batchSize`, `maxFailPercentage`,
/// `enabled`, `missed`, `window`.
extension ScheduleDraft: RPCParams {
    public init(params p: ParamReader) throws(RPCError) {
        try p.allowOnly(["name", "workflow", "cron", "timezone", "params", "targets", "batchSize", "maxFailPercentage", "enabled", "missed", "window"])
        self.init(
            name: try p.string("name"), workflow: try p.string("workflow"), cron: try p.string("cron"),
            timezone: try p.optionalString("timezone") ?? "UTC", params: try p.optionalStringMap("params") ?? [:],
            targets: try p.optionalObject("targets").map { (r) throws(RPCError) in try TargetSelector(params: r) },
            batchSize: try BatchSize(param: p), maxFailPercentage: try p.optionalInt("maxFailPercentage"),
            enabled: try p.optionalBool("enabled") ?? true, missed: try Self.missed(p) ?? .skip, window: try p.optionalString("window"))
    }

    static func missed(_ p: ParamReader) throws(RPCError) -> MissedPolicy? {
        guard let text = try p.optionalString("missed") else { return nil }
        guard let policy = MissedPolicy(rawValue: text) else { throw .invalidParams("invalid params: missed must be one of skip, runOnce") }
        return policy
    }

    public var paramsJSON: [String: JSONValue] {
        var o: [String: JSONValue] = [
            "name": .string(name), "workflow": .string(workflow), "cron": .string(cron), "timezone": .string(timezone),
            "params": .object(params.mapValues { .string($0) }), "enabled": .bool(enabled), "missed": .string(missed.rawValue),
        ]
        if let targets { o["targets"] = targets.json }
        if let batchSize { o["batchSize"] = .string(batchSize.description) }
        if let maxFailPercentage { o["maxFailPercentage"] = JSONValue(maxFailPercentage) }
        if let window { o["window"] = .string(window) }
        return o
    }
}

/// `schedule.update`: `name`, then the fields to replace (`targets` or
/// `window` null removes them); `enabled: false` pauses it.
public struct ScheduleUpdateParams: RPCParams, Equatable {
    public var name: String
    public var changes: ScheduleChanges

    public init(name: String, changes: ScheduleChanges) {
        self.name = name
        self.changes = changes
    }

    public init(params p: ParamReader) throws(RPCError) {
        try p.allowOnly(["name", "workflow", "cron", "timezone", "params", "targets", "batchSize", "maxFailPercentage", "enabled", "missed", "window"])
        let targets: TargetSelector?? = p.has("targets")
            ? .some(try p.optionalObject("targets").map { (r) throws(RPCError) in try TargetSelector(params: r) }) : nil
        self.init(name: try p.string("name"), changes: ScheduleChanges(
            workflow: try p.optionalString("workflow"), cron: try p.optionalString("cron"), timezone: try p.optionalString("timezone"),
            params: try p.optionalStringMap("params"), targets: targets,
            batchSize: p.has("batchSize") ? .some(try BatchSize(param: p)) : nil,
            maxFailPercentage: p.has("maxFailPercentage") ? .some(try p.optionalInt("maxFailPercentage")) : nil,
            enabled: try p.optionalBool("enabled"), missed: try ScheduleDraft.missed(p),
            window: p.has("window") ? .some(try p.optionalString("window")) : nil))
    }

    public var paramsJSON: [String: JSONValue] {
        let c = changes
        var o: [String: JSONValue] = ["name": .string(name)]
        if let workflow = c.workflow { o["workflow"] = .string(workflow) }
        if let cron = c.cron { o["cron"] = .string(cron) }
        if let timezone = c.timezone { o["timezone"] = .string(timezone) }
        if let params = c.params { o["params"] = .object(params.mapValues { .string($0) }) }
        if let targets = c.targets { o["targets"] = targets?.json ?? .null }
        if let batchSize = c.batchSize { o["batchSize"] = batchSize.map { .string($0.description) } ?? .null }
        if let maxFail = c.maxFailPercentage { o["maxFailPercentage"] = JSONValue(maxFail) }
        if let enabled = c.enabled { o["enabled"] = .bool(enabled) }
        if let missed = c.missed { o["missed"] = .string(missed.rawValue) }
        if let window = c.window { o["window"] = JSONValue(window) }
        return o
    }
}
