import Foundation
import InMemoryStorage
import Logging
import MongoStorage
import OrchestratorEngine
import OrchestratorModel
import OrchestratorServices
import OrchestratorStorage
import Synchronization
import TestSupport
import Testing

/// Schedules and windows over both stores, fired by `ScheduleRunner`s with
/// a clock the test sets: exactly one run per fire time however many
/// daemons fire at once, `missed` after downtime, pause and resume, and
/// every bad input refused with all its problems.
@Suite struct ScheduleTests {
    /// A wall clock the test moves by hand.
    final class ManualClock: EngineClock {
        private let current: Mutex<Date>
        init(_ start: Date) { current = Mutex(start) }
        func now() -> Date { current.withLock { $0 } }
        func set(_ date: Date) { current.withLock { $0 = date } }
        func uptime() -> Duration { .zero }
        func sleep(for duration: Duration) async {}
    }

    /// Two daemons' worth of services over one database: each with its own
    /// run service and runner, sharing the stores.
    struct Fixture {
        let clock: ManualClock
        let schedules: ScheduleService
        let scheduleStore: any ScheduleStore
        let runStore: any RunStore
        let workflows: WorkflowService
        let runners: [ScheduleRunner]

        init(clock: ManualClock, schedules store: any ScheduleStore, runs: any RunStore, workflows workflowStore: any WorkflowStore, ids: any IdSource) {
            self.clock = clock
            scheduleStore = store
            runStore = runs
            workflows = WorkflowService(workflows: workflowStore, runs: runs, ids: ids, clock: clock)
            schedules = ScheduleService(schedules: store, workflows: workflowStore, ids: ids, clock: clock)
            runners = (0..<2).map { daemon in
                // An engine that is never started: runs stay queued.
                let world = EngineWorld(clock: clock, launcher: ProcessLauncher(), spawn: { _ in })
                let engine = Engine(
                    settings: EngineSettings(ownerId: "daemon-\(daemon)", stepGate: "/nonexistent"), runs: runs, workflows: workflowStore, world: world,
                    logger: Logger(label: "test"))
                let service = RunService(
                    runs: runs, workflows: workflowStore, targets: InMemoryTargetStore(), engine: engine, ids: ids, clock: clock,
                    logger: Logger(label: "test"), schedules: store)
                return ScheduleRunner(
                    schedules: store, runs: service, runStore: runs, clock: clock, requester: Requester(uid: 0, gid: 0, pid: Int32(100 + daemon)),
                    logger: Logger(label: "test"))
            }
        }

        /// Every runner ticks at once, `times` times over.
        func tickTogether(times: Int = 3) async {
            for _ in 0..<times {
                await withTaskGroup(of: Void.self) { group in
                    for runner in runners { group.addTask { await runner.tick() } }
                }
            }
        }

        /// The runs each fire time started, by the request id that names it.
        func runsByFireTime() async throws -> [String: Int] {
            var counts: [String: Int] = [:]
            var after: String?
            repeat {
                let page = try await runStore.listRuns(workflow: "backup", status: nil, limit: 1000, after: after)
                for run in page.items { counts[run.requestId ?? "-", default: 0] += 1 }
                after = page.next
            } while after != nil
            return counts
        }
    }

    static let start = ISO8601DateFormatter().date(from: "2026-12-02T10:00:30Z")!

    func withFixture(_ backend: Backend, _ body: (Fixture) async throws -> Void) async throws {
        let clock = ManualClock(Self.start)
        switch backend {
        case .memory:
            try await body(Fixture(clock: clock, schedules: InMemoryScheduleStore(), runs: InMemoryRunStore(), workflows: InMemoryWorkflowStore(), ids: SequentialIds()))
        case .mongodb:
            try await withTestPool { pool in
                let (schedules, runs, workflows) = (MongoScheduleStore(pool: pool), MongoRunStore(pool: pool), MongoWorkflowStore(pool: pool))
                try await schedules.prepare()
                try await runs.prepare()
                try await workflows.prepare()
                try await body(Fixture(clock: clock, schedules: schedules, runs: runs, workflows: workflows, ids: ObjectIdSource()))
            }
        }
    }

    private func backupWorkflow(_ f: Fixture) async throws {
        _ = try await f.workflows.create(WorkflowDraft(name: "backup", steps: [Step(name: "save", executionOrder: 0, action: Action(exec: ["/bin/true"]))]))
    }

