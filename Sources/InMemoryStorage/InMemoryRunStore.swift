import Foundation
import OrchestratorModel
import OrchestratorStorage
import Synchronization

/// Runs in memory, for tests and the simulation: the same guarded writes as
/// the MongoDB store, checked the same way. A run's document holds its lease
/// (`owner`, `leaseExpiresAt`) and how far its log is folded into it
/// (`logNext`, `logWriter`); the log's entries are numbered per run and a
/// number can be taken once (MongoDB's unique (runId, seq) index), which is
/// the fence a take-over writes its claim entry into.
public final class InMemoryRunStore: RunStore {
    struct Document {
        var run: Run
        var owner: String?
        var leaseExpiresAt: Date?
        var logNext = 0
        var logWriter: String?
    }

    struct Entry {
        var writer: String
        var change: RunChange
        var claim: Bool
    }

    struct Lock {
        var runId: String
        /// `LockHolder` tokens, in the order they came.
        var holders: [String]
        var owner: String
        var leaseExpiresAt: Date
        /// The run waiting for it that gets it next (the oldest that asked), until when it keeps asking.
        var next: (runId: String, until: Date)?
    }

    struct State {
        var documents: [String: Document] = [:]
        var log: [String: [Int: Entry]] = [:]
        var locks: [String: Lock] = [:]
        var decisions: [ApprovalDecision] = []
        /// Ballots closed, by "run/step/attempt".
        var closedBallots: Set<String> = []
    }

    private let state = Mutex(State())
    private static let claimAttempts = 8
    /// Awaited between the operations of a method that MongoDB performs in
    /// several: where a simulation lets other writers in.
    private let betweenOperations: @Sendable () async -> Void
    /// The database server's clock (a simulation's, or the machine's).
    private let clock: @Sendable () -> Date

    public init(betweenOperations: @escaping @Sendable () async -> Void = {}, clock: @escaping @Sendable () -> Date = { Date() }) {
        self.betweenOperations = betweenOperations
        self.clock = clock
    }

    // MARK: - What tests inspect

    /// The lease as stored: who holds the run, until when.
    public func lease(of id: String) -> (owner: String?, expiresAt: Date?)? {
        state.withLock { state in state.documents[id].map { ($0.owner, $0.leaseExpiresAt) } }
    }

    /// The run as a reader would see it now, or nil.
    public func snapshot(_ id: String) -> Run? {
        state.withLock { Self.load($0, id)?.0 }
    }

    /// Every run's id, oldest first.
    public var allRunIds: [String] { state.withLock { $0.documents.keys.sorted() } }

    /// Whether every run has ended (a run's status is always in its document: changing it folds the log).
    public var everyRunEnded: Bool { state.withLock { $0.documents.values.allSatisfy { $0.run.status.isTerminal } } }

    // MARK: - RunStore

    public func createRun(_ run: Run, heldBy lease: RunLease?) async throws(OrchestratorError) {
        try state.withLock { state throws(OrchestratorError) in
            guard state.documents[run.id] == nil else { throw OrchestratorError.conflict("a run with id \(run.id) already exists") }
            if let requestId = run.requestId, state.documents.values.contains(where: { $0.run.requestId == requestId }) {
                throw OrchestratorError.conflict("another run holds request id '\(requestId)'", details: ["requestId": requestId])
            }
            state.documents[run.id] = Document(run: run, owner: lease?.owner, leaseExpiresAt: lease?.until)
        }
    }

    public func run(requestId: String) async throws(OrchestratorError) -> Run? {
        let id = state.withLock { state in state.documents.values.first { $0.run.requestId == requestId }?.run.id }
        guard let id else { return nil }
        return try await run(id: id)
    }

    public func releaseRequestId(_ requestId: String, createdBefore before: Date) async throws(OrchestratorError) {
        state.withLock { state in
            for (id, document) in state.documents where document.run.requestId == requestId && document.run.createdAt < before {
                state.documents[id]?.run.requestId = nil
            }
        }
    }

    public func run(id: String) async throws(OrchestratorError) -> Run {
        guard let (run, _) = await read(id) else { throw OrchestratorError.notFound("run", id) }
        return run
    }

