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

    public var isEmpty: Bool { !touchesRun && steps.isEmpty && events.isEmpty }

    /// Whether it changes the run's own fields (starts or ends it), not only its steps.
    public var touchesRun: Bool { status != nil || startedAt != nil || finishedAt != nil }
}

extension Run {
    /// The run with a change applied, as the store will record it.
    public mutating func apply(_ change: RunChange) {
        if let status = change.status { self.status = status }
        if let startedAt = change.startedAt { self.startedAt = startedAt }
        if let finishedAt = change.finishedAt { self.finishedAt = finishedAt }
        for (index, step) in change.steps where steps.indices.contains(index) { steps[index] = step }
        events += change.events
    }
}

extension Run {
    /// What `run.resume` records: every step that did not succeed is pending
    /// again (keeping its attempts), and a `resumed` event.
    public func resumption(at now: Date) -> RunChange {
        var change = RunChange()
        for (index, step) in steps.enumerated() where step.status != .succeeded {
            var again = step
            again.status = .pending
            again.waitingFor = nil
            // A rolled-back step's change was undone: it runs again.
            again.rollback = nil
            change.steps[index] = again
        }
        change.events = [RunEvent(sequence: events.count, step: nil, status: Self.resumed, at: now, message: "resumed from \(status.rawValue)")]
        return change
    }

    /// The status of the run-level event `run.resume` records.
    public static let resumed = "resumed"

    /// How many times the run was resumed.
    public var resumeCount: Int { events.filter { $0.step == nil && $0.target == nil && $0.status == Self.resumed }.count }
}

/// Where a run's log continues, as its owner knows it. The run's document
/// holds every change before entry `folded`; the entries `folded..<next`
/// are in the run's log, and `unfolded` is what they changed, merged.
public struct RunLogPosition: Sendable {
    public var folded: Int
    public var next: Int
    public var unfolded: RunChange

    public init(folded: Int, next: Int, unfolded: RunChange = RunChange()) {
        self.folded = folded
        self.next = next
        self.unfolded = unfolded
    }
}

extension RunStore {
    /// `apply` on a copy of `log`: where the log continues after `change`,
    /// or nil when `owner` does not hold the run any more.
    public func apply(_ change: RunChange, to id: String, owner: String, log: RunLogPosition) async throws(OrchestratorError) -> RunLogPosition? {
        var position = log
        return try await apply(change, to: id, owner: owner, log: &position) ? position : nil
    }
}

/// A run whose lease was just taken: the run as recorded, and where its
/// log continues (already fenced against the previous owner).
public struct ClaimedRun: Sendable {
    public var run: Run
    public var log: RunLogPosition

    public init(run: Run, log: RunLogPosition) {
        self.run = run
        self.log = log
    }
}

/// How far a watcher has read a run's events.
public struct RunEventCursor: Sendable, Equatable {
    /// The sequence of the next event to deliver.
    public var event: Int
    /// The first log entry that may still hold an event not delivered.
    public var logEntry: Int

    public init(fromEvent event: Int, logEntry: Int = 0) {
        self.event = event
        self.logEntry = logEntry
    }
}

/// What a watcher reads at a time.
public struct RunEventsPage: Sendable {
    /// The events after the cursor it was asked for, in order and without gaps.
    public var events: [RunEvent]
    public var cursor: RunEventCursor
    /// The run has ended and every event is delivered once this page is.
    public var finished: Bool

    public init(events: [RunEvent], cursor: RunEventCursor, finished: Bool) {
        self.events = events
        self.cursor = cursor
        self.finished = finished
    }
}

/// What a lease renewal learned.
public enum LeaseState: Sendable, Equatable {
    case held(cancelRequested: Bool)
    /// Another daemon owns the run now (or it was finished): stop touching it.
    case lost
}

/// A lease a run is stored with: `owner` holds it until `until` (the database server's time).
public struct RunLease: Sendable, Equatable {
    public var owner: String
    public var until: Date

    public init(owner: String, until: Date) {
        self.owner = owner
        self.until = until
    }
}