    @Test(arguments: Backend.allCases) func eachFireTimeStartsExactlyOneRunHoweverManyDaemonsFire(_ backend: Backend) async throws {
        try await withFixture(backend) { f in
            try await backupWorkflow(f)
            let schedule = try await f.schedules.create(ScheduleDraft(name: "every-5", workflow: "backup", cron: "*/5 * * * *"), by: 1000)
            #expect(schedule.nextFireAt == ISO8601DateFormatter().date(from: "2026-12-02T10:05:00Z"))
            // Not due yet: nothing.
            await f.tickTogether()
            #expect(try await f.runsByFireTime().isEmpty)
            // Three fire times, each reached with both daemons firing at once, several times.
            for minute in [5, 10, 15] {
                f.clock.set(ISO8601DateFormatter().date(from: "2026-12-02T10:\(String(format: "%02d", minute)):00Z")!.addingTimeInterval(0.5))
                await f.tickTogether()
            }
            let runs = try await f.runsByFireTime()
            #expect(runs.count == 3)
            #expect(runs.values.allSatisfy { $0 == 1 }, "\(runs)")
            let stored = try await f.scheduleStore.schedule(named: "every-5")
            #expect(stored.nextFireAt == ISO8601DateFormatter().date(from: "2026-12-02T10:20:00Z"))
            #expect(stored.lastFireAt == ISO8601DateFormatter().date(from: "2026-12-02T10:15:00Z"))
            let last = try await f.runStore.run(id: try #require(stored.lastRunId))
            #expect(last.schedule == "every-5")
            // Started in the name of whoever made the schedule.
            #expect(last.requestedBy.uid == 1000)
            #expect(last.requestId == stored.requestId(forFireAt: stored.lastFireAt!))
        }
    }

    /// Down from 10:04 to 10:36: fire times 10:05 … 10:35 were missed.
    @Test(arguments: Backend.allCases) func missedFireTimesAreSkippedOrRunOnce(_ backend: Backend) async throws {
        try await withFixture(backend) { f in
            try await backupWorkflow(f)
            _ = try await f.schedules.create(ScheduleDraft(name: "skipper", workflow: "backup", cron: "*/5 * * * *", missed: .skip))
            _ = try await f.schedules.create(ScheduleDraft(name: "catcher", workflow: "backup", cron: "*/5 * * * *", missed: .runOnce))
            f.clock.set(ISO8601DateFormatter().date(from: "2026-12-02T10:36:10Z")!)
            await f.tickTogether()
            let skipper = try await f.scheduleStore.schedule(named: "skipper")
            let catcher = try await f.scheduleStore.schedule(named: "catcher")
            #expect(skipper.lastRunId == nil)
            #expect(skipper.nextFireAt == ISO8601DateFormatter().date(from: "2026-12-02T10:40:00Z"))
            #expect(catcher.nextFireAt == ISO8601DateFormatter().date(from: "2026-12-02T10:40:00Z"))
            let runs = try await f.runsByFireTime()
            #expect(runs.count == 1, "\(runs)")
            // The one run is for the latest missed fire time.
            let once = try await f.runStore.run(id: try #require(catcher.lastRunId))
            #expect(once.requestId == catcher.requestId(forFireAt: ISO8601DateFormatter().date(from: "2026-12-02T10:35:00Z")!))
            // A fire time less than a minute late is not missed: it fires, whatever the policy.
            f.clock.set(ISO8601DateFormatter().date(from: "2026-12-02T10:40:45Z")!)
            await f.tickTogether()
            #expect(try await f.scheduleStore.schedule(named: "skipper").lastRunId != nil)
            #expect(try await f.runsByFireTime().count == 3)
        }
    }

    @Test(arguments: Backend.allCases) func aPausedScheduleDoesNotFireAndResumesFromNow(_ backend: Backend) async throws {
        try await withFixture(backend) { f in
            try await backupWorkflow(f)
            _ = try await f.schedules.create(ScheduleDraft(name: "hourly", workflow: "backup", cron: "@hourly", missed: .runOnce))
            let paused = try await f.schedules.update("hourly", ScheduleChanges(enabled: false))
            #expect(paused.nextFireAt == nil)
            f.clock.set(ISO8601DateFormatter().date(from: "2026-12-02T13:30:00Z")!)
            await f.tickTogether()
            #expect(try await f.runsByFireTime().isEmpty)
            #expect(try await f.schedules.get("hourly").1.isEmpty, "a paused schedule shows no fire times")
            let resumed = try await f.schedules.update("hourly", ScheduleChanges(enabled: true))
            #expect(resumed.nextFireAt == ISO8601DateFormatter().date(from: "2026-12-02T14:00:00Z"))
            await f.tickTogether()
            #expect(try await f.runsByFireTime().isEmpty, "fire times passed while paused do not fire on resume")
            let shown = try await f.schedules.get("hourly").1
            #expect(shown.count == ScheduleRules.shownFireTimes)
            #expect(shown.first == ISO8601DateFormatter().date(from: "2026-12-02T14:00:00Z"))
        }
    }

    /// A schedule whose workflow was deleted says why in the journal and
    /// moves on to its next fire time (it does not retry every second).
    @Test(arguments: Backend.allCases) func aFireThatCannotStartARunMovesOn(_ backend: Backend) async throws {
        try await withFixture(backend) { f in
            try await backupWorkflow(f)
            _ = try await f.schedules.create(ScheduleDraft(name: "orphan", workflow: "backup", cron: "*/5 * * * *"))
            try await f.workflows.delete("backup")
            f.clock.set(ISO8601DateFormatter().date(from: "2026-12-02T10:05:01Z")!)
            await f.tickTogether()
            let stored = try await f.scheduleStore.schedule(named: "orphan")
            #expect(stored.lastRunId == nil)
            #expect(stored.nextFireAt == ISO8601DateFormatter().date(from: "2026-12-02T10:10:00Z"))
        }
    }

    @Test(arguments: Backend.allCases) func badSchedulesAndWindowsAreRefusedWithEveryProblem(_ backend: Backend) async throws {
        try await withFixture(backend) { f in
            try await backupWorkflow(f)
            let bad = await errorOf {
                try await f.schedules.create(ScheduleDraft(
                    name: "Bad!", workflow: "backup", cron: "61 * * *", timezone: "Mars/Olympus", params: ["a b": "x"], batchSize: .count(3)))
            }
            #expect(bad?.kind.validationFields == ["name", "cron", "timezone", "params.a b", "batchSize"])
            let missing = await errorOf { try await f.schedules.create(ScheduleDraft(name: "s", workflow: "nope", cron: "@daily", window: "nowhere")) }
            #expect(missing?.kind.validationFields == ["workflow", "window"])
            #expect(try await f.schedules.list(limit: 10, after: nil).items.isEmpty, "nothing was written")

            _ = try await f.schedules.create(ScheduleDraft(name: "s", workflow: "backup", cron: "@daily"))
            #expect(await errorOf { try await f.schedules.create(ScheduleDraft(name: "s", workflow: "backup", cron: "@daily")) }?.kind == .conflict)
            #expect(await errorOf { try await f.schedules.update("s", ScheduleChanges()) }?.kind.validationFields == ["fields"])
            #expect(await errorOf { try await f.schedules.update("s", ScheduleChanges(cron: "0 0 30 2 *")) }?.kind.validationFields == ["cron"])
            #expect(await errorOf { try await f.schedules.update("nope", ScheduleChanges(enabled: false)) }?.kind.isNotFound == true)
            #expect(await errorOf { try await f.schedules.delete("nope") }?.kind.isNotFound == true)

            let window = await errorOf { try await f.schedules.createWindow(name: "w", cron: "0 25 * * *", timezone: "UTC", durationMinutes: 0) }
            #expect(window?.kind.validationFields == ["cron", "durationMinutes"])
            _ = try await f.schedules.createWindow(name: "w", cron: "0 22 * * sat", timezone: "Europe/Berlin", durationMinutes: 240)
            #expect(await errorOf { try await f.schedules.createWindow(name: "w", cron: "@daily", timezone: "UTC", durationMinutes: 5) }?.kind == .conflict)
            let updated = try await f.schedules.updateWindow("w", cron: nil, timezone: nil, durationMinutes: 60)
            #expect(updated.durationMinutes == 60)
            try await f.schedules.deleteWindow("w")
            #expect(await errorOf { try await f.schedules.window("w") }?.kind.isNotFound == true)
        }
    }

    /// Saturday 22:00 in Berlin for four hours.
    @Test func aWindowIsOpenFromEachOpeningForItsDuration() {
        let window = MaintenanceWindow(
            id: "w", name: "sat-night", cron: "0 22 * * sat", timezone: "Europe/Berlin", durationMinutes: 240, createdAt: Self.start, updatedAt: Self.start)
        let at = { (text: String) in ISO8601DateFormatter().date(from: text)! }
        // 2026-12-05 is a Saturday; Berlin is UTC+1 in December.
        #expect(!window.isOpen(at: at("2026-12-05T20:59:59Z")))
        #expect(window.opening(containing: at("2026-12-05T21:00:00Z"))?.closes == at("2026-12-06T01:00:00Z"))
        #expect(window.isOpen(at: at("2026-12-06T00:59:59Z")))
        #expect(!window.isOpen(at: at("2026-12-06T01:00:00Z")))
        #expect(window.nextOpening(after: at("2026-12-06T01:00:00Z")) == at("2026-12-12T21:00:00Z"))
    }
}