    public func listRuns(workflow: String?, status: RunStatus?, since: Date?, limit: Int, after: String?) async throws(OrchestratorError) -> Page<Run> {
        state.withLock { state in
            let matching = state.documents.values
                .filter { $0.run.membership == nil }
                .filter { since == nil || $0.run.createdAt >= since! }
                .filter { workflow == nil || $0.run.workflowName == workflow }
                .filter { status == nil || $0.run.status == status }
                .filter { after == nil || $0.run.id < after! }
                .sorted { $0.run.id > $1.run.id }
            let items = matching.prefix(limit).map { document -> Run in
                Self.summary(Self.load(state, document.run.id)?.0 ?? document.run)
            }
            return Page(items: Array(items), next: matching.count > limit ? items.last?.id : nil)
        }
    }

    public func runs(idPrefix prefix: String, limit: Int) async throws(OrchestratorError) -> [Run] {
        state.withLock { state in
            state.documents.values.filter { $0.run.id.hasPrefix(prefix) }.sorted { $0.run.id > $1.run.id }.prefix(limit).map { document in
                Self.summary(Self.load(state, document.run.id)?.0 ?? document.run)
            }
        }
    }

    public func members(of fleetRunId: String, withSteps: Bool) async throws(OrchestratorError) -> [Run] {
        state.withLock { state in
            state.documents.values.filter { $0.run.membership?.fleetRunId == fleetRunId }.sorted { $0.run.id < $1.run.id }.map { document in
                var run = Self.summary(Self.load(state, document.run.id)?.0 ?? document.run)
                if !withSteps { run.steps = [] }
                return run
            }
        }
    }

    public func statuses(of ids: [String]) async throws(OrchestratorError) -> [String: RunStatus] {
        state.withLock { state in
            var statuses: [String: RunStatus] = [:]
            for id in ids { if let document = state.documents[id] { statuses[id] = document.run.status } }
            return statuses
        }
    }

    /// What listings show of a run: no definition, outputs, events or fleet targets.
    private static func summary(_ full: Run) -> Run {
        var run = full
        run.definition = []
        run.events = []
        run.fleet?.targets = []
        for index in run.steps.indices { (run.steps[index].stdout, run.steps[index].stderr) = ("", "") }
        return run
    }

    public func serverTime() async throws(OrchestratorError) -> Date {
        clock().milliseconds
    }

    public func claim(id: String, owner: String, until: Date, now: Date) async throws(OrchestratorError) -> ClaimedRun? {
        // One operation each, as in MongoDB, so that other writers can come in between.
        let queued = state.withLock { state -> Bool? in
            guard var document = state.documents[id], document.run.status.isActive, Self.claimable(document, by: owner, now: now) else { return nil }
            document.owner = owner
            document.leaseExpiresAt = until
            state.documents[id] = document
            return document.run.status == .queued
        }
        guard let queued else { return nil }
        await betweenOperations()
        // As in MongoDB: a queued run has nothing in its log to fold or to fence.
        if queued, let document = state.withLock({ $0.documents[id] }), document.run.status == .queued {
            return ClaimedRun(run: document.run, log: RunLogPosition(folded: document.logNext, next: document.logNext))
        }
        for _ in 0..<Self.claimAttempts {
            guard let (run, position) = await read(id) else { return nil }
            await betweenOperations()
            guard state.withLock({ Self.append(&$0, RunChange(), id, owner, at: position.next, claim: true) }) else { continue }
            return ClaimedRun(run: run, log: RunLogPosition(folded: position.folded, next: position.next + 1, unfolded: position.unfolded))
        }
        return nil
    }

    /// The run as `load` tells it, its log read before its document as MongoRunStore reads them.
    private func read(_ id: String) async -> (Run, RunLogPosition)? {
        let entries = state.withLock { $0.log[id] ?? [:] }
        await betweenOperations()
        return state.withLock { state -> (Run, RunLogPosition)? in
            var snapshot = state
            snapshot.log[id] = entries
            return Self.load(snapshot, id)
        }
    }

