import Metrics
import Foundation
import Logging
import OrchestratorEngine
import OrchestratorModel
import OrchestratorStorage

/// The rules of runs: what a run starts as, when its parameters are
/// complete, what cancel and resume may do and what they record. The store
/// persists what this decides, guarded so that a run that changed meanwhile
/// is not overwritten; the engine executes.
public struct RunService: Sendable {
    private let runs: any RunStore
    private let workflows: any WorkflowStore
    private let targets: any TargetStore
    private let engine: Engine
    private let ids: any IdSource
    private let clock: any EngineClock
    private let logger: Logger
    /// Where maintenance windows are read (nil: runs cannot name one).
    private let schedules: (any ScheduleStore)?
    /// Where secrets are looked up (nil: no secret exists).
    private let secrets: SecretService?
    private let runAs: RunAsPolicy

    public init(
        runs: any RunStore, workflows: any WorkflowStore, targets: any TargetStore, engine: Engine, ids: any IdSource, clock: any EngineClock,
        logger: Logger, schedules: (any ScheduleStore)? = nil, secrets: SecretService? = nil, runAs: RunAsPolicy = RunAsPolicy()
    ) {
        self.secrets = secrets
        self.runAs = runAs
        self.schedules = schedules
        self.runs = runs
        self.workflows = workflows
        self.targets = targets
        self.engine = engine
        self.ids = ids
        self.clock = clock
        self.logger = logger
    }

