import Foundation

/// What a schedule does about fire times that passed while no daemon ran.
public enum MissedPolicy: String, Sendable, CaseIterable {
    /// Nothing: the next fire time comes as usual.
    case skip
    /// One run for all of them (for the latest), then as usual.
    case runOnce
}

/// A workflow started on a cron schedule (collection `schedules`). Each
/// fire time starts exactly one run, whichever daemons are up.
public struct Schedule: Sendable, Equatable {
    public var id: String
    public var name: String
    public var workflow: String
    public var cron: String
    public var timezone: String
    public var params: [String: String]
    /// A fleet run over these targets, when set.
    public var targets: TargetSelector?
    public var batchSize: BatchSize?
    public var maxFailPercentage: Int?
    public var enabled: Bool
    public var missed: MissedPolicy
    /// Its runs start only inside this maintenance window (overrides the workflow's).
    public var window: String?
    public var createdAt: Date
    public var updatedAt: Date
    /// The fire time due next (nil while paused, or when the expression never fires again).
    public var nextFireAt: Date?
    public var lastFireAt: Date?
    public var lastRunId: String?
    /// Who made or last changed it: its runs are requested in their name
    /// (so an approval step's `notStarter` refuses them, not root).
    public var updatedBy: UInt32?

    public init(
        id: String, name: String, workflow: String, cron: String, timezone: String = "UTC", params: [String: String] = [:],
        targets: TargetSelector? = nil, batchSize: BatchSize? = nil, maxFailPercentage: Int? = nil, enabled: Bool = true,
        missed: MissedPolicy = .skip, window: String? = nil, createdAt: Date, updatedAt: Date, nextFireAt: Date? = nil,
        lastFireAt: Date? = nil, lastRunId: String? = nil, updatedBy: UInt32? = nil
    ) {
        self.updatedBy = updatedBy
        self.id = id
        self.name = name
        self.workflow = workflow
        self.cron = cron
        self.timezone = timezone
        self.params = params
        self.targets = targets
        self.batchSize = batchSize
        self.maxFailPercentage = maxFailPercentage
        self.enabled = enabled
        self.missed = missed
        self.window = window
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.nextFireAt = nextFireAt
        self.lastFireAt = lastFireAt
        self.lastRunId = lastRunId
    }

    /// The expression in its zone; nil only for a record nobody validated.
    public var schedule: CronSchedule? {
        guard let expression = try? CronExpression(cron), let zone = TimeZone(identifier: timezone) else { return nil }
        return CronSchedule(expression, timeZone: zone)
    }

    /// The request id of the run for fire time `fireAt`: the runs
    /// collection's unique index on it is what makes each fire time start
    /// one run, however many daemons try.
    public func requestId(forFireAt fireAt: Date) -> String {
        "schedule:\(id)@\(Int(fireAt.timeIntervalSince1970))"
    }
}

/// What `schedule.create` receives.
public struct ScheduleDraft: Sendable, Equatable {
    public var name: String
    public var workflow: String
    public var cron: String
    public var timezone: String
    public var params: [String: String]
    public var targets: TargetSelector?
    public var batchSize: BatchSize?
    public var maxFailPercentage: Int?
    public var enabled: Bool
    public var missed: MissedPolicy
    public var window: String?

    public init(
        name: String, workflow: String, cron: String, timezone: String = "UTC", params: [String: String] = [:], targets: TargetSelector? = nil,
        batchSize: BatchSize? = nil, maxFailPercentage: Int? = nil, enabled: Bool = true, missed: MissedPolicy = .skip, window: String? = nil
    ) {
        self.name = name
        self.workflow = workflow
        self.cron = cron
        self.timezone = timezone
        self.params = params
        self.targets = targets
        self.batchSize = batchSize
        self.maxFailPercentage = maxFailPercentage
        self.enabled = enabled
        self.missed = missed
        self.window = window
    }

    public var problems: [FieldError] {
        var v = Validator()
        v.name(name, "name")
        v.name(workflow, "workflow")
        v.merge(ScheduleRules.problems(cron: cron, timezone: timezone))
        v.merge(ScheduleRules.problems(params: params, targets: targets, batchSize: batchSize, maxFailPercentage: maxFailPercentage))
        if let window { v.name(window, "window") }
        return v.errors
    }

    public func validate() throws(OrchestratorError) {
        var v = Validator()
        v.merge(problems)
        try v.check()
    }
}

/// The fields `schedule.update` replaces; nil leaves a field as it is
/// (`targets` and `window` doubly optional: `.some(nil)` removes them).
public struct ScheduleChanges: Sendable, Equatable {
    public var workflow: String?
    public var cron: String?
    public var timezone: String?
    public var params: [String: String]?
    public var targets: TargetSelector??
    public var batchSize: BatchSize??
    public var maxFailPercentage: Int??
    public var enabled: Bool?
    public var missed: MissedPolicy?
    public var window: String??

    public init(
        workflow: String? = nil, cron: String? = nil, timezone: String? = nil, params: [String: String]? = nil, targets: TargetSelector?? = nil,
        batchSize: BatchSize?? = nil, maxFailPercentage: Int?? = nil, enabled: Bool? = nil, missed: MissedPolicy? = nil, window: String?? = nil
    ) {
        self.workflow = workflow
        self.cron = cron
        self.timezone = timezone
        self.params = params
        self.targets = targets
        self.batchSize = batchSize
        self.maxFailPercentage = maxFailPercentage
        self.enabled = enabled
        self.missed = missed
        self.window = window
    }