    public func renew(ids: [String], owner: String, until: Date) async throws(OrchestratorError) -> [String: LeaseState] {
        state.withLock { state in
            var states: [String: LeaseState] = [:]
            for id in ids {
                guard var document = state.documents[id], document.owner == owner, document.run.status.isActive else {
                    states[id] = .lost
                    continue
                }
                // Only ever later, as MongoRunStore's `$max`.
                document.leaseExpiresAt = max(document.leaseExpiresAt ?? until, until)
                state.documents[id] = document
                states[id] = .held(cancelRequested: document.run.cancelRequested)
                for (name, lock) in state.locks where lock.runId == id {
                    state.locks[name]?.leaseExpiresAt = max(lock.leaseExpiresAt, until)
                    state.locks[name]?.owner = owner
                }
            }
            return states
        }
    }

    public func acquireLocks(_ names: [String], runId: String, holder: LockHolder, owner: String, until: Date, now: Date) async throws(OrchestratorError) -> LockWait? {
        state.withLock { state in
            // Promised to an older run that waits for it and still asks.
            func promisedElsewhere(_ lock: Lock) -> Bool { lock.next.map { $0.runId < runId && $0.until >= now } ?? false }
            // All or none, as MongoRunStore: checked before any is taken, as one operation here.
            for name in Set(names).sorted() {
                guard var lock = state.locks[name] else { continue }
                if lock.runId == runId && (!lock.holders.isEmpty || !promisedElsewhere(lock)) { continue }
                let held = !lock.holders.isEmpty && lock.leaseExpiresAt >= now
                if !held && !promisedElsewhere(lock) { continue }
                // Waits, and asks to be next: the oldest run waiting gets it first.
                if let next = lock.next, next.runId < runId, next.until >= now {} else { lock.next = (runId, until) }
                state.locks[name] = lock
                if held && lock.runId != runId { return LockHolder.wait(for: name, runId: lock.runId, tokens: lock.holders) }
                return LockWait(lock: name, runId: lock.next?.runId ?? "")
            }
            // Never lapsing before the lease its holder acts under (as MongoRunStore).
            let until = max(until, state.documents[runId]?.leaseExpiresAt ?? until)
            for name in Set(names) {
                if var lock = state.locks[name], lock.runId == runId {
                    if !lock.holders.contains(holder.token) { lock.holders.append(holder.token) }
                    lock.owner = owner
                    lock.leaseExpiresAt = max(lock.leaseExpiresAt, until)
                    if lock.next?.runId == runId { lock.next = nil }
                    state.locks[name] = lock
                } else {
                    state.locks[name] = Lock(runId: runId, holders: [holder.token], owner: owner, leaseExpiresAt: until)
                }
            }
            return nil
        }
    }

    public func releaseLocks(runId: String, _ release: LockRelease) async throws(OrchestratorError) {
        state.withLock { state in
            for (name, var lock) in state.locks where lock.runId == runId {
                lock.holders.removeAll(where: release.drops)
                if release.endsTheRun, lock.next?.runId == runId { lock.next = nil }
                // Kept while a waiting run is promised it.
                state.locks[name] = lock.holders.isEmpty && lock.next == nil ? nil : lock
            }
            if release.endsTheRun {
                for (name, lock) in state.locks where lock.next?.runId == runId { state.locks[name]?.next = nil }
            }
        }
    }

    /// Who holds each lock now, for tests and the simulation's invariants.
    public var lockHolders: [String: (runId: String, holders: [String])] {
        state.withLock { $0.locks.mapValues { ($0.runId, $0.holders) } }
    }

    public func apply(_ change: RunChange, to id: String, owner: String, log position: inout RunLogPosition) async throws(OrchestratorError) -> Bool {
        guard !change.isEmpty else { return true }
        if change.touchesRun {
            guard let next = state.withLock({ state in Self.fold(&state, change, id, owner, position) }) else { return false }
            position = next
            return true
        }
        let seq = position.next
        guard state.withLock({ state in Self.append(&state, change, id, owner, at: seq) }) else { return false }
        position.unfolded.merge(change)
        position.next += 1
        return true
    }

