import Foundation
import Logging
import OrchestratorModel
import OrchestratorStore
import MongoKit

/// The workflow engine: starts, cancels and resumes runs, claims runs to
/// execute (new ones, its own after a restart, and any whose lease expired),
/// keeps its leases fresh, and drains on shutdown.
public actor Engine {
    private let settings: EngineSettings
    private let runs: any RunStore
    private let workflows: any WorkflowStore
    private let logger: Logger
    private let slots: StepSlots
    private var executors: [String: RunExecutor] = [:]
    private var stopping = false
    private var wakeRequested = false
    private var loops: [Task<Void, Never>] = []
    private var onActiveRunsChanged: @Sendable (Int) -> Void = { _ in }
    private var lastClaimPass = ContinuousClock.now

    public init(settings: EngineSettings, runs: any RunStore, workflows: any WorkflowStore, logger: Logger) {
        self.settings = settings
        self.runs = runs
        self.workflows = workflows
        self.logger = logger
        self.slots = StepSlots(settings.maxParallelSteps)
    }

    public func start(onActiveRunsChanged: @escaping @Sendable (Int) -> Void) {
        self.onActiveRunsChanged = onActiveRunsChanged
        loops.append(Task { await self.claimLoop() })
        loops.append(Task { await self.leaseLoop() })
        loops.append(Task { await self.sweepLoop() })
    }

    public var activeRuns: Int { executors.count }

    /// True while the claim loop has run recently: the watchdog's sign of life.
    public var isHealthy: Bool { stopping || ContinuousClock.now - lastClaimPass < settings.claimInterval * 10 + .seconds(60) }

    // MARK: - Requests

    public func startRun(workflow name: String, params: [String: String], requester: Requester) async throws(OrchestratorError) -> Run {
        guard !stopping else { throw OrchestratorError.conflict("the daemon is stopping; start the run again once it is back") }
        let workflow = try await workflows.workflow(.name(name))
        var v = Validator()
        v.merge(Parameters.problems(params, steps: workflow.steps))
        try v.check()
        let now = Date.now.milliseconds
        let definition = workflow.orderedSteps.map { step -> Step in
            var snapshot = step
            snapshot.status = .pending
            return snapshot
        }
        let run = Run(
            id: ObjectId.generate().hex, workflowId: workflow.id, workflowName: workflow.name, workflowVersion: workflow.version,
            definition: definition, params: params, status: .queued,
            steps: definition.map { RunStep(name: $0.name, executionOrder: $0.executionOrder) },
            requestedBy: requester, createdAt: now,
            events: [RunEvent(sequence: 0, step: nil, status: RunStatus.queued.rawValue, at: now)])
        try await runs.createRun(run)
        try? await workflows.markLatestRun(workflowId: workflow.id, runId: run.id)
        logger.notice("run queued", metadata: ["runId": "\(run.id)", "workflow": "\(workflow.name)", "peerUid": "\(requester.uid)"])
        wakeRequested = true
        return run
    }

    public func cancel(runId: String) async throws(OrchestratorError) -> Run {
        let run = try await runs.requestCancel(id: runId, now: Date.now.milliseconds)
        executors[runId]?.send(.cancel)
        return run
    }

    public func resume(runId: String) async throws(OrchestratorError) -> Run {
        let run = try await runs.resume(id: runId, now: Date.now.milliseconds)
        logger.notice("run resumed", metadata: ["runId": "\(runId)", "workflow": "\(run.workflowName)"])
        wakeRequested = true
        return run
    }

    /// No new runs; running steps may finish within `timeout`; what is left
    /// stays in MongoDB for the next start (or another daemon) to recover.
    public func shutdown(timeout: Duration) async {
        stopping = true
        for loop in loops { loop.cancel() }
        for executor in executors.values { executor.send(.stop) }
        let deadline = ContinuousClock.now + timeout
        while !executors.isEmpty && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(100))
        }
        if !executors.isEmpty {
            logger.notice("stop timeout reached with \(executors.count) runs still active; they will be recovered at the next start")
        }
    }

    // MARK: - Claiming and leases

    private func claimLoop() async {
        while !Task.isCancelled && !stopping {
            lastClaimPass = .now
            await claimAvailable()
            let next = ContinuousClock.now + settings.claimInterval
            while ContinuousClock.now < next && !wakeRequested && !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(50))
            }
            wakeRequested = false
        }
    }

    private func claimAvailable() async {
        let now = Date.now.milliseconds
        let room = settings.maximumActiveRuns - executors.count
        guard room > 0 else { return }
        let candidates: [String]
        do {
            candidates = try await runs.claimable(owner: settings.ownerId, now: now, limit: room + executors.count)
        } catch {
            return  // MongoDB is down: try again at the next pass
        }
        for id in candidates where executors[id] == nil && !stopping && executors.count < settings.maximumActiveRuns {
            guard let claimed = try? await runs.claim(id: id, owner: settings.ownerId, until: now.addingTimeInterval(leaseSeconds), now: now),
                executors[id] == nil
            else { continue }
            let run = claimed.run
            let executor = RunExecutor(claimed, settings: settings, store: runs, workflows: workflows, slots: slots, logger: logger)
            executors[id] = executor
            onActiveRunsChanged(executors.count)
            if run.status == .running {
                logger.notice("took over run (recovering it)", metadata: ["runId": "\(id)", "workflow": "\(run.workflowName)"])
            }
            Task {
                await executor.execute()
                self.executorFinished(id)
            }
        }
    }

    private func executorFinished(_ id: String) {
        executors[id] = nil
        onActiveRunsChanged(executors.count)
        wakeRequested = true
    }

    private var leaseSeconds: TimeInterval { Double(settings.lease.components.seconds) }

    /// At start and then hourly: a run's log is deleted when it ends, but
    /// only if MongoDB answered just then.
    private func sweepLoop() async {
        while !Task.isCancelled {
            if let removed = try? await runs.sweepLogs(), removed > 0 {
                logger.info("removed \(removed) log entries that ended runs had left behind")
            }
            try? await Task.sleep(for: .seconds(3600))
        }
    }

    private func leaseLoop() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: settings.lease / 3)
            let until = Date.now.milliseconds.addingTimeInterval(leaseSeconds)
            // MongoDB down: no renewal; the executors' own writes will tell whether the runs are still theirs.
            guard let states = try? await runs.renew(ids: Array(executors.keys), owner: settings.ownerId, until: until) else { continue }
            for (id, state) in states {
                switch state {
                case .lost: executors[id]?.send(.leaseLost)
                case .held(let cancelRequested) where cancelRequested: executors[id]?.send(.cancel)
                case .held: break
                }
            }
        }
    }
}
