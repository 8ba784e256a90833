import Foundation
import Logging
import OrchestratorEngine
import OrchestratorModel
import OrchestratorStorage

/// The rules of schedules and maintenance windows: what is valid, what
/// they refer to, and when a schedule fires next. A schedule's fire cursor
/// (`nextFireAt`) is set here when it is made, changed, paused or resumed;
/// `ScheduleRunner` moves it as fire times pass.
public struct ScheduleService: Sendable {
    private let schedules: any ScheduleStore
    private let workflows: any WorkflowStore
    private let ids: any IdSource
    private let clock: any EngineClock

    public init(schedules: any ScheduleStore, workflows: any WorkflowStore, ids: any IdSource, clock: any EngineClock) {
        self.schedules = schedules
        self.workflows = workflows
        self.ids = ids
        self.clock = clock
    }

    // MARK: Schedules

    public func create(_ draft: ScheduleDraft, by uid: UInt32? = nil) async throws(OrchestratorError) -> Schedule {
        var v = Validator()
        v.merge(draft.problems)
        v.merge(try await referenceProblems(workflow: draft.workflow, window: draft.window, fields: Set(v.errors.map(\.field)), params: draft.params))
        try v.check()
        let now = clock.now().milliseconds
        var schedule = Schedule(
            id: ids.next(), name: draft.name, workflow: draft.workflow, cron: draft.cron, timezone: draft.timezone, params: draft.params,
            targets: draft.targets, batchSize: draft.batchSize, maxFailPercentage: draft.maxFailPercentage, enabled: draft.enabled,
            missed: draft.missed, window: draft.window, createdAt: now, updatedAt: now, updatedBy: uid)
        schedule.nextFireAt = Self.nextFire(of: schedule, after: now)
        try await schedules.createSchedule(schedule)
        return schedule
    }

    /// With its next fire times (none while paused).
    public func get(_ name: String) async throws(OrchestratorError) -> (Schedule, [Date]) {
        let schedule = try await schedules.schedule(named: name)
        guard schedule.enabled, let cron = schedule.schedule else { return (schedule, []) }
        let from = schedule.nextFireAt.map { $0.addingTimeInterval(-0.001) } ?? clock.now()
        return (schedule, cron.fireTimes(after: from, count: ScheduleRules.shownFireTimes))
    }

    public func list(limit: Int, after: String?) async throws(OrchestratorError) -> Page<Schedule> {
        try PageRequest.check(limit: limit)
        return try await schedules.listSchedules(limit: limit, after: after)
    }

    /// A change of when it fires (cron, zone, paused or resumed) counts
    /// from now: fire times missed while it was paused do not fire.
    public func update(_ name: String, _ changes: ScheduleChanges, by uid: UInt32? = nil) async throws(OrchestratorError) -> Schedule {
        for attempt in 1...Self.racesBeforeGivingUp {
            let read = try await schedules.schedule(named: name)
            var v = Validator()
            v.merge(changes.problems(against: read))
            v.merge(try await referenceProblems(
                // Looked up only when it or the params change: pausing a schedule whose workflow is gone works.
                workflow: changes.workflow ?? (changes.params == nil ? nil : read.workflow), window: changes.window ?? nil, fields: Set(v.errors.map(\.field)),
                params: changes.params ?? read.params))
            try v.check()
            var changed = changes.applied(to: read)
            let now = clock.now().milliseconds
            changed.updatedAt = now
            changed.updatedBy = uid ?? changed.updatedBy
            if changed.cron != read.cron || changed.timezone != read.timezone || changed.enabled != read.enabled {
                changed.nextFireAt = Self.nextFire(of: changed, after: now)
            }
            do {
                try await schedules.replaceSchedule(changed, read: read)
                return changed
            } catch where error.kind == .conflict && attempt < Self.racesBeforeGivingUp {
                continue
            }
        }
        throw OrchestratorError.changedMeanwhile("schedule", name)
    }

    public func delete(_ name: String) async throws(OrchestratorError) {
        try await schedules.deleteSchedule(named: name)
    }

    private static let racesBeforeGivingUp = 5

    static func nextFire(of schedule: Schedule, after now: Date) -> Date? {
        schedule.enabled ? schedule.schedule?.next(after: now) : nil
    }