    /// Queues a run of the workflow as it is now, or as it was at `version`
    /// (its steps are copied into the run), and hands it to this daemon's engine. With `fleet`, a fleet
    /// run over the targets it selects (taken as they are now). A repeat of
    /// the same `requestId` within `requestIdLifetime` returns the run the
    /// first request made instead. When MongoDB does not answer whether the
    /// run was stored, the error carries the request id to repeat it with
    /// (the run's own id when the client gave none).
    /// `window` binds the run to a maintenance window other than the
    /// workflow's (a schedule's); `schedule` names the schedule that starts it.
    public func start(
        workflow name: String, version: Int? = nil, params: [String: String], requestId: String? = nil, fleet: FleetRequest? = nil,
        requester: Requester, window windowOverride: String? = nil, schedule: String? = nil
    ) async throws(OrchestratorError) -> Run {
        guard await engine.acceptsRuns else {
            throw OrchestratorError.conflict("the daemon is stopping; start the run again once it is back", details: ["stopping": "true"])
        }
        var v = Validator()
        if let requestId, let problem = RequestIdRule.problem(requestId) { v.merge([FieldError(field: "requestId", message: problem)]) }
        let workflow = try await workflows.workflow(.name(name), atVersion: version)
        var planned: Fleet?
        if let fleet { planned = try await plan(fleet) }
        v.merge(Parameters.problems(params, steps: workflow.steps, locks: workflow.locks, targets: planned?.targets))
        v.merge(await runAs.problems(workflow.steps))
        let usedSecrets = SecretRules.used(by: workflow.steps)
        for name in try await secrets?.missing(usedSecrets) ?? usedSecrets {
            let users = workflow.orderedSteps.filter { SecretRules.used(by: $0).contains(name) }.map { "'\($0.name)'" }.joined(separator: ", ")
            v.require(false, "secrets.\(name)", "no secret named '\(name)' (step \(users) uses it); set it with 'orchctl secret set \(name)'")
        }
        let secretParams = workflow.secretParams.filter { params[$0] != nil }.sorted()
        if !secretParams.isEmpty {
            v.merge(SecretRules.problems(secretParams: workflow.secretParams, locks: workflow.locks, steps: workflow.steps))
            v.require(fleet == nil, "targets", "workflow '\(workflow.name)' takes secret parameters (\(secretParams.joined(separator: ", "))), which a fleet run cannot keep in one daemon's memory: keep the value as a secret instead ('orchctl secret set', then {{secrets.NAME}})")
            v.require(schedule == nil, "params", "workflow '\(workflow.name)' takes secret parameters (\(secretParams.joined(separator: ", "))), which a schedule would keep in clear: keep the value as a secret instead ('orchctl secret set', then {{secrets.NAME}})")
        }
        var window: MaintenanceWindow?
        if let windowName = windowOverride ?? workflow.window {
            do throws(OrchestratorError) {
                guard let schedules else { throw OrchestratorError.notFound("window", windowName) }
                window = try await schedules.window(named: windowName)
            } catch where error.isNotFound {
                v.require(false, "window", "no maintenance window named '\(windowName)' (see 'orchctl window list')")
            }
        }
        try v.check()
        let now = clock.now().milliseconds
        let definition = workflow.orderedSteps.map { step -> Step in
            var snapshot = step
            snapshot.status = .pending
            return snapshot
        }
        let id = ids.next()
        var run = Run(
            id: id, workflowId: workflow.id, workflowName: workflow.name, workflowVersion: workflow.version,
            definition: definition, params: SecretRules.masked(params, secret: secretParams), status: .queued,
            // A fleet run runs no step itself: its members do, one per target.
            steps: planned == nil ? definition.map { RunStep(name: $0.name, executionOrder: $0.executionOrder) } : [],
            requestedBy: requester, createdAt: now,
            events: [RunEvent(sequence: 0, step: nil, status: RunStatus.queued.rawValue, at: now)],
            requestId: requestId ?? id, fleet: planned, locks: workflow.locks, window: window, schedule: schedule,
            secrets: usedSecrets, secretParams: secretParams, keeper: secretParams.isEmpty ? nil : engine.ownerId)
        // Stored leased to this daemon when it has room, and executed from the record just written: no claim before the first step.
        let reservation = await engine.reserve(id, evenIfFull: !secretParams.isEmpty)
        let kept: (lease: RunLease, token: UInt64)?
        do throws(OrchestratorError) {
            kept = try await keep(secretParams, of: params, for: id, lease: reservation?.lease)
        } catch {
            if let reservation { await engine.cancelReservation(reservation) }
            throw error
        }
        // Its first steps' processes are started, held at their gates, and
        // recorded as running in the run's insert: they run once it is stored.
        if let started = await engine.startAhead(of: run, reserved: reservation) { run.apply(started) }
        let created: Result<Run?, OrchestratorError>
        do throws(OrchestratorError) {
            created = .success(try await create(run, heldBy: kept?.lease ?? reservation?.lease))
        } catch {
            created = .failure(error)
        }
        do throws(OrchestratorError) {
            if let earlier = try created.get() {
                if let reservation { await engine.cancelReservation(reservation) }
                if let kept { engine.secretParams.forget(id, token: kept.token) }
                try await keepAgain(params, for: earlier)
                return earlier
            }
        } catch {
            if let reservation { await engine.cancelReservation(reservation, mayBeStored: error.isTransient) }
            // On a transient error the run may have been stored: its values stay here, and the claim loop finds it, leased to this daemon.
            if let kept, !error.isTransient { engine.secretParams.forget(id, token: kept.token) }
            throw error
        }
        // A run executed here at once is made the latest by its executor, in the background: not a write before its first step.
        let marksLatestInBackground = reservation != nil && planned == nil
        if !marksLatestInBackground { try? await workflows.markLatestRun(workflowId: workflow.id, runId: run.id) }
        var metadata: Logger.Metadata = ["runId": "\(run.id)", "workflow": "\(workflow.name)", "peerUid": "\(requester.uid)"]
        if let planned { metadata["targets"] = "\(planned.targets.count)" }
        logger.notice(planned == nil ? "run queued" : "fleet run queued", metadata: metadata)
        Counter(label: "orchestrator_runs_started_total", dimensions: [("kind", planned == nil ? "run" : "fleet")]).increment()
        if let reservation {
            await engine.execute(run, reserved: reservation, marksLatest: marksLatestInBackground)
        } else {
            engine.adopt(runId: run.id, evenIfFull: kept != nil)
        }
        return run
    }