    public func endRefused(id: String, owner: String, steps: [RunStep], change: RunChange, log: RunLogPosition) async throws(OrchestratorError) -> Bool {
        state.withLock { state in
            guard var document = state.documents[id], document.owner == owner else { return false }
            var ending = change
            ending.steps = [:]
            document.run.steps = steps
            document.run.apply(ending)
            document.run.cancelRequested = false
            document.owner = nil
            document.leaseExpiresAt = nil
            document.logNext = log.next
            document.logWriter = owner
            state.documents[id] = document
            state.log[id] = state.log[id]?.filter { $0.key >= log.next || $0.value.claim }
            return true
        }
    }

    public func removeEndedRuns(finishedBefore before: Date, limit: Int) async throws(OrchestratorError) -> Int {
        state.withLock { state in
            // A fleet's members go with it, never before it (as MongoRunStore).
            let old = Set(state.documents.values.filter {
                $0.run.membership == nil && $0.run.status.isTerminal && ($0.run.finishedAt.map { $0 < before } ?? false)
            }.map(\.run.id).sorted().prefix(limit))
            let members = state.documents.values.filter { $0.run.status.isTerminal && $0.run.membership.map { old.contains($0.fleetRunId) } ?? false }
            let gone = old.union(members.map(\.run.id))
            for id in gone {
                state.documents[id] = nil
                state.log[id] = nil
            }
            state.locks = state.locks.filter { !gone.contains($0.value.runId) }
            state.decisions.removeAll { gone.contains($0.runId) }
            state.closedBallots = state.closedBallots.filter { ballot in !gone.contains(where: { ballot.hasPrefix("\($0)/") }) }
            return gone.count
        }
    }

    public func claimable(owner: String, now: Date, limit: Int) async throws(OrchestratorError) -> [String] {
        state.withLock { state in
            Array(state.documents.values.filter { $0.run.status.isActive && Self.claimable($0, by: owner, now: now) }.map(\.run.id).sorted().prefix(limit))
        }
    }

    public func cancelIdle(id: String, eventCount: Int, change: RunChange, now: Date) async throws(OrchestratorError) -> Bool {
        changeUnleased(id, change, if: { document in
            document.run.status == .queued && document.run.events.count == eventCount
                && (document.owner == nil || document.leaseExpiresAt.map { $0 < now } == true)
        }) { $0.cancelRequested = true }
    }

    public func flagCancel(id: String) async throws(OrchestratorError) -> Bool {
        state.withLock { state in
            guard state.documents[id]?.run.status.isActive == true else { return false }
            state.documents[id]?.run.cancelRequested = true
            return true
        }
    }

    public func requeue(id: String, from status: RunStatus, eventCount: Int, change: RunChange, heldBy lease: RunLease?) async throws(OrchestratorError) -> Bool {
        changeUnleased(id, change, if: { $0.run.status == status && $0.run.events.count == eventCount }, leasedTo: lease) { run in
            run.status = .queued
            run.finishedAt = nil
            run.cancelRequested = false
            if let lease { run.keeper = lease.owner }
        }
    }

    /// One guarded write of a run no daemon executes: `change`, then `also`,
    /// and no lease afterwards. False when the guard did not match.
    private func changeUnleased(
        _ id: String, _ change: RunChange, if matches: (Document) -> Bool, leasedTo lease: RunLease? = nil, also: (inout Run) -> Void
    ) -> Bool {
        state.withLock { state in
            guard var document = state.documents[id], matches(document) else { return false }
            document.run.apply(change)
            also(&document.run)
            document.owner = lease?.owner
            document.leaseExpiresAt = lease?.until
            state.documents[id] = document
            return true
        }
    }

    public func recordDecision(_ decision: ApprovalDecision) async throws(OrchestratorError) {
        try state.withLock { state throws(OrchestratorError) in
            guard !state.decisions.contains(where: {
                ($0.runId, $0.step, $0.attempt, $0.uid) == (decision.runId, decision.step, decision.attempt, decision.uid)
            }) else { throw .alreadyDecided(decision) }
            guard !state.closedBallots.contains("\(decision.runId)/\(decision.step)/\(decision.attempt)") else { throw .ballotClosed(decision) }
            state.decisions.append(decision)
        }
    }

    public func closeBallot(runId: String, step: String, attempt: Int) async throws(OrchestratorError) -> [ApprovalDecision] {
        state.withLock { state in
            state.closedBallots.insert("\(runId)/\(step)/\(attempt)")
            return state.decisions.filter { ($0.runId, $0.step, $0.attempt) == (runId, step, attempt) }.sorted { ($0.at, $0.uid) < ($1.at, $1.uid) }
        }
    }

