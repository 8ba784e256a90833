import OrchestratorModel
import OrchestratorProtocol
import OrchestratorServices

/// The `schedule.*` and `window.*` methods.
struct ScheduleHarness: Sendable {
    let service: ScheduleService

    func create(_ draft: ScheduleDraft, _ c: CallContext) async throws(RPCError) -> ScheduleView {
        try await view { () throws(OrchestratorError) in try await service.create(draft, by: c.peer.uid) }
    }

    func get(_ p: NameParams, _ c: CallContext) async throws(RPCError) -> ScheduleView {
        let (schedule, upcoming) = try await domain { () throws(OrchestratorError) in try await service.get(p.name) }
        return ScheduleView(schedule, upcoming: upcoming)
    }

    func list(_ p: NamedListParams, _ c: CallContext) async throws(RPCError) -> Page<ScheduleView> {
        let page = try await domain { () throws(OrchestratorError) in try await service.list(limit: p.limit, after: p.after) }
        return Page(items: page.items.map { ScheduleView($0) }, next: page.next)
    }

    func update(_ p: ScheduleUpdateParams, _ c: CallContext) async throws(RPCError) -> ScheduleView {
        try await view { () throws(OrchestratorError) in try await service.update(p.name, p.changes, by: c.peer.uid) }
    }

    func delete(_ p: NameParams, _ c: CallContext) async throws(RPCError) -> Deleted {
        try await domain { () throws(OrchestratorError) in try await service.delete(p.name) }
        return Deleted()
    }

    func createWindow(_ p: WindowDraft, _ c: CallContext) async throws(RPCError) -> MaintenanceWindow {
        try await domain { () throws(OrchestratorError) in
            try await service.createWindow(name: p.name, cron: p.cron, timezone: p.timezone, durationMinutes: p.durationMinutes)
        }
    }

    func window(_ p: NameParams, _ c: CallContext) async throws(RPCError) -> MaintenanceWindow {
        try await domain { () throws(OrchestratorError) in try await service.window(p.name) }
    }

    func listWindows(_ p: NamedListParams, _ c: CallContext) async throws(RPCError) -> Page<MaintenanceWindow> {
        try await domain { () throws(OrchestratorError) in try await service.listWindows(limit: p.limit, after: p.after) }
    }

    func updateWindow(_ p: WindowUpdateParams, _ c: CallContext) async throws(RPCError) -> MaintenanceWindow {
        try await domain { () throws(OrchestratorError) in
            try await service.updateWindow(p.name, cron: p.cron, timezone: p.timezone, durationMinutes: p.durationMinutes)
        }
    }

    func deleteWindow(_ p: NameParams, _ c: CallContext) async throws(RPCError) -> Deleted {
        try await domain { () throws(OrchestratorError) in try await service.deleteWindow(p.name) }
        return Deleted()
    }

    /// A schedule as answered after a change: with its next fire times, as `schedule.get` shows them.
    private func view(_ body: () async throws(OrchestratorError) -> Schedule) async throws(RPCError) -> ScheduleView {
        let schedule = try await domain(body)
        let (_, upcoming) = (try? await service.get(schedule.name)) ?? (schedule, [])
        return ScheduleView(schedule, upcoming: upcoming)
    }
}