    /// Keeps the values of a run's secret parameters in this daemon's
    /// memory, and returns the lease the run is stored (or requeued) with
    /// so that no other daemon, which would not have them, takes it first,
    /// and the token the values are kept under. Nil when the run has none.
    private func keep(
        _ secretParams: [String], of params: [String: String], for id: String, lease reserved: RunLease? = nil
    ) async throws(OrchestratorError) -> (lease: RunLease, token: UInt64)? {
        guard !secretParams.isEmpty else { return nil }
        let lease: RunLease
        if let reserved {
            lease = reserved
        } else {
            lease = RunLease(owner: engine.ownerId, until: try await runs.serverTime().addingTimeInterval(engine.lease.seconds))
        }
        let token = engine.secretParams.keep(params.filter { secretParams.contains($0.key) }, for: id)
        return (lease, token)
    }

    /// A repeated `run.start` (its first answer was lost) whose run this
    /// daemon keeps but whose values it lost with that answer: they are
    /// kept again, and the run executed here.
    private func keepAgain(_ params: [String: String], for earlier: Run) async throws(OrchestratorError) {
        guard !earlier.secretParams.isEmpty, earlier.keeper == engine.ownerId, earlier.status.isActive,
              engine.secretParams.entry(for: earlier.id) == nil else { return }
        engine.secretParams.keep(params.filter { earlier.secretParams.contains($0.key) }, for: earlier.id)
        engine.adopt(runId: earlier.id, evenIfFull: true)
    }

    /// The targets a fleet run will work on, in batches, each with the id its member run will have.
    private func plan(_ request: FleetRequest) async throws(OrchestratorError) -> Fleet {
        var v = Validator()
        v.merge(request.selector.problems(at: "targets"))
        v.merge(request.batchSize.problems(at: "batchSize"))
        v.require((0...100).contains(request.maxFailPercentage), "maxFailPercentage", "must be between 0 and 100")
        try v.check()
        let chosen = try await targets.listTargets(selector: request.selector, limit: Limits.targetsPerRun + 1, after: nil).items
        if case .names(let names) = request.selector {
            let missing = Set(names).subtracting(chosen.map(\.name)).sorted()
            v.require(missing.isEmpty, "targets.names", "no such targets: \(missing.prefix(10).joined(separator: ", "))\(missing.count > 10 ? ", …" : "")")
        }
        v.require(!chosen.isEmpty, "targets", "no target matches \(request.selector) (see 'orchctl target list')")
        v.require(chosen.count <= Limits.targetsPerRun, "targets", "more than \(Limits.targetsPerRun) targets match; one fleet run takes at most that many")
        try v.check()
        return Fleet(
            selector: request.selector, batchSize: request.batchSize, maxFailPercentage: request.maxFailPercentage,
            targets: Fleet.plan(chosen, batchSize: request.batchSize, runIds: ids.next))
    }

    /// How long a `run.start` request id is remembered.
    public static let requestIdLifetime: TimeInterval = 24 * 3600

    /// Stores `run`; or, when an earlier request with its request id made a
    /// run within the lifetime, returns that one instead.
    private func create(_ run: Run, heldBy lease: RunLease?) async throws(OrchestratorError) -> Run? {
        let requestId = run.requestId ?? run.id
        do throws(OrchestratorError) {
            for attempt in 0..<2 {
                do throws(OrchestratorError) {
                    try await runs.createRun(run, heldBy: lease)
                    return nil
                } catch where error.kind == .conflict && error.details["requestId"] == requestId && attempt == 0 {
                    let earlier = try await runs.run(requestId: requestId)
                    // This very run: an earlier sending of its insert landed (a grouped insert sent again one by one).
                    if earlier?.id == run.id { return nil }
                    if let earlier, earlier.createdAt >= run.createdAt - Self.requestIdLifetime {
                        guard earlier.workflowName == run.workflowName, earlier.params == run.params, earlier.fleet?.selector == run.fleet?.selector else {
                            throw OrchestratorError.conflict(
                                "request id '\(requestId)' was used for run \(earlier.id) of \(earlier.workflowName) with other parameters; use a new request id",
                                details: ["requestId": requestId, "runId": earlier.id])
                        }
                        logger.notice("run.start repeated with request id \(requestId): answering with the run it started",
                                      metadata: ["runId": "\(earlier.id)", "workflow": "\(earlier.workflowName)"])
                        return earlier
                    }
                    // Held by a run older than a day (or by none any more): free it, and try once more.
                    try await runs.releaseRequestId(requestId, createdBefore: run.createdAt - Self.requestIdLifetime)
                }
            }
            throw OrchestratorError.conflict("request id '\(requestId)' is held by another run", details: ["requestId": requestId])
        } catch where error.isTransient {
            var unknown = error
            unknown.details["requestId"] = requestId
            if error.kind == .outcomeUnknown {
                unknown.message += "; repeat the request with requestId '\(requestId)' to learn whether the run was started (it is never started twice)"
            }
            throw unknown
        }
    }