    public func decisions(runId: String) async throws(OrchestratorError) -> [ApprovalDecision] {
        state.withLock { state in state.decisions.filter { $0.runId == runId }.sorted { ($0.at, $0.uid) < ($1.at, $1.uid) } }
    }

    public func hasActiveRun(workflowId: String) async throws(OrchestratorError) -> Bool {
        state.withLock { state in state.documents.values.contains { $0.run.workflowId == workflowId && $0.run.status.isActive } }
    }

    /// The same answers as the MongoDB store's, read at once from the run
    /// as its log and document tell it.
    public func events(id: String, after cursor: RunEventCursor, evenIfQuiet: Bool) async throws(OrchestratorError) -> RunEventsPage {
        try state.withLock { state throws(OrchestratorError) in
            guard let (run, _) = Self.load(state, id) else { throw OrchestratorError.notFound("run", id) }
            let events = run.events.filter { $0.sequence >= cursor.event }.sorted { $0.sequence < $1.sequence }
            let next = RunEventCursor(fromEvent: cursor.event + events.count, logEntry: cursor.logEntry)
            return RunEventsPage(events: events, cursor: next, finished: run.status.isTerminal)
        }
    }

    public func sweepLogs() async throws(OrchestratorError) -> Int {
        state.withLock { state in
            var removed = 0
            for (id, entries) in state.log {
                guard let document = state.documents[id], document.run.status.isTerminal else { continue }
                let spent = entries.filter { $0.key < document.logNext && !$0.value.claim }.map(\.key)
                for seq in spent { state.log[id]?[seq] = nil }
                removed += spent.count
            }
            return removed
        }
    }

    // MARK: - The log

    private static func claimable(_ document: Document, by owner: String, now: Date) -> Bool {
        document.owner == owner || document.owner == nil || (document.leaseExpiresAt.map { $0 < now } ?? false)
    }

    /// The run with its log folded in: only entries that continue `logNext` without a gap.
    private static func load(_ state: State, _ id: String) -> (Run, RunLogPosition)? {
        guard let document = state.documents[id] else { return nil }
        var run = document.run
        var position = RunLogPosition(folded: document.logNext, next: document.logNext)
        let entries = state.log[id] ?? [:]
        while let entry = entries[position.next] {
            run.apply(entry.change)
            position.unfolded.merge(entry.change)
            position.next += 1
        }
        return (run, position)
    }

    /// The log's next entry; nil when the number is taken by another writer.
    private static func append(_ state: inout State, _ change: RunChange, _ id: String, _ owner: String, at seq: Int, claim: Bool = false) -> Bool {
        if let taken = state.log[id]?[seq] {
            // Taken by this very write when an earlier attempt landed but its answer was lost.
            guard taken.writer == owner else { return false }
        } else {
            state.log[id, default: [:]][seq] = Entry(writer: owner, change: change, claim: claim)
        }
        return true
    }

    /// The log so far and `change` into the run's document, guarded by the
    /// owner and the fold's position, as MongoRunStore does.
    private static func fold(_ state: inout State, _ change: RunChange, _ id: String, _ owner: String, _ position: RunLogPosition) -> RunLogPosition? {
        guard var document = state.documents[id] else { return nil }
        let logNext = position.next + 1
        guard document.owner == owner, document.logNext == position.folded else {
            // Done already when an earlier attempt landed but its answer was lost; else the run is someone else's.
            guard document.logNext == logNext, document.logWriter == owner else { return nil }
            return RunLogPosition(folded: logNext, next: logNext)
        }
        var merged = position.unfolded
        merged.merge(change)
        document.run.apply(merged)
        document.logNext = logNext
        document.logWriter = owner
        if merged.status?.isTerminal == true {
            document.owner = nil
            document.leaseExpiresAt = nil
        }
        state.documents[id] = document
        if change.status?.isTerminal == true {
            state.log[id] = state.log[id]?.filter { $0.key >= logNext || $0.value.claim }
        }
        return RunLogPosition(folded: logNext, next: logNext)
    }
}
