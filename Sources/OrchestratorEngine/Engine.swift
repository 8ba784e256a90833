import Foundation
import Logging
import NIOConcurrencyHelpers
import OrchestratorModel
import OrchestratorStorage

/// The workflow engine: executes runs while it holds their leases. A run
/// started here is handed over at once (`adopt`); the claim loop looks for
/// the rest (its own runs after a restart, runs nobody holds, and runs
/// whose lease expired), keeps its leases fresh, and drains on shutdown.
/// Which runs exist and what may be done to them is `RunService`'s
/// business; this actor only executes them.
public actor Engine {
    private let settings: EngineSettings
    private let runs: any RunStore
    private let workflows: any WorkflowStore
    private let world: EngineWorld
    private let logger: Logger
    private let slots: StepSlots
    /// The newest run of each workflow its executors made the latest.
    private let latestMarks = LatestMarks()
    private var executors: [String: any RunDriver] = [:]
    /// Fleet runs driven here: they run no step, so they do not count
    /// against `maximumActiveRuns` (their members do; were they to count,
    /// fleets could fill every place their members need).
    private var fleets: Set<String> = []
    /// Fleet members executed here, and the fleet run each belongs to: its
    /// executor, if here, looks at once when one ends.
    private var fleetOf: [String: String] = [:]
    private var deadlines: [String: LeaseDeadline] = [:]
    /// Runs being claimed now. A claim of a run in flight writes a fence
    /// into its log: a second claim by this same daemon would fence its own
    /// executor, whose next write would then meet an entry of its own name
    /// and count as landed (found by the simulation, seed 947).
    private var claiming: Set<String> = []
    private var stopping = false
    /// The drain is over: nothing here runs or renews any more.
    private var stopped = false
    private var started = false
    private let doorbell = Doorbell()
    /// Opens when the last executor ends after a stop began.
    private let drained = Latch()
    private var onActiveRunsChanged: @Sendable (Int) -> Void = { _ in }
    private var lastClaimPass: Duration

    /// Where steps' secrets are read as they start.
    private let secrets: any SecretSource
    /// The values of the secret parameters of runs started or resumed here.
    public nonisolated let secretParams: SecretParamVault
    /// What the runs executing here store, for the watchers in this daemon.
    public nonisolated let feed = RunFeed()
    /// The lines the steps executing here print, for `run.follow` in this
    /// daemon: under the run's id (and a member's under its fleet's too),
    /// the last 64 KiB of each run executing here kept for those who come
    /// later; a follower holds up to 1 MiB it has not read yet.
    public nonisolated let output = Broadcast<OutputLine>(capacity: 1 << 20, backlogCost: 64 * 1024) { $0.text.utf8.count + 64 }

    public init(
        settings: EngineSettings, runs: any RunStore, workflows: any WorkflowStore, world: EngineWorld = .system,
        secrets: any SecretSource = NoSecrets(), logger: Logger
    ) {
        self.secrets = secrets
        self.secretParams = SecretParamVault()
        self.settings = settings
        self.runs = runs
        self.workflows = workflows
        self.world = world
        self.logger = logger
        self.slots = StepSlots(settings.maxParallelSteps)
        self.lastClaimPass = world.clock.uptime()
    }

    public func start(onActiveRunsChanged: @escaping @Sendable (Int) -> Void) {
        self.onActiveRunsChanged = onActiveRunsChanged
        started = true
        world.spawn { await self.claimLoop() }
        world.spawn { await self.leaseLoop() }
        world.spawn { await self.sweepLoop() }
        let (doorbell, clock, interval) = (self.doorbell, world.clock, settings.claimInterval)
        // Other daemons' work has no event here: look for it every claim interval.
        world.spawn {
            while !doorbell.isClosed {
                await clock.sleep(for: interval)
                doorbell.ring()
            }
        }
    }

    public var activeRuns: Int { executors.count }

    /// Runs whose steps run here: what `maximumActiveRuns` bounds. A run
    /// that only waits (for its window to open, for people to approve) does
    /// not count, up to `maximumWaitingRuns`: weeks of waiting runs must not
    /// keep every other run queued.
    private var stepRuns: Int {
        executors.count - fleets.count - min(waiting.count, settings.maximumWaitingRuns)
    }
    /// Runs whose executors say they only wait.
    private var waiting: Set<String> = []

    /// Called by a run's executor when it starts or stops only waiting.
    func waits(_ runId: String, _ isWaiting: Bool) {
        guard executors[runId] != nil else { return }
        if isWaiting {
            // Room for another run.
            if waiting.insert(runId).inserted { doorbell.ring() }
        } else {
            waiting.remove(runId)
        }
    }

    /// Whether new runs may be started here (not once a stop began).
    public var acceptsRuns: Bool { !stopping }

    /// True while the claim loop has run recently: the watchdog's sign of life.
    public var isHealthy: Bool { stopping || world.clock.uptime() - lastClaimPass < settings.claimInterval * 10 + .seconds(60) }

    // MARK: - What the services tell it

    /// A run was just queued by this daemon: execute it now if there is
    /// room, without waiting for the claim loop.
    /// `evenIfFull`: a run only this daemon can execute (it keeps its secret
    /// parameters) is taken even beyond `maximumActiveRuns`; its steps
    /// still wait for step slots like every other's.
    public nonisolated func adopt(runId: String, evenIfFull: Bool = false) {
        world.spawn { await self.claimIfRoom(runId, evenIfFull: evenIfFull) }
    }

    /// This daemon's id in leases, and how long a lease lasts.
    public nonisolated var ownerId: String { settings.ownerId }
    public nonisolated var lease: Duration { settings.lease }

    /// Runs only this daemon can execute (it keeps their secret parameters),
    /// or should (it knows their first steps never ran: see `unreleased`),
    /// and until when (uptime) it keeps trying to claim them whatever its
    /// room: a claim that failed (the database, a lost answer) is tried
    /// again at each claim pass, not left to a peer, which would not have
    /// their values, or would count those steps interrupted.
    private var pinned: [String: Duration] = [:]

    private func claimIfRoom(_ runId: String, evenIfFull: Bool = false) async {
        if evenIfFull { pinned[runId] = world.clock.uptime() + settings.lease * 2 }
        guard started, !stopping, executors[runId] == nil, evenIfFull || stepRuns + claiming.count < settings.maximumActiveRuns else {
            doorbell.ring()
            return
        }
        await claimAndExecute(runId)
    }

    /// A run was queued again (resumed), or room was freed: look for work now.
    public func lookForWork() {
        doorbell.ring()
    }

    /// The run is to be cancelled: its executor here (if any) stops its steps.
    public func cancelRequested(runId: String) {
        if claiming.contains(runId) { pendingCancels.insert(runId) }
        executors[runId]?.send(.cancel)
    }

    /// Someone decided on one of the run's approval steps: its executor here (if any) looks now.
    public func approvalDecided(runId: String) {
        executors[runId]?.send(.tick)
    }

    /// No new runs; running steps may finish within `timeout`. Those still
    /// running then are stopped and recorded `interrupted` here (leases are
    /// renewed meanwhile, so no peer starts them while they still run). The
    /// drain ends by its own deadline whatever the database does: what could
    /// not be written is recovered at the next start or by another daemon.
    public func shutdown(timeout: Duration) async {
        // A second call (the daemon id was taken over, then the graceful stop) waits for the first.
        guard !stopping else {
            if !stopped { await world.clock.sleep(for: timeout + settings.killGrace + Self.lastWriteTime, orUntil: drained) }
            return
        }
        stopping = true
        doorbell.close()
        logger.notice("draining: \(executors.count) runs executing here, \(storedWithRun.count) being stored with their first steps; running steps may finish within \(timeout)")
        for id in executors.keys.sorted() { executors[id]?.send(.stop) }
        openDrainedIfIdle()
        await world.clock.sleep(for: timeout, orUntil: drained)
        if !executors.isEmpty {
            logger.notice("stop timeout reached with \(executors.count) runs still active: stopping their steps and recording them interrupted")
            for id in executors.keys.sorted() { await executors[id]?.stopNow() }
            await world.clock.sleep(for: settings.killGrace + Self.lastWriteTime, orUntil: drained)
        }
        if !executors.isEmpty {
            logger.warning("\(executors.count) runs could not be recorded before the drain's deadline (is MongoDB down?); they will be recovered at the next start or by another daemon")
        }
        stopped = true
    }

    /// After the stop timeout and the kill grace: how long the drain waits
    /// for its last writes. The whole drain fits systemd's TimeoutStopSec
    /// (stop timeout + kill grace + this; see the unit).
    public static let lastWriteTime = Duration.seconds(5)

    // MARK: - Claiming and leases

    private func claimLoop() async {
        lastClaimPass = world.clock.uptime()
        await claimAvailable()
        for await _ in doorbell.rings {
            guard !stopping else { break }
            lastClaimPass = world.clock.uptime()
            await claimAvailable()
        }
    }

    private func claimAvailable() async {
        await claimPinned()
        let room = settings.maximumActiveRuns - stepRuns - claiming.count
        guard room > 0 else { return }
        await refreshServerReading()
        // The database's clock, not this host's: a host whose clock is off
        // must neither see healthy leases as expired nor keep its own alive.
        guard let now = serverTime(at: world.clock.uptime()) else { return }
        let candidates: [String]
        do {
            candidates = try await runs.claimable(owner: settings.ownerId, now: now - settings.takeoverGrace, limit: room + executors.count)
        } catch {
            return  // The database is down: try again at the next pass
        }
        for id in candidates where executors[id] == nil && !stopping && stepRuns + claiming.count < settings.maximumActiveRuns {
            await claimAndExecute(id)
        }
    }

    private func claimPinned() async {
        for (id, until) in pinned.sorted(by: { $0.key < $1.key }) {
            guard !stopping else { return }
            if executors[id] == nil, world.clock.uptime() <= until { await claimAndExecute(id) }
            if executors[id] != nil || world.clock.uptime() > until { pinned[id] = nil }
        }
    }

    /// The lease asked for and the deadline kept here start from the same
    /// moment, taken just before the claim is sent: a time taken earlier
    /// (before a slow listing) would shorten the lease in the database but
    /// not the deadline here (found by the simulation, seed 46 with stalls).
    private func claimAndExecute(_ id: String) async {
        guard executors[id] == nil, !claiming.contains(id) else { return }
        claiming.insert(id)
        await refreshServerReading()
        let sent = world.clock.uptime()
        // The deadline from the same reading as the lease asked for (a later reading may be more certain).
        let heldHere = leaseHeldHere
        guard let now = serverTime(at: sent) else {
            claiming.remove(id)
            pendingCancels.remove(id)
            return
        }
        let claimed = try? await runs.claim(
            id: id, owner: settings.ownerId, until: now.addingTimeInterval(leaseSeconds), now: now - settings.takeoverGrace)
        claiming.remove(id)
        let cancel = pendingCancels.remove(id) != nil
        guard var claimed, executors[id] == nil, !stopping else { return }
        claimed.run.cancelRequested = claimed.run.cancelRequested || cancel
        startExecutor(claimed, deadline: LeaseDeadline(sent + heldHere))
    }

    /// A run this daemon is about to store, leased to itself: the lease to
    /// store it with, taken from the server time carried forward (no round
    /// trip while the reading is fresh). It counts as a claim in progress.
    public struct Reservation: Sendable {
        public let runId: String
        public let lease: RunLease
        /// Until when (uptime) this daemon may act on it: taken with the lease, from the same reading.
        fileprivate let deadline: Duration
    }

    /// Room for a run about to be stored here (`evenIfFull`: one only this
    /// daemon can execute). Nil when there is none, or no reading of the
    /// server's clock yet: the run is then stored unleased, for the claim loop.
    public func reserve(_ runId: String, evenIfFull: Bool = false) async -> Reservation? {
        guard started, !stopping, executors[runId] == nil, !claiming.contains(runId),
              evenIfFull || stepRuns + claiming.count < settings.maximumActiveRuns else { return nil }
        claiming.insert(runId)
        await refreshServerReading()
        let sent = world.clock.uptime()
        guard let now = serverTime(at: sent), !stopping else {
            claiming.remove(runId)
            return nil
        }
        return Reservation(
            runId: runId, lease: RunLease(owner: settings.ownerId, until: now.addingTimeInterval(leaseSeconds)), deadline: sent + leaseHeldHere)
    }

    /// Starts the first steps of `run`, about to be stored under
    /// `reserved`, held at their gates, each with a step slot, and returns
    /// the change that records them (and the run) as running: `run.start`
    /// stores the run with it, so the run's insert is the write that
    /// records them, and they run as soon as it is stored, with no update
    /// of the run in between (that update queued behind every other run's
    /// insert when many started at once). Nothing runs before the insert
    /// is stored: `execute` hands them to the run's executor, which lets
    /// them go; `cancelReservation` lets them go at their gates. Only for a
    /// run that starts a step at once: no window to wait for, no locks to
    /// wait for, no secret parameters (the executor checks its vault
    /// first), and only steps that may start ahead (no approval, no
    /// secrets). Nil when no step is started so.
    /// The spawns (0.5–1.3 ms each) come before the insert and add to the
    /// answer; they happen off the engine's actor, so claims, leases and
    /// other starts do not wait for them.
    public nonisolated func startAhead(of run: Run, reserved: Reservation?) async -> RunChange? {
        guard let reserved, reserved.runId == run.id, run.fleet == nil, run.window == nil, run.locks.isEmpty, run.secretParams.isEmpty,
              !run.cancelRequested, run.status == .queued else { return nil }
        let starter = StepStarter(run: run, settings: settings, launcher: world.launcher, output: output, logger: StepStarter.runLogger(logger, for: run))
        let first = RunPlanner.Plan(run.definition).decide(cancelRequested: false) { _ in .pending }.start
        let now = world.clock.now().milliseconds
        var change = RunChange(status: .running, startedAt: now, events: [RunEvent(sequence: run.events.count, step: nil, status: RunStatus.running.rawValue, at: now)])
        var held: HeldAhead = [:]
        for name in first.prefix(settings.maxParallelSteps) {
            guard let index = run.steps.firstIndex(where: { $0.name == name }), let step = run.definition.first(where: { $0.name == name }),
                  step.locks.isEmpty, starter.mayStartAhead(step), slots.tryAcquire() else { continue }
            guard case .held(let process) = starter.prepare(step, attempt: run.steps[index].attempts + 1, secrets: .none) else {
                slots.release()
                continue
            }
            let record = StepRules.started(run.steps[index], process: process.identity, at: now)
            held[name] = (record.attempts, process)
            change.steps[index] = record
            change.events.append(RunEvent(
                sequence: run.events.count + change.events.count, step: name, status: StepStatus.running.rawValue, at: now, attempt: record.attempts))
        }
        guard !held.isEmpty else { return nil }
        guard await keepStoredWithRun(held, for: run.id) else { return nil }
        return change
    }

    /// Kept for the run's executor while the run is being stored here; let
    /// go (and their slots given back) if it no longer is, or the daemon stops.
    private func keepStoredWithRun(_ held: HeldAhead, for runId: String) -> Bool {
        guard claiming.contains(runId), storedWithRun[runId] == nil, !stopping else {
            letGo(held)
            for _ in held { slots.release() }
            return false
        }
        storedWithRun[runId] = held
        return true
    }

    /// The processes `startAhead` started for runs being stored here now,
    /// recorded as running in the document being inserted, each holding a step slot.
    private var storedWithRun: [String: HeldAhead] = [:]

    /// Steps this daemon recorded as running in a run's insert whose answer
    /// was lost, and whose processes it let go at their gates: if the run
    /// was stored and this daemon executes it, they are known not to have
    /// run (their record still names the process that never left its gate),
    /// and start again instead of counting as interrupted. At most
    /// `Self.rememberedUnreleased` runs are remembered.
    private var unreleased: [String: [String: StepProcess]] = [:]
    private static let rememberedUnreleased = 1024

    /// Lets go what was started for a run while it was stored. When the
    /// insert may have been stored (its answer was lost), which processes
    /// never left their gates is remembered.
    private func letGoStoredWithRun(_ runId: String, mayBeStored: Bool = false) {
        guard let held = storedWithRun.removeValue(forKey: runId) else { return }
        letGo(held)
        for _ in held { slots.release() }
        if mayBeStored {
            if unreleased.count >= Self.rememberedUnreleased, let any = unreleased.keys.first { unreleased[any] = nil }
            unreleased[runId] = held.mapValues(\.process.identity)
            pinned[runId] = world.clock.uptime() + settings.lease * 2
        }
        openDrainedIfIdle()
    }

    /// The drain is over once no executor is left and no run is being
    /// stored with steps recorded running (its executor must start, and
    /// stop them, or the record would wrongly say they were interrupted).
    private func openDrainedIfIdle() {
        if stopping && executors.isEmpty && storedWithRun.isEmpty { drained.open() }
    }

    /// The reserved run was stored as `run`, leased to this daemon: it is
    /// executed now, from the record just written (a queued run's log is
    /// empty), with no claim (an update and a find) before its first step.
    /// `marksLatest`: its executor, not the start, makes it its workflow's
    /// latest run, in the background.
    public func execute(_ run: Run, reserved: Reservation, marksLatest: Bool = false) {
        claiming.remove(run.id)
        let cancel = pendingCancels.remove(run.id) != nil
        // A run stored with its first steps recorded running gets its
        // executor even in a drain: it records that they did not start.
        guard executors[run.id] == nil, !stopping || storedWithRun[run.id] != nil else {
            letGoStoredWithRun(run.id)
            // Its lease lapses; the next claim pass (here or a peer's) takes it.
            if marksLatest { world.spawn { [workflows] in try? await workflows.markLatestRun(workflowId: run.workflowId, runId: run.id) } }
            doorbell.ring()
            return
        }
        var stored = run
        stored.cancelRequested = stored.cancelRequested || cancel
        startExecutor(
            ClaimedRun(run: stored, log: RunLogPosition(folded: 0, next: 0)), deadline: LeaseDeadline(reserved.deadline), reserved: true, marksLatest: marksLatest,
            storedWithRun: storedWithRun.removeValue(forKey: run.id) ?? [:], stopsAtOnce: stopping)
    }

    /// The reserved run was not stored, or (`mayBeStored`) whether it was
    /// is unknown: if it was, the claim loop finds it, leased to this daemon.
    public func cancelReservation(_ reserved: Reservation, mayBeStored: Bool = false) {
        claiming.remove(reserved.runId)
        pendingCancels.remove(reserved.runId)
        letGoStoredWithRun(reserved.runId, mayBeStored: mayBeStored)
        doorbell.ring()
    }

    /// Cancels asked for runs being stored here now: applied once their executor starts.
    private var pendingCancels: Set<String> = []

    /// `reserved`: a run stored here a moment ago (see `execute`), not claimed.
    private func startExecutor(
        _ claimed: ClaimedRun, deadline: LeaseDeadline, reserved: Bool = false, marksLatest: Bool = false, storedWithRun: HeldAhead = [:], stopsAtOnce: Bool = false
    ) {
        let run = claimed.run
        let id = run.id
        let executor: any RunDriver
        if let fleet = run.fleet {
            let hooks = FleetHooks(
                lookForWork: { [doorbell] in doorbell.ring() }, cancel: { member in await self.cancelRequested(runId: member) },
                reserve: { member in await self.reserve(member) }, execute: { member, reserved in await self.execute(member, reserved: reserved) },
                cancelReservation: { reserved in await self.cancelReservation(reserved) })
            executor = FleetExecutor(
                claimed, fleet: fleet, settings: settings, store: runs, workflows: workflows, world: world, deadline: deadline, hooks: hooks, logger: logger)
            fleets.insert(id)
        } else {
            executor = RunExecutor(
                claimed, settings: settings, store: runs, workflows: workflows, slots: slots, world: world, deadline: deadline,
                serverNow: { await self.currentServerTime() }, waits: { [weak self] isWaiting in await self?.waits(id, isWaiting) },
                // A run none of whose steps has ended (queued, or stored with its first steps running) is made its workflow's
                // latest by whichever executor executes it (conditional, so a second mark is harmless): one started here
                // whose daemon died before its mark landed is too.
                secrets: secrets, vault: secretParams, feed: feed, output: output,
                marksLatest: marksLatest || run.steps.allSatisfy { $0.finishedAt == nil && $0.attempts <= 1 },
                latestMarks: latestMarks, storedWithRun: storedWithRun, neverRan: unreleased.removeValue(forKey: id) ?? [:], stopsAtOnce: stopsAtOnce, logger: logger)
            fleetOf[id] = run.membership?.fleetRunId
        }
        executors[id] = executor
        deadlines[id] = deadline
        activeRunsChanged()
        // A run stored here a moment ago starts `running` (its first steps in its insert): not a take-over.
        if run.status == .running && !reserved {
            EngineMetrics.takeovers.increment()
            logger.notice("took over run (recovering it)", metadata: ["runId": "\(id)", "workflow": "\(run.workflowName)"])
        }
        world.spawn {
            await executor.execute()
            await self.executorFinished(id)
        }
    }

    private func activeRunsChanged() {
        EngineMetrics.activeRuns.record(executors.count)
        onActiveRunsChanged(executors.count)
    }

    private func executorFinished(_ id: String) {
        // The room it frees matters only to runs that were left queued for
        // want of it; other work is found when it comes (`adopt`,
        // `lookForWork`) or by the periodic pass, as before. (A pass after
        // every run's end was a query of the database each time, twenty at
        // once when twenty runs ended together.)
        let wasFull = stepRuns + claiming.count >= settings.maximumActiveRuns
        waiting.remove(id)
        executors[id] = nil
        deadlines[id] = nil
        fleets.remove(id)
        if let fleet = fleetOf.removeValue(forKey: id) { executors[fleet]?.send(.tick) }
        openDrainedIfIdle()
        activeRunsChanged()
        if wasFull { doorbell.ring() }
    }

    private var leaseSeconds: TimeInterval { settings.lease.seconds }

    // MARK: - The database server's clock

    /// The last reading of the database server's clock, dated at the uptime
    /// here its answer arrived, and how long the request took: the server
    /// read its clock somewhere in that span, so the reading is never ahead
    /// of the server and may be behind by up to `uncertainty`.
    private var serverReading: (server: Date, at: Duration, uncertainty: Duration)?

    /// The server's time at `uptime`: the last reading carried forward on the
    /// monotonic clock, so a step of this host's wall clock changes nothing.
    /// Never ahead of the server, so a peer's lease is never judged expired
    /// early (a midpoint estimate was, after a slow answer: found by the
    /// simulation, seed 23916 with stalls). Nil before the server has ever answered.
    private func serverTime(at uptime: Duration) -> Date? {
        serverReading.map { $0.server.addingTimeInterval((uptime - $0.at).seconds).milliseconds }
    }

    /// A lease asked for at `serverTime(at: sent)` may end in the database up
    /// to the reading's uncertainty before `sent + lease` here: the deadline
    /// kept here ends that much earlier too.
    private var leaseHeldHere: Duration { settings.lease - (serverReading?.uncertainty ?? .zero) }

    /// The database server's time now (read again if the last reading is old).
    private func currentServerTime() async -> Date? {
        await refreshServerReading()
        return serverTime(at: world.clock.uptime())
    }

    /// Reads the server's clock again once the last reading is older than a
    /// third of a lease (a round trip of its own, at most three a lease).
    private func refreshServerReading() async {
        if let reading = serverReading, world.clock.uptime() - reading.at < settings.lease / 3 { return }
        let sent = world.clock.uptime()
        guard let server = try? await runs.serverTime() else { return }
        let received = world.clock.uptime()
        serverReading = (server, received, received - sent)
    }

    /// At start and then hourly: a run's log is deleted when it ends, but
    /// only if the database answered just then; and runs that ended longer
    /// ago than the retention are removed (judged by the server's clock).
    private func sweepLoop() async {
        while !stopping {
            if let removed = try? await runs.sweepLogs(), removed > 0 {
                logger.info("removed \(removed) log entries that ended runs had left behind")
            }
            await removeExpiredRuns()
            await world.clock.sleep(for: .seconds(3600))
        }
    }

    private func removeExpiredRuns() async {
        guard let retention = settings.runRetention, let now = try? await runs.serverTime() else { return }
        var removed = 0
        // In batches, so one pass never holds a huge list; a pass ends at the first short batch.
        while !stopping, let batch = try? await runs.removeEndedRuns(finishedBefore: now.addingTimeInterval(-retention.seconds), limit: 500) {
            removed += batch
            if batch < 500 { break }
        }
        if removed > 0 {
            logger.notice("removed \(removed) runs that ended more than \(Int(retention.seconds / 86400)) days ago (run-retention-days)")
        }
    }

    /// Renews until the drain is over: a draining daemon still runs steps,
    /// and a peer must not take their runs over meanwhile.
    private func leaseLoop() async {
        while !stopped {
            await world.clock.sleep(for: settings.lease / 3)
            guard !stopped else { break }
            await refreshServerReading()
            let sent = world.clock.uptime()
            guard let until = serverTime(at: sent)?.addingTimeInterval(leaseSeconds) else { continue }
            let renewing = executors
            // The database is down: no renewal; the executors' own writes will tell whether the runs are still theirs.
            guard let states = try? await runs.renew(ids: renewing.keys.sorted(), owner: settings.ownerId, until: until) else { continue }
            for (id, state) in states.sorted(by: { $0.key < $1.key }) {
                // Only to the executor it was sent for: the run may have ended
                // and been claimed again meanwhile, by a new executor.
                guard let executor = executors[id], executor === renewing[id] else { continue }
                switch state {
                case .lost: executor.send(.leaseLost)
                case .held(let cancelRequested):
                    deadlines[id]?.renewed(sentAt: sent, lease: leaseHeldHere, at: world.clock.uptime())
                    if cancelRequested { executor.send(.cancel) }
                }
            }
        }
    }
}