    /// A run in full; a fleet run with each target's status and its steps'
    /// statuses; a queued run bound to a closed window with when it opens.
    public func get(_ id: String) async throws(OrchestratorError) -> Run {
        var run = try await runs.run(id: id)
        if run.status == .queued, let window = run.window, !window.isOpen(at: clock.now()) {
            run.windowWait = WindowWait(window: window.name, opensAt: window.nextOpening(after: clock.now()))
        }
        guard var fleet = run.fleet else { return run }
        let members = Dictionary(try await runs.members(of: id, withSteps: true).map { ($0.id, $0) }) { first, _ in first }
        for index in fleet.targets.indices {
            let member = members[fleet.targets[index].runId]
            fleet.targets[index].status = TargetStatus(member: member?.status, fleet: run.status)
            fleet.targets[index].steps = Dictionary((member?.steps ?? []).map { ($0.name, $0.status) }) { first, _ in first }
        }
        run.fleet = fleet
        return run
    }

    /// The run of one target of a fleet run, in full.
    public func target(_ id: String, _ name: String) async throws(OrchestratorError) -> Run {
        let fleetRun = try await runs.run(id: id)
        guard let fleet = fleetRun.fleet else {
            throw OrchestratorError.validation([FieldError(field: "id", message: "run \(id) is not a fleet run: it has no targets")])
        }
        guard let target = fleet.targets.first(where: { $0.name == name }) else { throw OrchestratorError.notFound("target", name) }
        do {
            return try await runs.run(id: target.runId)
        } catch where error.isNotFound {
            let status = TargetStatus(member: nil, fleet: fleetRun.status)
            throw OrchestratorError.notFound("target", name, message: status == .pending
                ? "target \(name) is in batch \(target.batch), which has not started yet"
                : "target \(name) never started: it was \(status.rawValue)")
        }
    }

    /// The run `ref` names, as a summary: a whole id, the start of one (at
    /// least 4 hex characters, refused when several runs share it), or
    /// `last`, the newest run (of `workflow`, if given; fleet members aside).
    public func resolve(_ ref: String, workflow: String?) async throws(OrchestratorError) -> Run {
        let field = "ref"
        if ref == "last" {
            let newest = try await list(workflow: workflow, status: nil, limit: 1, after: nil).items.first
            guard let newest else {
                throw OrchestratorError.notFound("run", ref, message: workflow.map { "workflow '\($0)' has no runs" } ?? "there are no runs yet")
            }
            return newest
        }
        guard workflow == nil else {
            throw OrchestratorError.validation([FieldError(field: "workflow", message: "goes with 'last' only (the newest run of that workflow)")])
        }
        let hex = ref.lowercased()
        guard (4...24).contains(hex.count), hex.allSatisfy(\.isHexDigit) else {
            throw OrchestratorError.validation([FieldError(
                field: field, message: "'\(ref.prefix(40))' is not a run id: give the id (24 hex characters), its start (at least 4), or 'last'")])
        }
        if hex.count == 24 { return try await runs.run(id: hex) }
        let found = try await runs.runs(idPrefix: hex, limit: 6)
        switch found.count {
        case 0: throw OrchestratorError.notFound("run", ref, message: "no run id starts with '\(hex)'")
        case 1: return found[0]
        default:
            let shown = found.prefix(5).map { "\($0.id) (\($0.workflowName), \($0.status.rawValue))" }.joined(separator: ", ")
            throw OrchestratorError.validation([FieldError(
                field: field,
                message: "'\(hex)' is the start of \(found.count > 5 ? "more than 5" : "\(found.count)") run ids: \(shown)\(found.count > 5 ? ", …" : ""); give more of the id")])
        }
    }

