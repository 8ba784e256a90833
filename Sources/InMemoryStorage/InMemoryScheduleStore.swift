import Foundation
import OrchestratorModel
import OrchestratorStorage
import Synchronization

/// Schedules and windows in memory, with the MongoDB store's guards.
public final class InMemoryScheduleStore: ScheduleStore {
    private let schedules = Mutex([String: Schedule]())
    private let windows = Mutex([String: MaintenanceWindow]())

    public init() {}

    public func createSchedule(_ schedule: Schedule) async throws(OrchestratorError) {
        try schedules.withLock { all throws(OrchestratorError) in
            guard !all.values.contains(where: { $0.name == schedule.name }) else { throw .nameTaken("schedule", schedule.name) }
            all[schedule.id] = schedule
        }
    }

    public func schedule(named name: String) async throws(OrchestratorError) -> Schedule {
        guard let found = schedules.withLock({ $0.values.first { $0.name == name } }) else { throw .notFound("schedule", name) }
        return found
    }

    public func listSchedules(limit: Int, after: String?) async throws(OrchestratorError) -> Page<Schedule> {
        Self.page(schedules.withLock { Array($0.values) }, name: \.name, limit: limit, after: after)
    }

    public func replaceSchedule(_ schedule: Schedule, read: Schedule) async throws(OrchestratorError) {
        try schedules.withLock { all throws(OrchestratorError) in
            guard let stored = all[schedule.id], stored.updatedAt == read.updatedAt, stored.nextFireAt == read.nextFireAt else {
                throw .changedMeanwhile("schedule", read.name)
            }
            var replaced = schedule
            (replaced.lastFireAt, replaced.lastRunId) = (stored.lastFireAt, stored.lastRunId)
            all[schedule.id] = replaced
        }
    }

    public func deleteSchedule(named name: String) async throws(OrchestratorError) {
        try schedules.withLock { all throws(OrchestratorError) in
            guard let found = all.values.first(where: { $0.name == name }) else { throw .notFound("schedule", name) }
            all[found.id] = nil
        }
    }

    public func dueSchedules(now: Date, limit: Int) async throws(OrchestratorError) -> [Schedule] {
        schedules.withLock { all in
            Array(all.values.filter { $0.enabled && ($0.nextFireAt.map { $0 <= now } ?? false) }.sorted { $0.nextFireAt! < $1.nextFireAt! }.prefix(limit))
        }
    }

    public func advanceSchedule(id: String, from: Date, to next: Date?, fired: Date, runId: String?) async throws(OrchestratorError) -> Bool {
        schedules.withLock { all in
            guard var stored = all[id], stored.nextFireAt == from else { return false }
            stored.nextFireAt = next
            stored.lastFireAt = fired
            if let runId { stored.lastRunId = runId }
            all[id] = stored
            return true
        }
    }

    public func createWindow(_ window: MaintenanceWindow) async throws(OrchestratorError) {
        try windows.withLock { all throws(OrchestratorError) in
            guard !all.values.contains(where: { $0.name == window.name }) else { throw .nameTaken("window", window.name) }
            all[window.id] = window
        }
    }

    public func window(named name: String) async throws(OrchestratorError) -> MaintenanceWindow {
        guard let found = windows.withLock({ $0.values.first { $0.name == name } }) else { throw .notFound("window", name) }
        return found
    }

    public func listWindows(limit: Int, after: String?) async throws(OrchestratorError) -> Page<MaintenanceWindow> {
        Self.page(windows.withLock { Array($0.values) }, name: \.name, limit: limit, after: after)
    }

    public func replaceWindow(_ window: MaintenanceWindow, read: MaintenanceWindow) async throws(OrchestratorError) {
        try windows.withLock { all throws(OrchestratorError) in
            guard let stored = all[window.id], stored.updatedAt == read.updatedAt else { throw .changedMeanwhile("window", read.name) }
            all[window.id] = window
        }
    }

    public func deleteWindow(named name: String) async throws(OrchestratorError) {
        try windows.withLock { all throws(OrchestratorError) in
            guard let found = all.values.first(where: { $0.name == name }) else { throw .notFound("window", name) }
            all[found.id] = nil
        }
    }

    private static func page<Item>(_ items: [Item], name: KeyPath<Item, String>, limit: Int, after: String?) -> Page<Item> {
        let sorted = items.filter { after == nil || $0[keyPath: name] > after! }.sorted { $0[keyPath: name] < $1[keyPath: name] }
        let page = Array(sorted.prefix(limit))
        return Page(items: page, next: sorted.count > limit ? page.last?[keyPath: name] : nil)
    }
}
