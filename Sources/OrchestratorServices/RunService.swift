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
    private let engine: Engine
    private let ids: any IdSource
    private let clock: any EngineClock
    private let logger: Logger

    public init(runs: any RunStore, workflows: any WorkflowStore, engine: Engine, ids: any IdSource, clock: any EngineClock, logger: Logger) {
        self.runs = runs
        self.workflows = workflows
        self.engine = engine
        self.ids = ids
        self.clock = clock
        self.logger = logger
    }

    /// Queues a run of the workflow as it is now (its steps are copied into
    /// the run), and hands it to this daemon's engine. A repeat of the same
    /// `requestId` within `requestIdLifetime` returns the run the first
    /// request made instead. When MongoDB does not answer whether the run
    /// was stored, the error carries the request id to repeat it with (the
    /// run's own id when the client gave none).
    public func start(workflow name: String, params: [String: String], requestId: String? = nil, requester: Requester) async throws(OrchestratorError) -> Run {
        guard await engine.acceptsRuns else { throw OrchestratorError.conflict("the daemon is stopping; start the run again once it is back") }
        var v = Validator()
        if let requestId, let problem = RequestIdRule.problem(requestId) { v.merge([FieldError(field: "requestId", message: problem)]) }
        let workflow = try await workflows.workflow(.name(name))
        v.merge(Parameters.problems(params, steps: workflow.steps))
        try v.check()
        let now = clock.now().milliseconds
        let definition = workflow.orderedSteps.map { step -> Step in
            var snapshot = step
            snapshot.status = .pending
            return snapshot
        }
        let id = ids.next()
        let run = Run(
            id: id, workflowId: workflow.id, workflowName: workflow.name, workflowVersion: workflow.version,
            definition: definition, params: params, status: .queued,
            steps: definition.map { RunStep(name: $0.name, executionOrder: $0.executionOrder) },
            requestedBy: requester, createdAt: now,
            events: [RunEvent(sequence: 0, step: nil, status: RunStatus.queued.rawValue, at: now)],
            requestId: requestId ?? id)
        if let earlier = try await create(run) { return earlier }
        try? await workflows.markLatestRun(workflowId: workflow.id, runId: run.id)
        logger.notice("run queued", metadata: ["runId": "\(run.id)", "workflow": "\(workflow.name)", "peerUid": "\(requester.uid)"])
        engine.adopt(runId: run.id)
        return run
    }

    /// How long a `run.start` request id is remembered.
    public static let requestIdLifetime: TimeInterval = 24 * 3600

    /// Stores `run`; or, when an earlier request with its request id made a
    /// run within the lifetime, returns that one instead.
    private func create(_ run: Run) async throws(OrchestratorError) -> Run? {
        let requestId = run.requestId ?? run.id
        do throws(OrchestratorError) {
            for attempt in 0..<2 {
                do throws(OrchestratorError) {
                    try await runs.createRun(run)
                    return nil
                } catch where error.kind == .conflict && error.details["requestId"] == requestId && attempt == 0 {
                    if let earlier = try await runs.run(requestId: requestId), earlier.createdAt >= run.createdAt - Self.requestIdLifetime {
                        guard earlier.workflowName == run.workflowName, earlier.params == run.params else {
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

    public func get(_ id: String) async throws(OrchestratorError) -> Run {
        try await runs.run(id: id)
    }

    public func list(workflow: String?, status: RunStatus?, limit: Int, after: String?) async throws(OrchestratorError) -> Page<Run> {
        try PageRequest.check(limit: limit, after: after, afterIsRunId: true)
        return try await runs.listRuns(workflow: workflow, status: status, limit: limit, after: after)
    }

    /// A queued run that no daemon executes is cancelled here and now, with
    /// every step not yet final; any other active run is marked, and its
    /// owner stops its steps (at once if that is this daemon).
    public func cancel(_ id: String) async throws(OrchestratorError) -> Run {
        let current = try await runs.run(id: id)
        guard current.status.isActive else {
            throw OrchestratorError.conflict("run \(id) is already \(current.status.rawValue)", details: ["status": current.status.rawValue])
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
        return try await runs.run(id: id)
    }

    /// A failed or cancelled run goes back in the queue; the steps that did
    /// not succeed run again.
    public func resume(_ id: String) async throws(OrchestratorError) -> Run {
        let current = try await runs.run(id: id)
        guard current.status == .failed || current.status == .cancelled else {
            throw OrchestratorError.conflict(
                "only a failed or cancelled run can be resumed; run \(id) is \(current.status.rawValue)",
                details: ["status": current.status.rawValue])
        }
        var change = RunChange()
        for (index, step) in current.steps.enumerated() where step.status != .succeeded {
            var again = step
            again.status = .pending
            change.steps[index] = again
        }
        change.events = [RunEvent(
            sequence: current.events.count, step: nil, status: "resumed", at: clock.now().milliseconds,
            message: "resumed from \(current.status.rawValue)")]
        guard try await runs.requeue(id: id, from: current.status, eventCount: current.events.count, change: change) else {
            throw OrchestratorError.conflict("run \(id) changed while resuming it; try again")
        }
        logger.notice("run resumed", metadata: ["runId": "\(id)", "workflow": "\(current.workflowName)"])
        await engine.lookForWork()
        return try await runs.run(id: id)
    }

    /// The events after `cursor`, for watchers (see RunStore.events).
    public func events(_ id: String, after cursor: RunEventCursor, evenIfQuiet: Bool) async throws(OrchestratorError) -> RunEventsPage {
        try await runs.events(id: id, after: cursor, evenIfQuiet: evenIfQuiet)
    }
}
