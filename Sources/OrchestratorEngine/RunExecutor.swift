import Foundation
import Logging
import NIOConcurrencyHelpers
import OrchestratorModel
import OrchestratorStorage

/// Executes one run while this daemon holds its lease. Everything that
/// changes the run happens in `execute()`'s loop. Transitions decided
/// together (results that arrived together, and the steps they let start)
/// are staged and written to MongoDB (fenced by the lease) in one write
/// before anything acts on them: a step's process is forked and held at its
/// gate until the write that records it as running, with its pid, is stored.
/// A transition that cannot be written yet waits, in order, until the
/// database is back.
actor RunExecutor: RunDriver {
    enum Message: Sendable {
        case finished(String, ProcessOutcome)
        case cancel
        case stop
        /// The stop timeout passed: running steps stop now and are recorded interrupted.
        case stopNow
        case leaseLost
        case tick
    }

    /// The run as decided here: written, plus `unwritten`.
    private(set) var run: Run
    /// Where the run's log continues: each write of a step's transition is
    /// one small entry there (see MongoRunStore).
    private var log: RunLogPosition
    private var unwritten = RunChange()
    /// Workflow step statuses to show once `unwritten` is stored.
    private var unshown: [(String, StepStatus)] = []
    let settings: EngineSettings
    let store: any RunStore
    private let workflows: any WorkflowStore
    private let slots: StepSlots
    let logger: Logger
    private var processes: [String: any StepHandle] = [:]
    /// Processes started ahead of their turn and held at their gates: the
    /// steps that start next if the running ones succeed (see `prepareAhead`).
    private var ahead: HeldAhead = [:]
    /// The processes of the steps `run.start` recorded as running in the
    /// run's insert (`Engine.startAhead`), each holding a step slot: let go
    /// (or put back) once, by `beginStepsStoredWithRun`, whatever came first.
    private var storedWithRun: HeldAhead
    /// Steps recorded running in the run's insert by this daemon, whose
    /// answer was lost, and whose processes were let go at their gates (see
    /// `Engine.startAhead`): what each record names if nothing touched it since.
    private let neverRan: [String: StepProcess]
    /// Steps waiting for their next attempt, until this uptime.
    private var notBefore: [String: Duration] = [:]
    private(set) var cancelRequested: Bool
    /// Steps stopped here because the lease lapsed or the stop timeout
    /// passed: their ends count as interruptions, as after a crash.
    private var interruptedHere: Set<String> = []
    private var stopping = false
    private var lost = false
    let mailbox = Mailbox()
    private let workflowStatus: WorkflowStatusWriter
    private let feed: RunFeed
    private let output: Broadcast<OutputLine>
    let world: EngineWorld
    var clock: any EngineClock { world.clock }
    private let deadline: LeaseDeadline
    /// The database server's time, as the engine carries it forward: what lock leases are judged by.
    private let serverNow: @Sendable () async -> Date?
    /// Tells the engine whether the run only waits (for its window, or for
    /// people), so it does not count against the runs a daemon executes.
    private let waits: @Sendable (Bool) async -> Void
    private var saidItWaits = false
    /// The run's own locks are held (taken before its first step, kept until it ends).
    private var holdsRunLocks = false
    /// The lease's lapses when the locks held now were taken: after another
    /// lapse they may have been taken by another run, so a step whose start
    /// was being written meanwhile is put back, and they are asked for again.
    private var lockLapses = 0
    /// The steps whose current attempt took locks, and as whom: given back
    /// once the step's end is stored (or it did not start after all).
    private var attemptHolds: [String: LockHolder] = [:]
    /// Holds an earlier owner (a crash, a take-over) or an attempt that never
    /// started left in this run's locks: to be dropped, or other runs would
    /// wait for them until this run ends.
    private var leftoverHolds = false
    /// Which of the run's executors this is (where the run's log stood when
    /// it was claimed, higher at every claim): names the whole run's hold,
    /// so that what an earlier executor gives back late spares this one's.
    private let incarnation: Int
    /// How long a waiting step waits before it asks again: 1 s after its
    /// wait changed, then longer (up to 4 s) while it does not.
    private var lockPollDelay = Duration.seconds(1)
    /// Looks at waiting steps since the last look for a circle of waits.
    private var looksSinceCircleCheck = 0
    let secrets: any SecretSource
    let vault: SecretParamVault
    /// The run's definition in its groups (it never changes while the run is executed).
    private let plan: RunPlanner.Plan
    /// For each step of the definition, the index of its record in `run.steps` (-1: none).
    private let recordOf: [Int]
    /// Steps by name: their records' indices in `run.steps`, and their places in the definition.
    private let recordIndex: [String: Int]
    private let definitionIndex: [String: Int]
    /// Whether any step waits for an approval: if none does, nothing looks for waiting steps at every transition.
    let asksForApprovals: Bool
    /// The values of the secrets the steps about to start use, read just
    /// before (never stored); and why a step's could not be read.
    var secretValues: [String: String] = [:]
    var secretProblems: [String: String] = [:]

    init(
        _ claimed: ClaimedRun, settings: EngineSettings, store: any RunStore, workflows: any WorkflowStore, slots: StepSlots, world: EngineWorld,
        deadline: LeaseDeadline, serverNow: @escaping @Sendable () async -> Date?,
        waits: @escaping @Sendable (Bool) async -> Void = { _ in }, secrets: any SecretSource = NoSecrets(),
        vault: SecretParamVault = SecretParamVault(), feed: RunFeed = RunFeed(), output: Broadcast<OutputLine> = Broadcast(capacity: 0),
        marksLatest: Bool = false, latestMarks: LatestMarks = LatestMarks(), storedWithRun: HeldAhead = [:], neverRan: [String: StepProcess] = [:],
        stopsAtOnce: Bool = false, logger: Logger
    ) {
        self.feed = feed
        self.output = output
        self.secrets = secrets
        self.vault = vault
        self.waits = waits
        self.serverNow = serverNow
        let run = claimed.run
        self.run = run
        self.plan = RunPlanner.Plan(run.definition)
        let records = Dictionary(run.steps.enumerated().map { ($0.element.name, $0.offset) }) { first, _ in first }
        self.recordOf = run.definition.map { records[$0.name] ?? -1 }
        self.recordIndex = records
        self.definitionIndex = Dictionary(run.definition.enumerated().map { ($0.element.name, $0.offset) }) { first, _ in first }
        self.asksForApprovals = run.definition.contains { $0.approval != nil }
        self.log = claimed.log
        self.incarnation = claimed.log.next
        self.settings = settings
        self.store = store
        self.workflows = workflows
        self.slots = slots
        self.world = world
        self.deadline = deadline
        self.logger = StepStarter.runLogger(logger, for: run)
        self.storedWithRun = storedWithRun
        self.neverRan = neverRan
        self.stopping = stopsAtOnce
        self.cancelRequested = run.cancelRequested
        workflowStatus = WorkflowStatusWriter(
            workflows: workflows, workflowId: run.workflowId, runId: run.id, clock: world.clock, enabled: run.membership == nil,
            marksLatest: marksLatest, marks: latestMarks)
    }

    nonisolated func send(_ message: Message) {
        mailbox.post(message)
    }

    func execute() async {
        let workflowStatus = self.workflowStatus
        world.spawn { await workflowStatus.run() }
        watchDeadline()
        // Its lines are kept for late followers while it executes here (a member's under its fleet's id too).
        let outputKeys = [run.id] + (run.membership.map { [$0.fleetRunId] } ?? [])
        for key in outputKeys { output.hold(key) }
        // The log's folded entries are in the record it began from.
        feed.startsPublishing(run.id, stored: run.events, logNext: log.folded)
        defer {
            feed.stopsPublishing(run.id)
            mailbox.close()
            workflowStatus.finish()
            for key in outputKeys { output.letGo(key) }
        }
        await beginStepsStoredWithRun()
        await recoverInterruptedSteps()
        // The values this executor may drop when it ends: those kept when it began (a later resume keeps its own).
        let keptToken = vault.entry(for: run.id)?.token
        leftoverHolds = takesLocks
        resumeRetryDelays()
        var wakeups = mailbox.wakeups.makeAsyncIterator()
        while !lost {
            // A step's locks are given back once its end is stored (by the
            // last pass's write); its end itself is written below, with the
            // steps it lets start: one write per sequential step, not two.
            await giveBackLocks()
            await advance()
            await flush()
            // What the steps that just ended held goes back as soon as their end is stored (here, with what they let start).
            await giveBackLocks()
            if run.status.isTerminal || lost { break }
            if stopping && !run.steps.contains(where: { $0.status.isExecuting }) { break }
            await tellWhetherItOnlyWaits()
            // Everything that arrived meanwhile is handled before the next
            // decision, so results that come together are written together.
            let messages = mailbox.take()
            if messages.isEmpty {
                guard await wakeups.next() != nil else { break }
                continue
            }
            for message in messages { await handle(message) }
        }
        dropAhead()
        if let keptToken { vault.forget(run.id, token: keptToken) }
        if lost {
            terminateAll()
        } else if run.status.isTerminal, unwritten.isEmpty, takesLocks {
            // If this fails the locks lapse with the lease, which nobody renews for an ended run.
            try? await store.releaseLocks(
                runId: run.id, .ended(upTo: storedAttempts, incarnation: incarnation, also: Set(attemptHolds.values.map(\.token))))
        } else {
            // Stopped by a drain: what no running step needs goes back now, not with the lease.
            await giveBackLocks()
        }
    }

    /// Nothing runs, and what comes next waits for a window or for people.
    private func tellWhetherItOnlyWaits() async {
        let idle = processes.isEmpty && !run.steps.contains(where: { $0.status.isExecuting })
            && ((run.status == .queued && windowClosed()) || run.steps.contains(where: { $0.status == .waitingApproval }))
        guard idle != saidItWaits else { return }
        saidItWaits = idle
        await waits(idle)
    }

    // MARK: - Scheduling

    private func advance() async {
        guard !lost, !run.status.isTerminal else { return }
        // No step starts without the values of the run's secret parameters (never with their `***`).
        if lacksSecretParams {
            if !run.steps.contains(where: { $0.status.isExecuting }) { endForLostSecretParams() }
            return
        }
        guard startWhenItsWindowIsOpen() else { return }
        await settleApprovals()
        // Read through a copy that is gone before anything is staged: a copy still alive then would make the first change copy all the steps.
        let decision = { [recordOf, plan, cancelRequested] (steps: [RunStep]) in
            plan.decide(cancelRequested: cancelRequested) { recordOf[$0] >= 0 ? steps[recordOf[$0]].status : .pending }
        }(run.steps)
        var change = RunChange()
        for (names, status) in [(decision.skip, StepStatus.skipped), (decision.cancel, StepStatus.cancelled)] {
            for name in names {
                guard let index = index(of: name) else { continue }
                var record = run.steps[index]
                record.status = status
                change.steps[index] = record
                change.events.append(event(step: name, status: status.rawValue, sequenceOffset: change.events.count))
            }
        }
        if !change.isEmpty {
            stage(change)
            for (_, record) in change.steps { show(record.name, record.status) }
        }
        for name in ahead.keys.sorted() where stepRecord(name)?.status != .pending {
            ahead.removeValue(forKey: name)?.process.abandon()
        }
        if let outcome = decision.outcome, !run.steps.contains(where: { $0.status.isExecuting }) {
            logger.notice("run \(outcome.rawValue)", metadata: ["runStatus": "\(outcome.rawValue)"])
            stage(RunChange(status: outcome, finishedAt: clock.now().milliseconds, events: [event(step: nil, status: outcome.rawValue)]))
            return
        }
        guard !stopping, !cancelRequested, !leaseLapsed() else { return }
        // Every due step that gets a slot now starts in one batch: one write
        // records them all as running, then they are let go together.
        if refuseAfterTheWindowClosed(decision.start) {
            // What the failure leads to (the skips, the rollbacks) is decided on the next look: now.
            mailbox.post(.tick)
            return
        }
        var batch: [String] = []
        let (approvals, commands) = decision.start.partitioned { definition($0)?.approval != nil }
        openApprovals(approvals)
        // A failed run's rollbacks take a slot and the step's locks, as the step did.
        for name in commands + decision.rollback {
            if waitingForRetry(name) { continue }
            // No slot free: the executor goes back to its messages (a cancel,
            // a lapsed lease) and is woken when another step ends.
            guard slots.tryAcquire(orWake: mailbox) else { break }
            guard await takeLocks(for: name) else {
                slots.release()
                continue
            }
            batch.append(name)
        }
        guard !batch.isEmpty else { return }
        // Read once the batch has its slots and locks: a step waiting for a lock does not read them at each look.
        let rollingBack = Set(decision.rollback)
        guard !stopping, !cancelRequested, !lost, await readSecrets(for: batch, rollingBack: rollingBack) else {
            // The locks taken for them are given back at the next look (they did not start).
            for _ in batch { slots.release() }
            return
        }
        await launch(batch, rollingBack: rollingBack)
    }

    /// Records `names` as started (their rollbacks, for those in
    /// `rollingBack`) in one write, then lets their processes go.
    private func launch(_ names: [String], rollingBack: Set<String> = []) async {
        var change = RunChange()
        var held: [(name: String, process: any StepHandle)] = []
        var unstartable: [(name: String, outcome: ProcessOutcome)] = []
        for name in names {
            guard let index = index(of: name), let definition = definition(name) else {
                slots.release()
                continue
            }
            var record = run.steps[index]
            let step: Step
            // The attempt's number also names its lock token: a rollback is an attempt of its own.
            if rollingBack.contains(name), let undo = definition.undoing {
                step = undo
                record.attempts += 1
                record.process = nil
                record.status = .rollingBack
                record.waitingFor = nil
                record.rollback = RollbackRecord(startedAt: clock.now().milliseconds)
            } else {
                step = definition
                record = StepRules.started(record, process: nil, at: clock.now().milliseconds)
            }
            switch heldProcess(for: step, attempt: record.attempts) {
            case .held(let process):
                record.process = process.identity
                held.append((name, process))
            case .failed(let outcome):
                unstartable.append((name, outcome))
            }
            change.steps[index] = record
            change.events.append(event(step: name, status: record.status.rawValue, attempt: record.attempts, sequenceOffset: change.events.count))
        }
        stage(change)
        for (_, record) in change.steps { show(record.name, record.status) }
        guard await flush(), !leaseLapsed() else {
            await abandon(held, unstartable, why: "not started: no lease renewal was acknowledged in time; it starts once one is")
            return
        }
        // Writing the start may have waited out an outage past the window's close.
        let closing = rollingBack.isEmpty ? names : names.filter { !rollingBack.contains($0) }
        if !closing.isEmpty, windowClosed() {
            await abandon(held, unstartable, why: "not started: its maintenance window closed while its start was being recorded")
            _ = refuseAfterTheWindowClosed(closing)
            mailbox.post(.tick)
            return
        }
        if locksMayHaveLapsed(for: names) {
            await abandon(held, unstartable, why: "not started: its locks may have lapsed with the lease meanwhile; it asks for them again")
            // Nothing else would wake the executor: the lease is fine now.
            mailbox.post(.tick)
            return
        }
        begin(held)
        for (name, outcome) in unstartable {
            slots.release()
            mailbox.post(.finished(name, outcome))
        }
        prepareAhead()
    }

    /// Lets go the processes of steps whose start is stored, each holding a
    /// step slot, which it gives back when it ends.
    private func begin(_ held: [(name: String, process: any StepHandle)]) {
        let (mailbox, slots) = (self.mailbox, self.slots)
        for (name, process) in held {
            let attempt = stepRecord(name)?.attempts ?? 0
            let status = stepRecord(name)?.status ?? .running
            logger.info(
                "step \(name) \(status == .rollingBack ? "rolling back" : "running") (attempt \(attempt))",
                metadata: ["step": "\(name)", "stepStatus": "\(status.rawValue)", "attempt": "\(attempt)"])
            processes[name] = process
            process.begin()
            EngineMetrics.activeSteps.increment()
            // Handed on from the thread that saw the end: no task in between.
            process.whenEnded { outcome in
                EngineMetrics.activeSteps.decrement()
                slots.release()
                mailbox.post(.finished(name, outcome))
            }
        }
    }

    /// The steps `run.start` recorded as running in the run's insert
    /// (`Engine.startAhead`): their processes wait at their gates, each with
    /// its step slot, and run now, unless the run was cancelled or the
    /// daemon began to stop while the run was stored, or the lease lapsed:
    /// then they are pending again.
    private func beginStepsStoredWithRun() async {
        let (stored, unmatched) = storedWithRun.sorted { $0.key < $1.key }.partitioned { name, held in
            stepRecord(name).map { $0.status == .running && $0.attempts == held.attempt && $0.process == held.process.identity } ?? false
        }
        storedWithRun = [:]
        // Not what the record says (nothing makes one so): never let go, and their slots back.
        for (_, held) in unmatched {
            held.process.abandon()
            slots.release()
        }
        guard !stored.isEmpty else { return }
        let held = stored.map { (name: $0.key, process: $0.value.process) }
        if cancelRequested || stopping || leaseLapsed() {
            let why = cancelRequested ? "not started: the run was cancelled while it was being stored"
                : stopping ? "not started: the daemon began to stop while the run was being stored"
                : "not started: no lease renewal was acknowledged in time; it starts once one is"
            await abandon(held, [], why: why)
            return
        }
        logger.info("run started")
        for (name, _) in held { workflowStatus.show(name, .running) }
        begin(held)
        prepareAhead()
    }

    /// Steps whose start was written but whose processes must not run after all: their gates stay shut, and they are pending again.
    private func abandon(_ held: [(name: String, process: any StepHandle)], _ unstartable: [(name: String, outcome: ProcessOutcome)], why: String) async {
        for (_, process) in held { process.abandon() }
        for _ in 0..<(held.count + unstartable.count) { slots.release() }
        if !lost { putBack(held.map(\.name) + unstartable.map(\.name), why: why) }
    }

    /// The step's process, held at its gate: the one started ahead for this
    /// attempt if there is one, else a new one.
    private func heldProcess(for step: Step, attempt: Int) -> PreparedStep {
        let problem = secretProblems[step.name] ?? starter.refusedUser(step)
        if let early = ahead.removeValue(forKey: step.name) {
            // Started ahead for the step's own action: never a rollback's.
            if problem == nil, early.attempt == attempt, step.action == definition(step.name)?.action { return .held(early.process) }
            early.process.abandon()
        }
        if let problem { return .failed(ProcessOutcome(ending: .notStarted(problem), stderr: problem)) }
        return starter.prepare(step, attempt: attempt, secrets: stepSecrets(for: step))
    }

    /// Starts the steps that come next if every running step succeeds, held
    /// at their gates, while those run: when their turn comes, starting them
    /// costs only the write that records them (measured: the spawn took
    /// 0.6–0.7 ms of a sequential step's path). A held process runs nothing
    /// until that write is stored and its gate opens, and it exits at once
    /// if the daemon dies; `dropAhead` abandons them when the plan changes.
    private func prepareAhead() {
        guard !stopping, !cancelRequested, !lost, !lacksSecretParams else { return }
        let steps = run.steps
        let next = plan.decide(cancelRequested: false) { [recordOf] in
            let status = recordOf[$0] >= 0 ? steps[recordOf[$0]].status : .pending
            return status == .running ? .succeeded : status
        }.start
        let starter = self.starter
        for name in next.prefix(settings.maxParallelSteps) where ahead[name] == nil && !waitingForRetry(name) {
            guard let index = index(of: name), let step = definition(name), starter.mayStartAhead(step) else { continue }
            let attempt = run.steps[index].attempts + 1
            // One that cannot start is left to its turn, which reports why.
            if case .held(let process) = starter.prepare(step, attempt: attempt, secrets: stepSecrets(for: step)) { ahead[name] = (attempt, process) }
        }
    }

    /// Once no renewal has been acknowledged for a whole lease, a peer may
    /// take the run over as soon as the lease has expired for the take-over
    /// grace (the kill grace and a margin; see Engine): by then the run's
    /// steps must have stopped here, so that a peer never starts a step that
    /// still runs here (found by the simulation, seed 1102: an outage longer
    /// than the lease). The watcher wakes the executor when the deadline
    /// passes, and again once a renewal has moved it.
    /// It calls in rather than posting a message: the executor may be
    /// awaiting a slow write, and its steps must stop all the same (the
    /// actor is free while it awaits; everything after that await checks
    /// the deadline again).
    private func watchDeadline() {
        let (deadline, clock, mailbox, recheck) = (self.deadline, self.clock, self.mailbox, settings.lease / 3)
        world.spawn { [self] in
            var lapsed = false
            while !mailbox.isClosed {
                let remaining = deadline.remaining(at: clock.uptime())
                if remaining == .zero && !lapsed {
                    _ = await leaseLapsed()
                } else if remaining > .zero && lapsed {
                    mailbox.post(.tick)
                }
                lapsed = remaining == .zero
                await clock.sleep(for: lapsed ? recheck : remaining)
            }
        }
    }

    /// Whether the deadline has passed. If it has, the run's running steps
    /// stop here (their ends count as interruptions, as after a crash) and
    /// no gate opens until a renewal is acknowledged again. What was decided
    /// is still written once the database answers: fenced, so nothing is if
    /// a peer has taken the run over meanwhile.
    private func leaseLapsed() -> Bool {
        guard deadline.hasPassed(at: clock.uptime()) else { return false }
        // The run's locks may have lapsed with the lease and been taken: the next step asks for them again.
        holdsRunLocks = false
        if interruptRunningSteps() {
            logger.warning(
                "no lease renewal was acknowledged for \(settings.lease): another daemon may take this run over; stopping its running steps here (they count as interrupted)")
        }
        dropAhead()
        return true
    }

    /// Stops the running steps not stopped yet; their ends will be recorded
    /// as interruptions. False when there were none.
    private func interruptRunningSteps() -> Bool {
        let running = processes.keys.sorted().filter { !interruptedHere.contains($0) }
        for name in running {
            interruptedHere.insert(name)
            processes[name]?.terminate()
        }
        return !running.isEmpty
    }

    /// Steps recorded as running whose gates did not open (the lease lapsed
    /// while that was written): nothing ran, so they are pending again, with
    /// the attempt given back, and start once a renewal is acknowledged.
    private func putBack(_ names: [String], why: String) {
        var change = RunChange()
        for name in names {
            guard let index = index(of: name) else { continue }
            var record = run.steps[index]
            if record.status == .rollingBack {
                record.status = .succeeded
                record.rollback = nil
            } else {
                record.status = .pending
                record.startedAt = nil
            }
            record.attempts = max(0, record.attempts - 1)
            record.process = nil
            change.steps[index] = record
            change.events.append(event(
                step: name, status: record.status.rawValue, attempt: record.attempts + 1,
                message: why, sequenceOffset: change.events.count))
        }
        stage(change)
        for (_, record) in change.steps { show(record.name, record.status) }
    }

    private func waitingForRetry(_ name: String) -> Bool {
        notBefore[name].map { $0 > clock.uptime() } ?? false
    }

    /// Every running step gets SIGTERM (then SIGKILL after the grace), in
    /// name order: the same run always acts in the same order.
    private func terminateAll() {
        for name in processes.keys.sorted() { processes[name]?.terminate() }
    }

    private func dropAhead() {
        letGo(ahead)
        ahead.removeAll()
    }

    /// What starts the run's step processes.
    private var starter: StepStarter {
        StepStarter(run: run, settings: settings, launcher: world.launcher, output: output, logger: logger)
    }

    // MARK: - Messages

    private func handle(_ message: Message) async {
        switch message {
        case .finished(let name, let outcome):
            processes[name] = nil
            await record(outcome, of: name)
            // What comes next was planned on this step's success.
            if stepRecord(name)?.status != .succeeded { dropAhead() }
        case .cancel:
            guard !cancelRequested else { return }
            cancelRequested = true
            dropAhead()
            logger.notice("cancelling: running steps get SIGTERM, then SIGKILL after \(settings.killGrace)")
            terminateAll()
        case .stop:
            stopping = true
            dropAhead()
        case .stopNow:
            stopNow()
        case .leaseLost:
            lost = true
            dropAhead()
            logger.warning("lost the lease on this run: another daemon owns it now; stopping its steps here")
        case .tick:
            break
        }
    }

    /// The stop timeout passed: running steps stop now and are recorded
    /// interrupted. Called in by the engine (not only posted), like the
    /// deadline watcher: the executor may be awaiting a slow write, and its
    /// steps must stop all the same.
    func stopNow() {
        stopping = true
        dropAhead()
        if interruptRunningSteps() {
            logger.notice("the stop timeout passed: stopping the running steps (SIGTERM, then SIGKILL after \(settings.killGrace)) and recording them interrupted")
        }
        mailbox.post(.tick)
    }

    private func record(_ outcome: ProcessOutcome, of name: String) async {
        guard let index = index(of: name), let step = definition(name) else { return }
        let now = clock.now().milliseconds
        // Stopped here for the lease or the stop, unless it had ended by itself before the signal came.
        let interrupted = interruptedHere.remove(name) != nil && outcome.terminated
        let verdict = run.steps[index].status == .rollingBack
            ? (interrupted
                ? StepRules.recoverRollback(run.steps[index], of: step, output: outcome, at: now)
                : StepRules.judgeRollback(outcome, of: step, record: run.steps[index], at: now))
            : (interrupted
                ? StepRules.recover(run.steps[index], of: step, output: outcome, at: now)
                : StepRules.judge(outcome, of: step, record: run.steps[index], cancelRequested: cancelRequested, at: now))
        let record = OutputBudget.fit(verdict.record, at: index, among: run.steps)
        if run.steps[index].status != .rollingBack, let started = record.startedAt, let ended = record.finishedAt {
            EngineMetrics.stepEnded(verdict.status, after: .milliseconds(max(Int64(ended.timeIntervalSince(started) * 1000), 0)))
        }
        let stepEvent = event(
            step: name, status: verdict.status.rawValue, attempt: record.attempts, exitCode: record.exitCode, message: verdict.message)
        if let delay = verdict.retryAfter { retry(name, after: delay) }
        if outcome.droppedLogLines > 0 {
            logger.notice("step \(name) wrote more than \(OutputCapture.maximumForwardedLines) lines; \(outcome.droppedLogLines) were not sent to the journal (the run keeps the last 64 KiB)", metadata: ["step": "\(name)"])
        }
        logger.info(
            "step \(name) \(stepEvent.status)\(stepEvent.message.map { ": \($0)" } ?? "")",
            metadata: ["step": "\(name)", "stepStatus": "\(stepEvent.status)", "attempt": "\(record.attempts)"])
        stage(RunChange(steps: [index: record], events: [stepEvent]))
        show(name, record.status)
    }

    /// The step waits `delay` for its next attempt; the executor looks again then.
    private func retry(_ name: String, after delay: Duration) {
        notBefore[name] = clock.uptime() + delay
        let (clock, mailbox) = (self.clock, self.mailbox)
        world.spawn {
            await clock.sleep(for: delay)
            mailbox.post(.tick)
        }
    }

    // MARK: - Locks

    /// Takes what step `name` needs before it starts: the run's own locks
    /// (first, all or none, kept until the run ends) and the step's (all or
    /// none, given back when it ends), in name order. False when one is held
    /// elsewhere: the step is `waiting` (recorded once per lock and holder)
    /// and is looked at again in a second; or fails when waiting would close
    /// a circle of runs each waiting for the next.
    private func takeLocks(for name: String) async -> Bool {
        guard let step = definition(name) else { return true }
        let target = run.membership?.target
        if deadline.lapses != lockLapses {
            (holdsRunLocks, lockLapses) = (false, deadline.lapses)
        }
        let runLocks = holdsRunLocks ? [] : run.locks.map { Parameters.fill($0, run.params, target: target) }
        let stepLocks = step.locks.map { Parameters.fill($0, run.params, target: target) }
        guard !runLocks.isEmpty || !stepLocks.isEmpty else { return true }
        guard let now = await serverNow(), !leaseLapsed() else {
            pollLocks()
            return false
        }
        let (until, expired) = (now.addingTimeInterval(settings.lease.seconds), now - settings.takeoverGrace)
        do {
            if !runLocks.isEmpty {
                if let wait = try await store.acquireLocks(runLocks, runId: run.id, holder: .run(incarnation: incarnation), owner: settings.ownerId, until: until, now: expired) {
                    await markWaiting(name, for: wait)
                    return false
                }
                holdsRunLocks = true
            }
            if !stepLocks.isEmpty {
                let attempt = LockHolder.attempt(step: name, number: (stepRecord(name)?.attempts ?? 0) + 1, owner: settings.ownerId)
                // Noted before asking: should the answer be lost, what it may have taken is given back all the same.
                attemptHolds[name] = attempt
                if let wait = try await store.acquireLocks(stepLocks, runId: run.id, holder: attempt, owner: settings.ownerId, until: until, now: expired) {
                    await markWaiting(name, for: wait)
                    return false
                }
            }
            return !lost
        } catch {
            pollLocks()
            return false
        }
    }

    /// Records step `name` as waiting for `wait` (unless it already says
    /// so), and fails it instead when the wait would close a circle.
    /// A step that succeeded and waits to be rolled back keeps its status
    /// (what the planner decides by): only `waitingFor` says it waits.
    private func markWaiting(_ name: String, for wait: LockWait) async {
        guard let index = index(of: name) else { return }
        let undoing = run.steps[index].status == .succeeded
        let waits = { (record: RunStep) in (undoing || record.status == .waiting) && record.waitingFor == wait }
        let changed = !waits(run.steps[index])
        lockPollDelay = changed ? .seconds(1) : min(lockPollDelay * 2, .seconds(4))
        // A circle is looked for when the wait is new, and every few looks
        // after (it may close later, when the holder starts waiting too).
        looksSinceCircleCheck = changed ? 0 : looksSinceCircleCheck + 1
        if changed || looksSinceCircleCheck % 4 == 0, let circle = await waitCircle(from: wait), run.id == circle.max() {
            var record = run.steps[index]
            let error = "deadlock: waiting for lock '\(wait.lock)' would close a circle of runs each waiting for the next (\(circle.joined(separator: " → "))); this run gives way"
            record.waitingFor = nil
            if undoing {
                record.status = .rollbackFailed
                record.rollback = RollbackRecord(finishedAt: clock.now().milliseconds, error: error)
            } else {
                record.status = .failed
                record.finishedAt = clock.now().milliseconds
                record.error = error
            }
            logger.warning("step \(name) \(error)", metadata: ["step": "\(name)", "stepStatus": "\(record.status.rawValue)"])
            stage(RunChange(steps: [index: record], events: [event(step: name, status: record.status.rawValue, message: error)]))
            show(name, record.status)
            // No process ends to wake the executor: what follows from the failure is decided at once.
            mailbox.post(.tick)
            return
        }
        pollLocks()
        guard !waits(run.steps[index]) else { return }
        var record = run.steps[index]
        if !undoing { record.status = .waiting }
        record.waitingFor = wait
        let message = "\(undoing ? "rollback " : "")waiting for lock '\(wait.lock)', held by run \(wait.runId)"
        logger.info("step \(name) \(message)", metadata: ["step": "\(name)", "stepStatus": "waiting"])
        stage(RunChange(steps: [index: record], events: [event(step: name, status: StepStatus.waiting.rawValue, message: message)]))
        if !undoing { show(name, .waiting) }
    }

    /// The runs in a circle of waits through `wait`, if there is one: the
    /// holder waits (in a step of its own) for a lock held by a run that
    /// waits … for a lock this run holds. Read from the runs' records.
    /// A lock held by a step that is running is given back when it ends,
    /// so it closes no circle; one held by a step that is not running (a
    /// token left by an attempt whose start was never recorded, kept alive
    /// by the same daemon's renewals after a restart; found by the
    /// simulation, seed 1429) counts like a whole run's hold.
    private func waitCircle(from wait: LockWait) async -> [String]? {
        guard wait.runId != run.id else { return nil }
        // Each path: the runs so far, and the step of the last one that holds the lock (nil: the whole run).
        var paths: [(runs: [String], step: String?)] = [([run.id, wait.runId], wait.step)]
        var seen: Set<String> = [run.id]
        for _ in 0..<16 {
            var next: [(runs: [String], step: String?)] = []
            for path in paths {
                let holder = path.runs.last!
                if holder == run.id { return Array(path.runs.dropLast()) }
                guard seen.insert(holder).inserted, let held = try? await store.run(id: holder), held.status.isActive else { continue }
                if let step = path.step, held.step(step)?.status.isExecuting == true { continue }
                // A step waiting to start, or a succeeded one waiting to be rolled back.
                for waiting in held.steps where waiting.status == .waiting || waiting.status == .succeeded {
                    if let wait = waiting.waitingFor { next.append((path.runs + [wait.runId], wait.step)) }
                }
            }
            if next.isEmpty { return nil }
            paths = next
        }
        return nil
    }

    /// Looks at waiting steps again after the current delay.
    private func pollLocks() {
        mailbox.tick(after: lockPollDelay, in: world)
    }

    /// Whether steps about to be let go may have lost a lock they took: the
    /// lease lapsed (and came back) since, while their start was being written.
    private func locksMayHaveLapsed(for names: [String]) -> Bool {
        guard deadline.lapses != lockLapses else { return false }
        return !run.locks.isEmpty || names.contains { !(definition($0)?.locks.isEmpty ?? true) }
    }

    /// Each step's attempts as stored (everything is stored when this is read).
    private var storedAttempts: [String: Int] {
        Dictionary(run.steps.map { ($0.name, $0.attempts) }) { first, _ in first }
    }

    /// Whether this run takes any lock, for itself or in a step.
    private var takesLocks: Bool { !run.locks.isEmpty || run.definition.contains { !$0.locks.isEmpty } }

    /// Gives back the locks of attempts that are not running (their end is
    /// stored, or they never started), then what others left behind
    /// (retried until the database takes it).
    private func giveBackLocks() async {
        guard unwritten.isEmpty else { return }
        for (name, holder) in attemptHolds.sorted(by: { $0.key < $1.key }) where stepRecord(name)?.status.isExecuting != true {
            do {
                try await store.releaseLocks(runId: run.id, .holder(holder))
                attemptHolds[name] = nil
            } catch {
                pollLocks()
                return
            }
        }
        // Attempts up to those stored (everything is stored here now): no
        // later one can be another daemon's, even if this is sent late.
        guard leftoverHolds, !deadline.hasPassed(at: clock.uptime()) else { return }
        do {
            try await store.releaseLocks(
                runId: run.id, .leftovers(upTo: storedAttempts, keeping: Set(attemptHolds.values.map(\.token)), incarnation: incarnation))
            leftoverHolds = false
        } catch {
            pollLocks()
        }
    }

    // MARK: - Recovery

    /// Steps that were waiting for their next attempt when the run came
    /// here (a restart, a take-over) go on waiting until their `retryAt`:
    /// no longer than their configured delay, whatever this host's clock says.
    private func resumeRetryDelays() {
        let now = clock.now()
        for record in run.steps where record.status == .pending {
            guard let retryAt = record.retryAt, retryAt > now, let step = definition(record.name) else { continue }
            let longest = StepRules.retryDelay(for: step, nextAttempt: record.attempts + 1)
            retry(record.name, after: min(.milliseconds(Int64(retryAt.timeIntervalSince(now) * 1000)), longest))
        }
    }

    /// Steps that were running when the daemon that ran them died become
    /// `interrupted`. An idempotent one runs again if it has attempts left
    /// (an interruption may use one attempt beyond retries + 1); any other
    /// fails the run, which `run.resume` can continue.
    private func recoverInterruptedSteps() async {
        // Recorded here in an insert whose answer was lost, and let go at their gates: nothing ran.
        let notRun = run.steps.filter { $0.status == .running && $0.process != nil && neverRan[$0.name] == $0.process }.map(\.name)
        if !notRun.isEmpty {
            putBack(notRun, why: "not started: its start was stored with the run, whose insert went unanswered; its process never left its gate")
        }
        var change = RunChange()
        for (index, record) in run.steps.enumerated() where record.status.isExecuting && processes[record.name] == nil {
            guard let step = definition(record.name) else { continue }
            if let process = record.process, await world.launcher.killLeftover(process) {
                logger.notice("killed what was left of step \(record.name) (pid \(process.pid)) before recovering it", metadata: ["step": "\(record.name)"])
            }
            let verdict = record.status == .rollingBack
                ? StepRules.recoverRollback(record, of: step, at: clock.now().milliseconds)
                : StepRules.recover(record, of: step, at: clock.now().milliseconds)
            change.steps[index] = verdict.record
            change.events.append(event(step: record.name, status: verdict.status.rawValue, attempt: record.attempts,
                                       message: verdict.message, sequenceOffset: change.events.count))
            logger.notice("step \(record.name) \(verdict.message ?? "")", metadata: ["step": "\(record.name)", "stepStatus": "interrupted"])
        }
        stage(change)
        for (_, record) in change.steps { show(record.name, record.status == .pending ? .interrupted : record.status) }
    }

    // MARK: - Writing

    /// Decided: counts for the decisions that follow, acted on once written.
    func stage(_ change: RunChange) {
        guard !change.isEmpty else { return }
        run.apply(change)
        unwritten.merge(change)
    }

    /// Writes what is staged in one write. False when the lease is gone.
    @discardableResult
    private func flush() async -> Bool {
        guard !lost else { return false }
        guard !unwritten.isEmpty else { return true }
        if unwritten.status?.isTerminal == true {
            await workflowStatus.finishWriting(unshown)
            unshown.removeAll()
        }
        guard await persist(unwritten) else { return false }
        unwritten = RunChange()
        for (step, status) in unshown { workflowStatus.show(step, status) }
        unshown.removeAll()
        return true
    }

    /// Writes a change, waiting out a database outage (with backoff, in
    /// order: nothing else of this run happens meanwhile). False when the
    /// lease is gone (the run is someone else's now), or when the database
    /// refused the change for good and the run was ended for it.
    private func persist(_ change: RunChange) async -> Bool {
        var delay = Duration.milliseconds(200)
        var warned = false
        while !lost {
            do {
                guard try await writeChange(change) else {
                    lost = true
                    logger.warning("lost the lease on this run: another daemon owns it now; stopping its steps here")
                    terminateAll()
                    return false
                }
                feed.publish(run.id, events: change.events, ended: change.status?.isTerminal == true, logNext: log.next)
                if let status = change.status, status.isTerminal { EngineMetrics.runFinished(status, kind: run.membership == nil ? "run" : "member") }
                if warned { logger.notice("MongoDB is back; the run's record is up to date again") }
                return true
            } catch where error.isRefusedForGood {
                await endRefused(error)
                return false
            } catch {
                // An outage, or an error that may pass (a write conflict, an
                // interruption): the steps still running stop once the lease lapses.
                _ = leaseLapsed()
                if !warned {
                    logger.warning("cannot record the run's progress yet, retrying until MongoDB takes it: \(error.message)")
                    warned = true
                }
                await backOff(&delay)
            }
        }
        return false
    }

    /// Writes `change` at the log's position and moves it on. The store
    /// extends a position in place; this executor's own copy gives up its
    /// share of what is unfolded meanwhile, so that nothing copies every
    /// step changed since the last fold at every write (it did: quadratic in
    /// the run's length). An error leaves the position as it was.
    private func writeChange(_ change: RunChange) async throws(OrchestratorError) -> Bool {
        var position = log
        log.unfolded = RunChange()
        defer { log = position }
        return try await store.apply(change, to: run.id, owner: settings.ownerId, log: &position)
    }

    /// Sleeps `delay` (no longer than the lease has left) and doubles it, up to 5 s.
    private func backOff(_ delay: inout Duration) async {
        await clock.sleep(for: deadline.hasPassed(at: clock.uptime()) ? delay : min(delay, deadline.remaining(at: clock.uptime())))
        delay = min(delay * 2, .seconds(5))
    }

    /// The database refused the run's progress for good (it would exceed its
    /// document limit, or holds a value it rejects): retrying changes
    /// nothing, so the run ends here as failed, with the reason, instead of
    /// staying `running` forever. Its steps stop; their records are kept
    /// without their output (the journal has it), which is what makes the
    /// ending small enough to be stored.
    private func endRefused(_ refusal: OrchestratorError) async {
        logger.error("MongoDB refused to record this run's progress, so the run ends as failed: \(refusal.message)", metadata: ["runStatus": "failed"])
        terminateAll()
        dropAhead()
        let now = clock.now().milliseconds
        let reason = "MongoDB refused to record the run's progress (\(refusal.message)); the run was ended, its steps' output is not kept in it (the journal has it)"
        let steps = run.steps.map { record -> RunStep in
            var step = record
            (step.stdout, step.stderr) = ("", "")
            if step.status == .rollingBack {
                step.status = .rollbackFailed
                step.rollback?.finishedAt = now
                step.rollback?.error = "stopped: the run ended because MongoDB refused to record its progress"
            } else if step.status == .running {
                step.status = .interrupted
                step.finishedAt = now
                step.error = "stopped: the run ended because MongoDB refused to record its progress"
            } else if step.status == .pending {
                step.status = .skipped
            }
            return step
        }
        var ending = RunChange(status: .failed, finishedAt: now)
        ending.events = log.unfolded.events + unwritten.events + [event(step: nil, status: RunStatus.failed.rawValue, message: reason)]
        var delay = Duration.milliseconds(200)
        while true {
            do {
                if try await store.endRefused(id: run.id, owner: settings.ownerId, steps: steps, change: ending, log: log) {
                    run.steps = steps
                    run.apply(ending)
                    unwritten = RunChange()
                    EngineMetrics.runFinished(.failed, kind: run.membership == nil ? "run" : "member")
                } else {
                    logger.warning("could not end the run: another daemon owns it now")
                }
                break
            } catch where !error.isRefusedForGood {
                await backOff(&delay)
            } catch {
                logger.error("MongoDB refused even the run's smallest ending: \(error.message)")
                break
            }
        }
        // Nothing more of this run is written here.
        lost = true
    }

    /// The workflow's own step status follows its latest run. Best effort and
    /// off the run's critical path: a background writer coalesces the latest
    /// status of each step into one write (the run's record is the source of truth).
    func show(_ step: String, _ status: StepStatus) {
        unshown.append((step, status))
    }

    /// The index of step `name`'s record in `run.steps` (a lookup, not a search: it runs several times per step).
    func index(of name: String) -> Int? {
        recordIndex[name]
    }

    /// Step `name`'s record as decided here.
    func stepRecord(_ name: String) -> RunStep? {
        recordIndex[name].map { run.steps[$0] }
    }

    /// Step `name` as the run's definition has it.
    func definition(_ name: String) -> Step? {
        definitionIndex[name].map { plan.definition[$0] }
    }

    func event(
        step: String?, status: String, attempt: Int? = nil, exitCode: Int? = nil, message: String? = nil, sequenceOffset: Int = 0
    ) -> RunEvent {
        RunEvent(sequence: run.events.count + sequenceOffset, step: step, status: status, at: clock.now().milliseconds,
                 attempt: attempt, exitCode: exitCode, message: message)
    }
}