    /// A schedule names a workflow and a window that exist (they may be
    /// deleted later: its fire then fails, saying so in the journal). A
    /// field already refused (a bad name) is not looked up. Its params may
    /// not hold the workflow's secret parameters: a schedule keeps them in clear.
    private func referenceProblems(
        workflow: String?, window: String?, fields refused: Set<String>, params: [String: String] = [:]
    ) async throws(OrchestratorError) -> [FieldError] {
        var v = Validator()
        if let workflow, !refused.contains("workflow") {
            do throws(OrchestratorError) {
                let secret = try await workflows.workflow(.name(workflow)).secretParams.filter { params[$0] != nil }.sorted()
                v.require(secret.isEmpty, "params", "\(secret.joined(separator: ", ")) \(secret.count == 1 ? "is a secret parameter" : "are secret parameters") of workflow '\(workflow)', which a schedule would keep in clear: keep the value as a secret ('orchctl secret set NAME', then {{secrets.NAME}} in the step)")
            } catch where error.isNotFound {
                v.require(false, "workflow", "no workflow named '\(workflow)' (see 'orchctl workflow list')")
            }
        }
        if let window, !refused.contains("window") {
            do throws(OrchestratorError) {
                _ = try await schedules.window(named: window)
            } catch where error.isNotFound {
                v.require(false, "window", "no maintenance window named '\(window)' (see 'orchctl window list')")
            }
        }
        return v.errors
    }

    // MARK: Windows

    public func createWindow(name: String, cron: String, timezone: String, durationMinutes: Int) async throws(OrchestratorError) -> MaintenanceWindow {
        var v = Validator()
        v.merge(MaintenanceWindow.problems(name: name, cron: cron, timezone: timezone, durationMinutes: durationMinutes))
        try v.check()
        let now = clock.now().milliseconds
        let window = MaintenanceWindow(id: ids.next(), name: name, cron: cron, timezone: timezone, durationMinutes: durationMinutes, createdAt: now, updatedAt: now)
        try await schedules.createWindow(window)
        return window
    }

    public func window(_ name: String) async throws(OrchestratorError) -> MaintenanceWindow {
        try await schedules.window(named: name)
    }

    public func listWindows(limit: Int, after: String?) async throws(OrchestratorError) -> Page<MaintenanceWindow> {
        try PageRequest.check(limit: limit)
        return try await schedules.listWindows(limit: limit, after: after)
    }

    /// Runs already bound to it keep the window as it was when they started.
    public func updateWindow(_ name: String, cron: String?, timezone: String?, durationMinutes: Int?) async throws(OrchestratorError) -> MaintenanceWindow {
        var v = Validator()
        v.require(cron != nil || timezone != nil || durationMinutes != nil, "fields", "nothing to change: give at least one of cron, timezone, durationMinutes")
        try v.check()
        let read = try await schedules.window(named: name)
        var changed = read
        if let cron { changed.cron = cron }
        if let timezone { changed.timezone = timezone }
        if let durationMinutes { changed.durationMinutes = durationMinutes }
        v.merge(MaintenanceWindow.problems(name: changed.name, cron: changed.cron, timezone: changed.timezone, durationMinutes: changed.durationMinutes))
        try v.check()
        changed.updatedAt = clock.now().milliseconds
        try await schedules.replaceWindow(changed, read: read)
        return changed
    }

    public func deleteWindow(_ name: String) async throws(OrchestratorError) {
        try await schedules.deleteWindow(named: name)
    }
}

/// Starts the runs of schedules whose fire times came, on every daemon
/// alike: each fire time starts exactly one run, because the run's request
/// id names the schedule and the fire time and is unique in `runs` (a
/// second daemon that fires the same time gets the first one's run back),
/// and the schedule's fire cursor moves only from where it was read.
public struct ScheduleRunner: Sendable {
    private let schedules: any ScheduleStore
    private let runs: RunService
    private let runStore: any RunStore
    private let clock: any EngineClock
    private let requester: Requester
    private let logger: Logger