    public func list(workflow: String?, status: RunStatus?, since: Date? = nil, limit: Int, after: String?) async throws(OrchestratorError) -> Page<Run> {
        try PageRequest.check(limit: limit, after: after, afterIsRunId: true)
        let page = try await runs.listRuns(workflow: workflow, status: status, since: since, limit: limit, after: after)
        // A typo'd name is NotFound, not "no runs"; a deleted workflow's runs are still listed while they are kept.
        if let workflow, page.items.isEmpty, after == nil { _ = try await workflows.workflow(.name(workflow)) }
        return page
    }

    /// A queued run that no daemon executes is cancelled here and now, with
    /// every step not yet final; any other active run is marked, and its
    /// owner stops its steps (at once if that is this daemon).
    public func cancel(_ id: String) async throws(OrchestratorError) -> Run {
        let current = try await runs.run(id: id)
        guard current.status.isActive else {
            throw OrchestratorError.conflict("run \(id) \(current.status.phrase) already", details: ["status": current.status.rawValue])
        }
        let now = clock.now().milliseconds
        var change = RunChange(status: .cancelled, finishedAt: now)
        var sequence = current.events.count
        for (index, step) in current.steps.enumerated() where !step.status.isFinal {
            var cancelled = step
            cancelled.status = .cancelled
            change.steps[index] = cancelled
            change.events.append(RunEvent(sequence: sequence, step: step.name, status: StepStatus.cancelled.rawValue, at: now))
            sequence += 1
        }
        change.events.append(RunEvent(sequence: sequence, step: nil, status: RunStatus.cancelled.rawValue, at: now))
        // Whether nobody executes it is judged by the database server's clock, as leases are.
        let serverNow = try await runs.serverTime()
        if try await !runs.cancelIdle(id: id, eventCount: current.events.count, change: change, now: serverNow) {
            _ = try await runs.flagCancel(id: id)
            await engine.cancelRequested(runId: id)
        }
        if current.fleet != nil {
            // Its members stop now, not only once the fleet's executor looks.
            for member in try await runs.members(of: id, withSteps: false) where member.status.isActive {
                _ = try await runs.flagCancel(id: member.id)
                await engine.cancelRequested(runId: member.id)
            }
        }
        return try await get(id)
    }

    /// A failed or cancelled run goes back in the queue; the steps that did
    /// not succeed run again. A resumed fleet run's executor resumes its
    /// members that did not succeed (one guarded write each, so a lost
    /// answer here never leaves members running without their fleet), and
    /// its batches go on as before. A member is resumed through its fleet
    /// run, which counts its failures.
    /// `params`: the values of the run's secret parameters, which are asked
    /// for again (they are not kept once a run ends or its daemon restarts).
    public func resume(_ id: String, params: [String: String] = [:]) async throws(OrchestratorError) -> Run {
        let current = try await runs.run(id: id)
        try Self.checkResumeParams(params, of: current)
        if let membership = current.membership {
            throw OrchestratorError.conflict(
                "run \(id) is target \(membership.target.name) of fleet run \(membership.fleetRunId): resume the fleet run, which re-runs every target that did not succeed",
                details: ["fleetRunId": membership.fleetRunId])
        }
        try await refuseAfterAFailedRollback(current)
        try Self.checkResumable(current)
        let kept = try await keep(current.secretParams, of: params, for: id)
        do throws(OrchestratorError) {
            try await requeue(current, heldBy: kept?.lease)
        } catch where !error.isTransient {
            if let kept { engine.secretParams.forget(id, token: kept.token) }
            throw error
        }
        logger.notice(current.fleet == nil ? "run resumed" : "fleet run resumed", metadata: ["runId": "\(id)", "workflow": "\(current.workflowName)"])
        if kept != nil {
            engine.adopt(runId: id, evenIfFull: true)
        } else {
            await engine.lookForWork()
        }
        return try await get(id)
    }