    public var isEmpty: Bool { self == ScheduleChanges() }

    /// The schedule with these changes applied (its fire times not yet recomputed).
    public func applied(to schedule: Schedule) -> Schedule {
        var s = schedule
        if let workflow { s.workflow = workflow }
        if let cron { s.cron = cron }
        if let timezone { s.timezone = timezone }
        if let params { s.params = params }
        if let targets { s.targets = targets }
        if let batchSize { s.batchSize = batchSize }
        if let maxFailPercentage { s.maxFailPercentage = maxFailPercentage }
        if let enabled { s.enabled = enabled }
        if let missed { s.missed = missed }
        if let window { s.window = window }
        return s
    }

    /// Every problem of the schedule these changes would make.
    public func validate(against current: Schedule) throws(OrchestratorError) {
        var v = Validator()
        v.merge(problems(against: current))
        try v.check()
    }

    public func problems(against current: Schedule) -> [FieldError] {
        var v = Validator()
        v.require(!isEmpty, "fields", "nothing to change: give at least one schedule field")
        let changed = applied(to: current)
        if workflow != nil { v.name(changed.workflow, "workflow") }
        v.merge(ScheduleRules.problems(cron: changed.cron, timezone: changed.timezone))
        v.merge(ScheduleRules.problems(params: changed.params, targets: changed.targets, batchSize: changed.batchSize, maxFailPercentage: changed.maxFailPercentage))
        if let window = changed.window { v.name(window, "window") }
        return v.errors
    }
}

public enum ScheduleRules {
    /// How many fire times `schedule.get` shows ahead.
    public static let shownFireTimes = 5

    public static func problems(cron: String, timezone: String) -> [FieldError] {
        var v = Validator()
        do {
            let expression = try CronExpression(cron)
            if let zone = TimeZone(identifier: timezone), CronSchedule(expression, timeZone: zone).next(after: Date()) == nil {
                v.require(false, "cron", "never fires in the next eight years")
            }
        } catch {
            v.require(false, "cron", error.description)
        }
        v.require(TimeZone(identifier: timezone) != nil, "timezone", "'\(timezone.prefix(64))' is not an IANA time zone such as Europe/Berlin or UTC")
        return v.errors
    }

    public static func problems(params: [String: String], targets: TargetSelector?, batchSize: BatchSize?, maxFailPercentage: Int?) -> [FieldError] {
        var v = Validator()
        v.merge(Parameters.problems(params, steps: []))
        if let targets { v.merge(targets.problems(at: "targets")) }
        if let batchSize { v.merge(batchSize.problems(at: "batchSize")) }
        if let maxFailPercentage { v.require((0...100).contains(maxFailPercentage), "maxFailPercentage", "must be between 0 and 100") }
        v.require(targets != nil || (batchSize == nil && maxFailPercentage == nil), "batchSize", "batchSize and maxFailPercentage are for fleet runs: give targets too")
        return v.errors
    }
}

/// A maintenance window (collection `windows`): it opens at each fire time
/// of `cron` (in `timezone`) and stays open `durationMinutes`. Runs bound
/// to it start only inside it, and start no step after it closed.
public struct MaintenanceWindow: Sendable, Equatable {
    public var id: String
    public var name: String
    public var cron: String
    public var timezone: String
    public var durationMinutes: Int
    public var createdAt: Date
    public var updatedAt: Date

    public init(id: String, name: String, cron: String, timezone: String = "UTC", durationMinutes: Int, createdAt: Date, updatedAt: Date) {
        self.id = id
        self.name = name
        self.cron = cron
        self.timezone = timezone
        self.durationMinutes = durationMinutes
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }

    public static let durationRange = 1...10_080

    public static func problems(name: String, cron: String, timezone: String, durationMinutes: Int) -> [FieldError] {
        var v = Validator()
        v.name(name, "name")
        v.merge(ScheduleRules.problems(cron: cron, timezone: timezone))
        v.require(durationRange.contains(durationMinutes), "durationMinutes", "must be between 1 and \(durationRange.upperBound) minutes (a week)")
        return v.errors
    }

    private var duration: TimeInterval { Double(durationMinutes) * 60 }

    private var schedule: CronSchedule? {
        guard let expression = try? CronExpression(cron), let zone = TimeZone(identifier: timezone) else { return nil }
        return CronSchedule(expression, timeZone: zone)
    }

    /// The opening that `at` falls in, as [opens, closes); nil when it is closed then.
    public func opening(containing at: Date) -> (opens: Date, closes: Date)? {
        // An opening at or before `at` that has not closed yet: after `at - duration`.
        guard let opens = schedule?.next(after: at.addingTimeInterval(-duration)), opens <= at else { return nil }
        return (opens, opens.addingTimeInterval(duration))
    }

    public func isOpen(at: Date) -> Bool { opening(containing: at) != nil }

    /// When it opens next after `at`.
    public func nextOpening(after at: Date) -> Date? { schedule?.next(after: at) }
}

/// A run (or a fleet run) waiting for its maintenance window to open (not
/// stored: what `run.get` shows of a queued run bound to a closed window).
public struct WindowWait: Sendable, Equatable {
    public var window: String
    public var opensAt: Date?

    public init(window: String, opensAt: Date?) {
        self.window = window
        self.opensAt = opensAt
    }
}