    /// A fire time more than this late was missed (the daemons were down):
    /// the schedule's `missed` policy decides. Later but within it, it fires.
    public static let missedAfter: TimeInterval = 60
    /// How many due fire times of one schedule are looked at, at most (a
    /// schedule that fires every minute, after a week down, has 10,080).
    static let dueFireTimesLooked = 100_000

    public init(schedules: any ScheduleStore, runs: RunService, runStore: any RunStore, clock: any EngineClock, requester: Requester, logger: Logger) {
        self.schedules = schedules
        self.runs = runs
        self.runStore = runStore
        self.clock = clock
        self.requester = requester
        self.logger = logger
    }

    /// Handles every schedule due now; returns the runs it started.
    @discardableResult
    public func tick() async -> Int {
        let now = clock.now()
        guard let due = try? await schedules.dueSchedules(now: now, limit: 100) else { return 0 }
        var started = 0
        for schedule in due where await fire(schedule, now: now) { started += 1 }
        return started
    }

    /// What one due schedule does now: the fire time it runs for (if any),
    /// then its cursor moves to the first fire time after now.
    private func fire(_ schedule: Schedule, now: Date) async -> Bool {
        guard let cron = schedule.schedule, let first = schedule.nextFireAt else { return false }
        var due = [first]
        var cursor = first
        while due.count < Self.dueFireTimesLooked, let next = cron.next(after: cursor), next <= now {
            due.append(next)
            cursor = next
        }
        let latest = due.last ?? first
        let onTime = due.filter { now.timeIntervalSince($0) <= Self.missedAfter }
        let missed = due.count - onTime.count
        let fireAt: Date? = schedule.missed == .runOnce ? latest : onTime.last
        var metadata: Logger.Metadata = ["schedule": "\(schedule.name)", "workflow": "\(schedule.workflow)"]
        if missed > 0 {
            logger.notice(
                "schedule \(schedule.name) missed \(missed) fire time\(missed == 1 ? "" : "s") (the first at \(RFC3339Text.format(first))): no daemon could fire \(missed == 1 ? "it" : "them") within a minute; missed: \(schedule.missed.rawValue)",
                metadata: metadata)
        }
        var runId: String?
        if let fireAt {
            do throws(OrchestratorError) {
                runId = try await startRun(schedule, for: fireAt)
            } catch where error.isTransient || error.details["stopping"] != nil {
                // The database is away, or this daemon began to stop: the next
                // tick (here or on a peer) tries again, with the same request id.
                return false
            } catch {
                metadata["error"] = "\(error.message)"
                logger.error("schedule \(schedule.name) could not start a run for \(RFC3339Text.format(fireAt)): \(error.message)", metadata: metadata)
            }
        }
        let next = cron.next(after: max(now, latest))
        let moved = (try? await schedules.advanceSchedule(id: schedule.id, from: first, to: next, fired: fireAt ?? latest, runId: runId)) ?? false
        return moved && runId != nil
    }

    /// The run of `schedule` for `fireAt`: made once, whichever daemon asks
    /// first; anyone asking later gets that one.
    private func startRun(_ schedule: Schedule, for fireAt: Date) async throws(OrchestratorError) -> String {
        let requestId = schedule.requestId(forFireAt: fireAt)
        if let earlier = try await runStore.run(requestId: requestId) { return earlier.id }
        let fleet = schedule.targets.map {
            FleetRequest(selector: $0, batchSize: schedule.batchSize ?? .percent(100), maxFailPercentage: schedule.maxFailPercentage ?? 0)
        }
        // In the name of whoever made or last changed the schedule, from this daemon's process.
        var requester = self.requester
        if let uid = schedule.updatedBy { requester.uid = uid }
        let run = try await runs.start(
            workflow: schedule.workflow, params: schedule.params, requestId: requestId, fleet: fleet, requester: requester,
            window: schedule.window, schedule: schedule.name)
        logger.notice(
            "schedule \(schedule.name) started run \(run.id) for \(RFC3339Text.format(fireAt))",
            metadata: ["schedule": "\(schedule.name)", "runId": "\(run.id)", "workflow": "\(schedule.workflow)"])
        return run.id
    }
}

/// RFC 3339 UTC seconds, for log lines.
enum RFC3339Text {
    static func format(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter.string(from: date)
    }
}
