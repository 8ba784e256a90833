import Foundation
import Logging
import OrchestratorModel
import OrchestratorStorage

/// What the engine drives while it holds a run's lease: a run's steps
/// (RunExecutor), or a fleet run's batches (FleetExecutor).
protocol RunDriver: Actor {
    nonisolated func send(_ message: RunExecutor.Message)
    func execute() async
    /// The drain's stop timeout passed: stop what runs here now.
    func stopNow()
}

/// Drives a fleet run while this daemon holds its lease. A fleet run runs
/// no step itself: each target's steps run in a run of their own, its
/// member, made when its batch starts and executed like any run (by
/// whichever daemon claims it), so a target's steps have every guarantee a
/// run's have. This executor only looks at its members' statuses and
/// decides (FleetPlanner): it makes the next batch's members, records what
/// ended among the fleet run's events, cancels members when the fleet is
/// cancelled, and ends the fleet run. Everything it decides follows from
/// the members' records, so a daemon that takes the fleet over decides the
/// same; a member's id is fixed when the fleet run is made, so making it
/// twice is refused by the database.
actor FleetExecutor: RunDriver {
    private var run: Run
    private let fleet: Fleet
    private var log: RunLogPosition
    private let settings: EngineSettings
    private let store: any RunStore
    private let workflows: any WorkflowStore
    private let world: EngineWorld
    private var clock: any EngineClock { world.clock }
    private let deadline: LeaseDeadline
    private let logger: Logger
    private let mailbox = Mailbox()
    /// Tells the engine about members to claim or to cancel here.
    private let hooks: FleetHooks
    private var cancelRequested: Bool
    private var stopping = false
    private var lost = false
    /// Since the fleet run last started or resumed: targets whose end is among its events, and batches started.
    private var recorded: [String: TargetStatus] = [:]
    private var startedBatches: Set<Int> = []
    private var budgetNoted = false
    /// A change decided but not known to be stored: written again exactly
    /// as it is until it is (a retried write is recognised by the store
    /// only if it is the same change), before anything new is decided.
    private var unwritten: RunChange?
    /// Members a resume of the fleet has reached (or that were made after it), for `fleetResumes`.
    private var caughtUp: (fleetResumes: Int, members: Set<String>) = (0, [])
    /// The members' statuses as last read, every member read once (when
    /// this executor began), then only those not ended: an ended member
    /// changes only when this fleet resumes it (a member cannot be resumed
    /// on its own), which this executor does and notes here. A look at a
    /// fleet of a thousand targets read all of them before, every time.
    private var known: [String: RunStatus]?
    /// Ended members to read again at the next look: a resume of them whose outcome is not known.
    private var recheck: Set<String> = []

    /// How often it looks at its members when nothing told it to: soon
    /// after something changed, then less and less often while nothing does
    /// (a member ending on this daemon wakes it at once whatever the delay).
    static let pollIntervals = (first: Duration.milliseconds(250), longest: Duration.seconds(2))
    private var pollDelay = FleetExecutor.pollIntervals.first

    init(_ claimed: ClaimedRun, fleet: Fleet, settings: EngineSettings, store: any RunStore, workflows: any WorkflowStore, world: EngineWorld,
         deadline: LeaseDeadline, hooks: FleetHooks, logger: Logger) {
        run = claimed.run
        self.fleet = fleet
        log = claimed.log
        self.settings = settings
        self.store = store
        self.workflows = workflows
        self.world = world
        self.deadline = deadline
        self.hooks = hooks
        var logger = logger
        logger[metadataKey: "runId"] = "\(claimed.run.id)"
        logger[metadataKey: "workflow"] = "\(claimed.run.workflowName)"
        self.logger = logger
        cancelRequested = claimed.run.cancelRequested
    }

    nonisolated func send(_ message: RunExecutor.Message) {
        mailbox.post(message)
    }

    func execute() async {
        defer { mailbox.close() }
        rememberRecorded()
        if run.status == .queued {
            logger.info("fleet run started: \(fleet.targets.count) targets in \(fleet.batchCount) batches")
            // Written by the first look, and again at every look until it is (the database may be away).
            unwritten = RunChange(status: .running, startedAt: clock.now().milliseconds, events: [event(status: RunStatus.running.rawValue)])
        }
        var wakeups = mailbox.wakeups.makeAsyncIterator()
        while !lost, !stopping, !run.status.isTerminal {
            let changed = await decide()
            if lost || run.status.isTerminal { break }
            pollDelay = changed ? Self.pollIntervals.first : min(pollDelay * 2, Self.pollIntervals.longest)
            schedulePoll()
            guard await wakeups.next() != nil else { break }
            for message in mailbox.take() { handle(message) }
        }
    }

    private func schedulePoll() {
        mailbox.tick(after: pollDelay, in: world)
    }

    func stopNow() {
        stopping = true
        mailbox.post(.tick)
    }

    private func handle(_ message: RunExecutor.Message) {
        switch message {
        case .cancel: cancelRequested = true
        case .stop, .stopNow: stopping = true  // nothing runs here: the members drain as runs do
        case .leaseLost: lost = true
        case .tick, .finished: break
        }
    }

    /// One look at the members, and what follows from it. Nothing is done
    /// once the lease may have lapsed: a peer may be deciding by then. True
    /// when something changed (recorded, made, resumed or cancelled).
    @discardableResult
    private func decide() async -> Bool {
        guard !deadline.hasPassed(at: clock.uptime()) else { return false }
        if let unwritten {
            guard await write(unwritten) else { return false }
            self.unwritten = nil
        }
        var statuses: [String: RunStatus]
        do {
            statuses = try await memberStatuses()
        } catch {
            return false  // the database is away: look again at the next poll
        }
        let before = statuses
        let resumed = await resumeMembers(&statuses)
        known = statuses
        guard resumed else { return true }
        let decision = FleetPlanner.decide(fleet, members: statuses, cancelRequested: cancelRequested)

        var change = RunChange()
        var recorded = self.recorded  // what this change records is counted once it is stored
        for target in fleet.targets {
            guard let status = statuses[target.runId], status.isTerminal else { continue }
            let shown = TargetStatus(member: status, fleet: run.status)
            guard recorded[target.name] != shown else { continue }
            recorded[target.name] = shown
            change.events.append(event(status: shown.rawValue, target: target.name, offset: change.events.count))
        }
        if let batch = decision.batch, !decision.create.isEmpty, !startedBatches.contains(batch) {
            change.events.append(event(
                status: "batch_started", batch: batch, offset: change.events.count,
                message: "batch \(batch) of \(fleet.batchCount): \(decision.create.count) targets"))
        }
        if let why = decision.budgetExceeded, !budgetNoted {
            logger.warning("failure budget exceeded: \(why)")
            change.events.append(event(status: "budget_exceeded", offset: change.events.count, message: why))
        }
        if let outcome = decision.outcome {
            // Before the end is recorded, as a run's own: whoever reads the fleet run as ended finds its workflow's statuses final.
            await showStatuses()
            logger.notice("fleet run \(outcome.rawValue)", metadata: ["runStatus": "\(outcome.rawValue)"])
            change.status = outcome
            change.finishedAt = clock.now().milliseconds
            change.events.append(event(status: outcome.rawValue, offset: change.events.count))
        }
        unwritten = change
        guard await write(change) else { return false }
        unwritten = nil

        var made = 0
        var unleased = 0
        for target in decision.create where !deadline.hasPassed(at: clock.uptime()) {
            let newMember = member(for: target)
            let reservation = await hooks.reserve(newMember.id)
            do {
                try await store.createRun(newMember, heldBy: reservation?.lease)
                made += 1
                known?[target.runId] = .queued
                if let reservation { await hooks.execute(newMember, reservation) } else { unleased += 1 }
            } catch where error.kind == .conflict {
                if let reservation { await hooks.cancelReservation(reservation) }
                known?[target.runId] = .queued  // made before (by this fleet's earlier owner, or an answer was lost): read at the next look
                continue
            } catch {
                // If it was stored after all, leased here, the claim loop finds it.
                if let reservation { await hooks.cancelReservation(reservation) }
                break  // the database is away: the next look makes the rest
            }
        }
        if unleased > 0 { hooks.lookForWork() }
        for id in decision.cancel {
            _ = try? await store.flagCancel(id: id)
            await hooks.cancel(id)
        }
        return !change.isEmpty || made > 0 || !decision.cancel.isEmpty || statuses != before
    }

    /// Every member's status at the first look; after it, those not ended are read again.
    private func memberStatuses() async throws(OrchestratorError) -> [String: RunStatus] {
        guard var statuses = known else {
            let members = try await store.members(of: run.id, withSteps: false)
            return Dictionary(members.map { ($0.id, $0.status) }) { first, _ in first }
        }
        let open = Set(statuses.filter { !$0.value.isTerminal }.map(\.key)).union(recheck).sorted()
        guard !open.isEmpty else { return statuses }
        statuses.merge(try await store.statuses(of: open)) { _, read in read }
        recheck.removeAll()
        return statuses
    }

    /// After the fleet was resumed: its members that failed or were cancelled
    /// before that resume are resumed too (a guarded write each: one resumed
    /// twice is refused), before anything is planned on their statuses. A
    /// member has seen every resume of the fleet made before it, and each
    /// of its own. False when a member could not be read or resumed yet.
    private func resumeMembers(_ statuses: inout [String: RunStatus]) async -> Bool {
        let fleetResumes = run.resumeCount
        guard fleetResumes > 0 else { return true }
        if caughtUp.fleetResumes != fleetResumes { caughtUp = (fleetResumes, []) }
        var resumed = 0
        defer { if resumed > 0 { hooks.lookForWork() } }
        let ended: Set<RunStatus> = [.failed, .cancelled]
        for target in fleet.targets where statuses[target.runId].map(ended.contains) == true && !caughtUp.members.contains(target.runId) {
            guard !deadline.hasPassed(at: clock.uptime()), let member = try? await store.run(id: target.runId) else { return false }
            // As it is now: a resume whose answer was lost may have landed.
            statuses[target.runId] = member.status
            if (member.membership?.fleetResumesAtStart ?? 0) + member.resumeCount >= fleetResumes {
                caughtUp.members.insert(target.runId)
                continue
            }
            let change = member.resumption(at: clock.now().milliseconds)
            guard (try? await store.requeue(id: member.id, from: member.status, eventCount: member.events.count, change: change)) == true else {
                // It changed meanwhile, or the database is away (the write may have landed): read it again at the next look.
                recheck.insert(target.runId)
                return false
            }
            logger.info("resumed the run of target \(target.name) with its fleet run", metadata: ["memberRunId": "\(member.id)"])
            caughtUp.members.insert(target.runId)
            statuses[target.runId] = .queued
            resumed += 1
        }
        return true
    }

    /// The workflow shows, per step, what its targets did (best effort: a view; the fleet's record is the truth).
    private func showStatuses() async {
        guard let members = try? await store.members(of: run.id, withSteps: true) else { return }
        let statuses = FleetPlanner.shownStatuses(members: members)
        try? await workflows.recordStepStatuses(workflowId: run.workflowId, runId: run.id, statuses)
    }

    /// The run of one target's steps: the fleet run's definition and params, the target as taken at the start.
    private func member(for target: FleetTarget) -> Run {
        let now = clock.now().milliseconds
        return Run(
            id: target.runId, workflowId: run.workflowId, workflowName: run.workflowName, workflowVersion: run.workflowVersion,
            definition: run.definition, params: run.params, status: .queued,
            steps: run.definition.map { RunStep(name: $0.name, executionOrder: $0.executionOrder) },
            requestedBy: run.requestedBy, createdAt: now,
            events: [RunEvent(sequence: 0, step: nil, status: RunStatus.queued.rawValue, at: now)],
            membership: FleetMembership(fleetRunId: run.id, target: target, fleetResumesAtStart: run.resumeCount), locks: run.locks,
            window: run.window, schedule: run.schedule)
    }

    /// What the fleet run's events say since it last started or resumed:
    /// so a daemon that takes it over records nothing twice.
    private func rememberRecorded() {
        (recorded, startedBatches, budgetNoted) = ([:], [], false)
        let since = run.events.lastIndex { $0.step == nil && $0.target == nil && $0.status == Run.resumed }.map { $0 + 1 } ?? 0
        for event in run.events[since...] {
            if let target = event.target, let status = TargetStatus(rawValue: event.status) { recorded[target] = status }
            if event.status == "batch_started", let batch = event.batch { startedBatches.insert(batch) }
            if event.status == "budget_exceeded" { budgetNoted = true }
        }
    }

    /// Records `change` (fenced by the lease). False when it could not be:
    /// the database is away (the next look tries again) or the run is someone else's now.
    private func write(_ change: RunChange) async -> Bool {
        guard !change.isEmpty else { return true }
        do {
            // In place, on the only copy (as RunExecutor.writeChange): no copy of what is unfolded at every write.
            var position = log
            log.unfolded = RunChange()
            defer { log = position }
            guard try await store.apply(change, to: run.id, owner: settings.ownerId, log: &position) else {
                lost = true
                logger.warning("lost the lease on this fleet run: another daemon drives it now")
                return false
            }
            run.apply(change)
            rememberRecorded()
            if let status = change.status, status.isTerminal { EngineMetrics.runFinished(status, kind: "fleet") }
            return true
        } catch {
            return false
        }
    }

    private func event(status: String, target: String? = nil, batch: Int? = nil, offset: Int = 0, message: String? = nil) -> RunEvent {
        RunEvent(sequence: run.events.count + offset, step: nil, status: status, at: clock.now().milliseconds, message: message,
                 target: target, batch: batch)
    }
}

/// What a fleet's executor asks of the engine.
struct FleetHooks: Sendable {
    /// Members were made: claim them now rather than at the next claim pass.
    let lookForWork: @Sendable () -> Void
    /// A member is to be cancelled: if it runs here, its steps stop now.
    let cancel: @Sendable (String) async -> Void
    /// Room here for a member about to be made (as `Engine.reserve`): it is
    /// stored leased to this daemon and executed at once, with no claim
    /// (an update and a find) per member, nor a look for claimable runs.
    let reserve: @Sendable (String) async -> Engine.Reservation?
    let execute: @Sendable (Run, Engine.Reservation) async -> Void
    let cancelReservation: @Sendable (Engine.Reservation) async -> Void
}