    /// A run with secret parameters is resumed with their values, all of
    /// them, and nothing else.
    private static func checkResumeParams(_ params: [String: String], of run: Run) throws(OrchestratorError) {
        var v = Validator()
        let secret = Set(run.secretParams)
        for name in params.keys.sorted() where !secret.contains(name) {
            v.require(false, "params.\(name)", run.secretParams.isEmpty
                ? "run \(run.id) has no secret parameters: a resumed run keeps the parameters it started with"
                : "not a secret parameter of run \(run.id) (those are \(run.secretParams.sorted().joined(separator: ", "))): the others keep their values")
        }
        let missing = run.secretParams.sorted().filter { params[$0] == nil }
        v.require(missing.isEmpty, "params", "run \(run.id) takes secret parameters whose values are not kept once a run ends or its daemon restarts; "
            + "give them again: orchctl run resume \(run.id) " + missing.map { "-p \($0)=…" }.joined(separator: " "))
        v.merge(Parameters.problems(params, steps: []))
        try v.check()
    }

    /// A step whose rollback failed left its device half undone: running
    /// the run again from there would act on a state nobody planned for.
    private func refuseAfterAFailedRollback(_ run: Run) async throws(OrchestratorError) {
        var stuck = run.steps.filter { $0.status == .rollbackFailed }.map(\.name)
        if run.fleet != nil {
            for member in try await runs.members(of: run.id, withSteps: true) {
                stuck += member.steps.filter { $0.status == .rollbackFailed }.map { "\($0.name) (target \(member.membership?.target.name ?? member.id))" }
            }
        }
        guard stuck.isEmpty else {
            throw OrchestratorError.conflict(
                "run \(run.id) cannot be resumed: the rollback of \(stuck.joined(separator: ", ")) failed, so what it changed is half undone; "
                    + "put it right by hand (see 'orchctl run get \(run.id)'), then start a new run",
                details: ["status": run.status.rawValue])
        }
    }

    private static func checkResumable(_ run: Run) throws(OrchestratorError) {
        guard run.status == .failed || run.status == .cancelled else {
            throw OrchestratorError.conflict(
                "only a failed or cancelled run can be resumed; run \(run.id) \(run.status.phrase)",
                details: ["status": run.status.rawValue])
        }
    }

    /// Puts an ended run back in the queue, its steps that did not succeed pending again.
    private func requeue(_ current: Run, heldBy lease: RunLease?) async throws(OrchestratorError) {
        try Self.checkResumable(current)
        let change = current.resumption(at: clock.now().milliseconds)
        guard try await runs.requeue(id: current.id, from: current.status, eventCount: current.events.count, change: change, heldBy: lease) else {
            throw OrchestratorError.conflict("run \(current.id) changed while resuming it; try again")
        }
    }