extension RunStore {
    public func listRuns(workflow: String?, status: RunStatus?, limit: Int, after: String?) async throws(OrchestratorError) -> Page<Run> {
        try await listRuns(workflow: workflow, status: status, since: nil, limit: limit, after: after)
    }

    public func createRun(_ run: Run) async throws(OrchestratorError) {
        try await createRun(run, heldBy: nil)
    }

    public func requeue(id: String, from status: RunStatus, eventCount: Int, change: RunChange) async throws(OrchestratorError) -> Bool {
        try await requeue(id: id, from: status, eventCount: eventCount, change: change, heldBy: nil)
    }
}

/// Where runs are kept. Every write by an executing daemon is fenced by its
/// owner id, so a daemon that lost its lease can no longer change the run.
public protocol RunStore: Sendable {
    /// Stores a new run, leased to `heldBy` if given (a run only that
    /// daemon can execute: it keeps its secret parameters). Conflict (with
    /// `requestId` in its details) when another run holds the same `requestId`.
    func createRun(_ run: Run, heldBy: RunLease?) async throws(OrchestratorError)
    /// The run that holds `requestId`, if one does.
    func run(requestId: String) async throws(OrchestratorError) -> Run?
    /// The run that holds `requestId` gives it up if it was created before
    /// `before` (a request id is remembered for a day), so a new run may take it.
    func releaseRequestId(_ requestId: String, createdBefore before: Date) async throws(OrchestratorError)
    func run(id: String) async throws(OrchestratorError) -> Run
    /// The runs a fleet run made for its targets, as summaries (no
    /// definition, outputs or events). Without `withSteps` only their own
    /// fields are read (status, target), which is cheap: what the fleet's
    /// executor polls; with it, their steps' statuses too.
    func members(of fleetRunId: String, withSteps: Bool) async throws(OrchestratorError) -> [Run]
    /// The statuses of these runs (those that exist): a look at a few
    /// members of a large fleet without reading every one.
    func statuses(of ids: [String]) async throws(OrchestratorError) -> [String: RunStatus]
    /// Newest first, fleet members left out (their fleet run lists them);
    /// `after` is the `next` cursor of the previous page. Items leave out
    /// the bulky parts (definition, outputs, events, a fleet's targets).
    func listRuns(workflow: String?, status: RunStatus?, since: Date?, limit: Int, after: String?) async throws(OrchestratorError) -> Page<Run>
    /// Up to `limit` runs (fleet members too) whose id starts with `prefix`
    /// (lower-case hex), newest first, as summaries: what a short id names.
    func runs(idPrefix prefix: String, limit: Int) async throws(OrchestratorError) -> [Run]
    /// The database server's clock, now: the one clock every daemon judges
    /// leases by (`until` and `now` below are in its time), whatever its
    /// own wall clock says.
    func serverTime() async throws(OrchestratorError) -> Date
    /// Takes the lease on an active run that nobody holds, that `owner` held
    /// before (a restart), or whose lease expired. Nil when someone else holds it.
    func claim(id: String, owner: String, until: Date, now: Date) async throws(OrchestratorError) -> ClaimedRun?
    /// Takes every lock of `names` for `holder` of run `runId`, or none of
    /// them. A lock is free when nobody holds it, when run `runId` holds it
    /// already (a run never waits for itself: `holder` joins the run's other
    /// holders), or when its holders' lease expired before `now`. Nil when
    /// taken; otherwise the first lock found held, and the run holding it.
    /// A lock is held under the run's lease: it lapses no sooner than the
    /// run's lease as stored (whatever `until` says), `renew` keeps it, and
    /// it ends with the owner's lease. What this call took is given back when it
    /// cannot take everything; what `runId` held before is kept.
    func acquireLocks(_ names: [String], runId: String, holder: LockHolder, owner: String, until: Date, now: Date) async throws(OrchestratorError) -> LockWait?
    /// Gives back what `release` names of run `runId`'s locks. Safe to
    /// repeat, and late: an attempt's token is its own.
    func releaseLocks(runId: String, _ release: LockRelease) async throws(OrchestratorError)
    /// Renews every lease `owner` holds among `ids` (and the locks held
    /// under them) in three operations, however many there are; a lease is
    /// only ever moved later, never earlier.
    func renew(ids: [String], owner: String, until: Date) async throws(OrchestratorError) -> [String: LeaseState]
    /// Records a change while `owner` holds the run, continuing its log at
    /// `log`, which moves on to where the log continues next; false (and
    /// `log` as it was) when `owner` does not hold the run any more. An
    /// error leaves `log` as it was too, and the call is safe to make again
    /// with it: a change is never recorded twice. `log` is extended in
    /// place: a caller that keeps no other copy of it spares a copy of
    /// everything changed since the last fold at every write.
    func apply(_ change: RunChange, to id: String, owner: String, log: inout RunLogPosition) async throws(OrchestratorError) -> Bool
    /// Ends a run whose progress the database refused to record for good
    /// (larger than its document limit, a value it rejects) if `owner`
    /// still holds it: its step records become `steps` (whole, outputs
    /// dropped), `change` is recorded (the failure, the end, and every event
    /// the log held) and the lease is dropped. The log is not continued
    /// (what was refused was to go there or be folded from it): the run's
    /// document is whole afterwards and entries below `log.next` are
    /// deleted. False when `owner` no longer holds the run.
    func endRefused(id: String, owner: String, steps: [RunStep], change: RunChange, log: RunLogPosition) async throws(OrchestratorError) -> Bool
    /// Active runs `owner` may claim now, oldest first.
    func claimable(owner: String, now: Date, limit: Int) async throws(OrchestratorError) -> [String]
    /// Ends a queued run that no daemon executes (nobody holds it, or its
    /// lease expired before `now`) if it still has `eventCount` events:
    /// records `change`, marks it cancel-requested and drops its lease, which
    /// fences a daemon whose claim expired before it started the run. False
    /// when the guard did not match (someone executes it, or it changed).
    func cancelIdle(id: String, eventCount: Int, change: RunChange, now: Date) async throws(OrchestratorError) -> Bool
    /// Marks an active run for cancellation, for its owner to act on. False
    /// when the run is no longer active.
    func flagCancel(id: String) async throws(OrchestratorError) -> Bool
    /// Puts an ended run back in the queue, if it is still `status` with
    /// `eventCount` events: records `change`, and clears its end, its cancel
    /// mark and its lease. False when the guard did not match.
    func requeue(id: String, from status: RunStatus, eventCount: Int, change: RunChange, heldBy: RunLease?) async throws(OrchestratorError) -> Bool
    func hasActiveRun(workflowId: String) async throws(OrchestratorError) -> Bool
    /// Records one person's decision on one attempt of an approval step, in
    /// that attempt's ballot (collection `approvals`, one document per run,
    /// step and attempt), while the ballot is open. Conflict when that uid
    /// decided on that attempt already, or when the ballot was closed (the
    /// step was settled meanwhile): a decision acknowledged is one counted.
    func recordDecision(_ decision: ApprovalDecision) async throws(OrchestratorError)
    /// Every decision on run `runId`'s approval steps, oldest first.
    func decisions(runId: String) async throws(OrchestratorError) -> [ApprovalDecision]
    /// Closes the ballot of one attempt (no decision is taken after) and
    /// returns its decisions: what the step is settled by.
    func closeBallot(runId: String, step: String, attempt: Int) async throws(OrchestratorError) -> [ApprovalDecision]
    /// The events after `cursor`, for watchers. While a run goes on its new
    /// events are in its log, which is cheap to read; its document (large,
    /// and written by the run itself) is read only when the log shows that
    /// a fold happened, or when `evenIfQuiet` (the end leaves the log quiet).
    func events(id: String, after cursor: RunEventCursor, evenIfQuiet: Bool) async throws(OrchestratorError) -> RunEventsPage
    /// Deletes what ended runs left in the log (their deletion at the end
    /// is best effort), except claim entries, which fence; returns how many.
    func sweepLogs() async throws(OrchestratorError) -> Int
    /// Deletes up to `limit` runs that ended before `before`, with all their
    /// log entries (claim entries too: nobody stalls that long), locks and
    /// approval decisions; returns how many.
    func removeEndedRuns(finishedBefore before: Date, limit: Int) async throws(OrchestratorError) -> Int
}
