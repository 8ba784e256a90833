import Foundation
import OrchestratorModel

/// One atomic change to a run by its owner: run-level fields, whole step
/// records (by index), and the events that describe the change.
public struct RunChange: Sendable {
    public var status: RunStatus?
    public var startedAt: Date?
    public var finishedAt: Date?
    public var steps: [Int: RunStep] = [:]
    public var events: [RunEvent] = []

    public init(status: RunStatus? = nil, startedAt: Date? = nil, finishedAt: Date? = nil, steps: [Int: RunStep] = [:], events: [RunEvent] = []) {
        self.status = status
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.steps = steps
        self.events = events
    }

    /// Folds a later change into this one: later values win, events append.
    public mutating func merge(_ later: RunChange) {
        status = later.status ?? status
        startedAt = later.startedAt ?? startedAt
        finishedAt = later.finishedAt ?? finishedAt
        steps.merge(later.steps) { _, newer in newer }
        events += later.events
    }

    public var isEmpty: Bool { status == nil && startedAt == nil && finishedAt == nil && steps.isEmpty && events.isEmpty }
}

/// What a lease renewal learned.
public enum LeaseState: Sendable, Equatable {
    case held(cancelRequested: Bool)
    /// Another daemon owns the run now (or it was finished): stop touching it.
    case lost
}

/// Runs in MongoDB. Every write by an executing daemon is fenced by its
/// owner id, so a daemon that lost its lease can no longer change the run.
public protocol RunStore: Sendable {
    func createRun(_ run: Run) async throws(OrchestratorError)
    func run(id: String) async throws(OrchestratorError) -> Run
    /// Newest first; `after` is the `next` cursor of the previous page. Items
    /// leave out the bulky parts (definition, outputs, events).
    func listRuns(workflow: String?, status: RunStatus?, limit: Int, after: String?) async throws(OrchestratorError) -> Page<Run>
    /// Takes the lease on an active run that nobody holds, that `owner` held
    /// before (a restart), or whose lease expired. Nil when someone else holds it.
    func claim(id: String, owner: String, until: Date, now: Date) async throws(OrchestratorError) -> Run?
    /// Renews every lease `owner` holds among `ids` in two operations, however many there are.
    func renew(ids: [String], owner: String, until: Date) async throws(OrchestratorError) -> [String: LeaseState]
    /// Applies a change while `owner` holds the run; false when it does not any more.
    func apply(_ change: RunChange, to id: String, owner: String) async throws(OrchestratorError) -> Bool
    /// Active runs `owner` may claim now, oldest first.
    func claimable(owner: String, now: Date, limit: Int) async throws(OrchestratorError) -> [String]
    /// Marks the run for cancellation; a queued run nobody executes is cancelled at once.
    func requestCancel(id: String, now: Date) async throws(OrchestratorError) -> Run
    /// Puts a failed or cancelled run back in the queue; steps that did not succeed become pending.
    func resume(id: String, now: Date) async throws(OrchestratorError) -> Run
    func hasActiveRun(workflowId: String) async throws(OrchestratorError) -> Bool
    /// The run's status and its events from `sequence` on, for watchers.
    func events(id: String, from sequence: Int) async throws(OrchestratorError) -> (status: RunStatus, events: [RunEvent])
}
