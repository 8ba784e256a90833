import Foundation
import OrchestratorModel

/// Where schedules and maintenance windows are kept. Inputs arrive
/// validated (ScheduleService); a store only says which guard failed.
public protocol ScheduleStore: Sendable {
    /// Conflict when the name is taken.
    func createSchedule(_ schedule: Schedule) async throws(OrchestratorError)
    func schedule(named name: String) async throws(OrchestratorError) -> Schedule
    /// Ordered by name; `after` is the `next` cursor of the previous page.
    func listSchedules(limit: Int, after: String?) async throws(OrchestratorError) -> Page<Schedule>
    /// Stores `schedule`'s definition and next fire time over the one of its
    /// id, if that one is still as `read` was (its `updatedAt` and fire
    /// cursor): else Conflict, and nothing is written. Its fire history
    /// (`lastFireAt`, `lastRunId`) is the store's own.
    func replaceSchedule(_ schedule: Schedule, read: Schedule) async throws(OrchestratorError)
    func deleteSchedule(named name: String) async throws(OrchestratorError)
    /// Enabled schedules whose next fire time is at or before `now`, the longest due first.
    func dueSchedules(now: Date, limit: Int) async throws(OrchestratorError) -> [Schedule]
    /// Moves a schedule's fire cursor from `from` to `next`, recording the
    /// fire time it handled and the run it started, if the cursor is still
    /// at `from`. False when another daemon moved it first.
    func advanceSchedule(id: String, from: Date, to next: Date?, fired: Date, runId: String?) async throws(OrchestratorError) -> Bool

    /// Conflict when the name is taken.
    func createWindow(_ window: MaintenanceWindow) async throws(OrchestratorError)
    func window(named name: String) async throws(OrchestratorError) -> MaintenanceWindow
    func listWindows(limit: Int, after: String?) async throws(OrchestratorError) -> Page<MaintenanceWindow>
    /// Conflict when it changed since `read` (its `updatedAt`).
    func replaceWindow(_ window: MaintenanceWindow, read: MaintenanceWindow) async throws(OrchestratorError)
    func deleteWindow(named name: String) async throws(OrchestratorError)
}

extension OrchestratorError {
    public static func nameTaken(_ kind: String, _ name: String) -> OrchestratorError {
        .conflict("a \(kind) named '\(name)' already exists", details: ["name": name])
    }

    public static func changedMeanwhile(_ kind: String, _ name: String) -> OrchestratorError {
        .conflict("\(kind) '\(name)' changed while this change was made; try again", details: ["name": name])
    }
}