    /// Records `caller`'s decision on approval step `step` of run `id`, for
    /// whichever daemon executes the run to act on (this one at once).
    /// Refused, with the reason, when the step is not waiting for approval,
    /// when the caller may not decide on it (not an admin, or not in the
    /// step's group), when the caller started the run and the step wants
    /// another person (`notStarter`), and when the caller decided already.
    public func decide(_ id: String, step name: String, approve: Bool, comment: String, by caller: Approver) async throws(OrchestratorError) -> Run {
        var v = Validator()
        v.require(comment.count <= Approval.maximumCommentLength, "comment", "must be at most \(Approval.maximumCommentLength) characters")
        v.require(!comment.unicodeScalars.contains { $0.properties.generalCategory == .control && $0 != "\n" && $0 != "\t" },
                  "comment", "must not hold control characters")
        try v.check()
        let run = try await runs.run(id: id)
        guard let definition = run.definition(name), let record = run.step(name) else { throw OrchestratorError.notFound("step", "\(id)/\(name)") }
        guard let approval = definition.approval else {
            throw OrchestratorError.validation([FieldError(field: "step", message: "step '\(name)' is not an approval step: it runs a command")])
        }
        guard record.status == .waitingApproval else {
            throw OrchestratorError.conflict(
                "step '\(name)' of run \(id) is not waiting for approval: it is \(record.status.rawValue)", details: ["status": record.status.rawValue])
        }
        if let group = approval.group {
            guard caller.uid == 0 || caller.isMember(group) else {
                throw OrchestratorError(.permissionDenied, "permission denied: step '\(name)' is decided by members of group \(group); uid \(caller.uid) is not one")
            }
        } else if !caller.isAdmin {
            throw OrchestratorError(.permissionDenied, "permission denied: step '\(name)' is decided by admins (root and the admin group); uid \(caller.uid) is not one")
        }
        if approval.notStarter && caller.uid == run.requestedBy.uid {
            throw OrchestratorError(.permissionDenied,
                "permission denied: uid \(caller.uid) started run \(id); step '\(name)' needs another person's decision (four eyes: notStarter)")
        }
        let decision = ApprovalDecision(
            runId: id, step: name, attempt: record.attempts, uid: caller.uid, approved: approve, comment: comment, at: clock.now().milliseconds)
        try await runs.recordDecision(decision)
        logger.notice(
            "step \(name) \(decision.verb) by uid \(caller.uid)\(comment.isEmpty ? "" : ": \(comment)")",
            metadata: ["runId": "\(id)", "workflow": "\(run.workflowName)", "step": "\(name)", "decision": "\(decision.verb)", "peerUid": "\(caller.uid)"])
        await engine.approvalDecided(runId: id)
        var shown = run
        if let index = shown.steps.firstIndex(where: { $0.name == name }) { shown.steps[index].decisions.append(decision) }
        return shown
    }

    /// What this daemon stores of the run from now on, as it is stored
    /// (nothing unless the run executes here); `cancel()` when done.
    public func follow(_ id: String) -> RunFeed.Subscription {
        engine.feed.subscribe(id)
    }

    /// Whether run `id` executes here now, publishing what it stores to `follow`'s subscriptions.
    public func isPublishedHere(_ id: String) -> Bool {
        engine.feed.isPublishing(id)
    }

    /// The lines the steps of run `id` (or of its members, for a fleet run)
    /// print here from now on, after the last 64 KiB printed before, if
    /// the run executes here; `cancel()` when done.
    public func followOutput(_ id: String) -> Broadcast<OutputLine>.Subscription {
        engine.output.subscribe(id)
    }

    /// The events after `cursor`, for watchers (see RunStore.events).
    public func events(_ id: String, after cursor: RunEventCursor, evenIfQuiet: Bool) async throws(OrchestratorError) -> RunEventsPage {
        try await runs.events(id: id, after: cursor, evenIfQuiet: evenIfQuiet)
    }
}

/// Who decides on an approval: their uid, whether they are an admin, and
/// which groups they are in (asked only for a step that names a group).
public struct Approver: Sendable {
    public var uid: UInt32
    public var isAdmin: Bool
    public var isMember: @Sendable (String) -> Bool

    public init(uid: UInt32, isAdmin: Bool, isMember: @escaping @Sendable (String) -> Bool) {
        self.uid = uid
        self.isAdmin = isAdmin
        self.isMember = isMember
    }
}

/// What `run.start` asks for a fleet run.
public struct FleetRequest: Sendable, Equatable {
    public var selector: TargetSelector
    public var batchSize: BatchSize
    public var maxFailPercentage: Int

    public init(selector: TargetSelector, batchSize: BatchSize = .percent(100), maxFailPercentage: Int = 0) {
        self.selector = selector
        self.batchSize = batchSize
        self.maxFailPercentage = maxFailPercentage
    }
}
