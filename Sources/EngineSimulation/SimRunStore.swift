import Foundation
import InMemoryStorage
import OrchestratorEngine
import OrchestratorModel
import OrchestratorStorage

/// The faults of the database as the simulation plays them, shared by every
/// daemon's view of it.
final class SimDatabase: @unchecked Sendable {
    // Touched only from the simulation's thread.
    let world: SimWorld
    let runs: InMemoryRunStore
    var outageUntil: Duration = .zero
    /// Chance that a write lands but its reply is lost.
    var lostEngineReply = 0.0
    /// The same for the writes of requests (run.start, cancel, resume).
    var lostRequestReply = 0.0
    var latency: ClosedRange<Double> = 0...0.02
    /// Refuses for good the write that would end a run (as MongoDB does when
    /// a run's document would exceed its 16 MiB limit).
    var refusesRunEnds = false
    /// A daemon the database answers very slowly, and until when.
    var stalled: (daemon: String, until: Duration)?
    /// How long the answer to a run's insert takes to come back after the
    /// run is stored (for scenarios: what may happen meanwhile).
    var createAnswerDelay: Duration = .zero

    func latency(for daemon: String) -> ClosedRange<Double> {
        guard let stalled, stalled.daemon == daemon, world.time < stalled.until else { return latency }
        return 0...Double((stalled.until - world.time).components.seconds + 1)
    }
    /// The last daemon whose claim on each run succeeded: the fence holder.
    private(set) var fenceHolder: [String: String] = [:]
    /// Writes that landed (run, writer, log position): a retry of one is not a new write.
    private var landed: Set<String> = []
    private(set) var faults = 0
    /// Told when a run goes back in the queue (an operator resumed it).
    var requeued: (String) -> Void = { _ in }

    init(world: SimWorld) {
        self.world = world
        let holder = WorldRef(world)
        runs = InMemoryRunStore(
            betweenOperations: {
                // Between the operations of one method, others may write.
                await holder.world.sleep(holder.world.seconds(0...0.01), holder.always)
            },
            // The database server's clock is the simulation's, never skewed.
            clock: { holder.world.wallClock(skew: .zero) })
    }

    var isDown: Bool { world.time < outageUntil }

    func countFault() { faults += 1 }

    fileprivate func claimed(_ run: String, by owner: String) {
        fenceHolder[run] = owner
    }

    /// Notes a write that landed; true the first time.
    fileprivate func landedFirst(_ key: String) -> Bool {
        landed.insert(key).inserted
    }
}

/// Lets a closure the store keeps refer to the world.
private final class WorldRef: @unchecked Sendable {
    let world: SimWorld
    let always = Life(daemon: "database", number: 0)

    init(_ world: SimWorld) {
        self.world = world
    }
}

/// The secrets steps read as they start: every name's value is
/// `secret:<name>`, read from the database, so an outage or a slow server
/// meets a step's start there too.
struct SimSecrets: SecretSource {
    let database: SimDatabase
    let life: Life
    let owner: String

    static func value(of name: String) -> String { "secret:\(name)" }

    func reveal(_ names: [String]) async throws(OrchestratorError) -> [String: String] {
        let world = database.world
        await world.contact(life)
        await world.sleep(world.seconds(database.latency(for: owner)), life)
        if database.isDown { throw OrchestratorError(.storageUnavailable, "simulated outage") }
        await world.contact(life)
        return Dictionary(uniqueKeysWithValues: names.map { ($0, Self.value(of: $0)) })
    }
}

/// One daemon's view of the shared run store: every call is a contact with
/// the world (a life that is over stops there), takes a little time, fails
/// during an outage without writing, and may lose its reply after writing.
struct SimRunStore: RunStore {
    let database: SimDatabase
    let life: Life
    let owner: String

    private var world: SimWorld { database.world }

    private func call<T>(
        _ what: String, lostReply: Double = 0, _ body: () async throws(OrchestratorError) -> T
    ) async throws(OrchestratorError) -> T {
        await world.contact(life)
        await world.sleep(world.seconds(database.latency(for: owner)), life)
        if database.isDown { throw OrchestratorError(.storageUnavailable, "simulated outage") }
        let result = try await body()
        if world.chance(lostReply) {
            database.countFault()
            world.note("\(life.name) \(what): landed, reply lost")
            throw OrchestratorError(.outcomeUnknown, "simulated lost reply")
        }
        await world.contact(life)
        return result
    }

    func createRun(_ run: Run, heldBy lease: RunLease?) async throws(OrchestratorError) {
        try await call("createRun", lostReply: database.lostRequestReply) { () throws(OrchestratorError) in
            try await database.runs.createRun(run, heldBy: lease)
            // Stored leased to a daemon: as good as its claim.
            if let lease { database.claimed(run.id, by: lease.owner) }
        }
        if database.createAnswerDelay > .zero { await world.sleep(database.createAnswerDelay, life) }
    }

    func run(requestId: String) async throws(OrchestratorError) -> Run? {
        try await call("run(requestId:)") { () throws(OrchestratorError) in try await database.runs.run(requestId: requestId) }
    }

    func releaseRequestId(_ requestId: String, createdBefore before: Date) async throws(OrchestratorError) {
        try await call("releaseRequestId", lostReply: database.lostRequestReply) { () throws(OrchestratorError) in
            try await database.runs.releaseRequestId(requestId, createdBefore: before)
        }
    }

    func run(id: String) async throws(OrchestratorError) -> Run {
        try await call("run") { () throws(OrchestratorError) in try await database.runs.run(id: id) }
    }

    func listRuns(workflow: String?, status: RunStatus?, since: Date?, limit: Int, after: String?) async throws(OrchestratorError) -> Page<Run> {
        try await call("listRuns") { () throws(OrchestratorError) in
            try await database.runs.listRuns(workflow: workflow, status: status, since: since, limit: limit, after: after)
        }
    }

    func runs(idPrefix prefix: String, limit: Int) async throws(OrchestratorError) -> [Run] {
        try await call("runs(idPrefix:)") { () throws(OrchestratorError) in try await database.runs.runs(idPrefix: prefix, limit: limit) }
    }

    func members(of fleetRunId: String, withSteps: Bool) async throws(OrchestratorError) -> [Run] {
        try await call("members") { () throws(OrchestratorError) in try await database.runs.members(of: fleetRunId, withSteps: withSteps) }
    }

    func statuses(of ids: [String]) async throws(OrchestratorError) -> [String: RunStatus] {
        try await call("statuses") { () throws(OrchestratorError) in try await database.runs.statuses(of: ids) }
    }

    func acquireLocks(_ names: [String], runId: String, holder: LockHolder, owner: String, until: Date, now: Date) async throws(OrchestratorError) -> LockWait? {
        try await call("acquireLocks", lostReply: database.lostEngineReply) { () throws(OrchestratorError) in
            try await database.runs.acquireLocks(names, runId: runId, holder: holder, owner: owner, until: until, now: now)
        }
    }

    func releaseLocks(runId: String, _ release: LockRelease) async throws(OrchestratorError) {
        try await call("releaseLocks", lostReply: database.lostEngineReply) { () throws(OrchestratorError) in
            try await database.runs.releaseLocks(runId: runId, release)
        }
    }

    func serverTime() async throws(OrchestratorError) -> Date {
        try await call("serverTime") { () throws(OrchestratorError) in try await database.runs.serverTime() }
    }

    func claim(id: String, owner: String, until: Date, now: Date) async throws(OrchestratorError) -> ClaimedRun? {
        try await call("claim \(id)", lostReply: database.lostEngineReply) { () throws(OrchestratorError) in
            let claimed = try await database.runs.claim(id: id, owner: owner, until: until, now: now)
            if claimed != nil {
                database.claimed(id, by: owner)
                world.note("\(life.name) claimed \(id) until \(until.timeIntervalSince(SimWorld.epoch))")
            }
            return claimed
        }
    }

    func renew(ids: [String], owner: String, until: Date) async throws(OrchestratorError) -> [String: LeaseState] {
        try await call("renew", lostReply: database.lostEngineReply) { () throws(OrchestratorError) in
            try await database.runs.renew(ids: ids, owner: owner, until: until)
        }
    }

    /// Also checks that a fenced owner never writes: a write that lands for
    /// the first time must come from the daemon whose claim came last.
    func apply(_ change: RunChange, to id: String, owner: String, log: inout RunLogPosition) async throws(OrchestratorError) -> Bool {
        // A reply lost after the write landed leaves the caller's position as it was, as an error does.
        let position = log
        guard let next = try await call("apply to \(id)", lostReply: database.lostEngineReply, { () throws(OrchestratorError) in
            if database.refusesRunEnds, change.status?.isTerminal == true {
                throw OrchestratorError.validation([FieldError(field: "document", message: "simulated: larger than the 16 MiB document limit")])
            }
            let next = try await database.runs.apply(change, to: id, owner: owner, log: position)
            if next != nil, !change.isEmpty, database.landedFirst("\(id)/\(owner)/\(position.next)/\(change.touchesRun)") {
                let holder = database.fenceHolder[id]
                if holder != owner {
                    world.breach("a fenced owner wrote", "\(life.name) wrote to run \(id) at log \(position.next) after \(holder ?? "nobody") claimed it")
                }
            }
            return next
        }) else { return false }
        log = next
        return true
    }

    func endRefused(id: String, owner: String, steps: [RunStep], change: RunChange, log: RunLogPosition) async throws(OrchestratorError) -> Bool {
        try await call("endRefused \(id)", lostReply: database.lostEngineReply) { () throws(OrchestratorError) in
            try await database.runs.endRefused(id: id, owner: owner, steps: steps, change: change, log: log)
        }
    }

    func claimable(owner: String, now: Date, limit: Int) async throws(OrchestratorError) -> [String] {
        try await call("claimable") { () throws(OrchestratorError) in try await database.runs.claimable(owner: owner, now: now, limit: limit) }
    }

    func cancelIdle(id: String, eventCount: Int, change: RunChange, now: Date) async throws(OrchestratorError) -> Bool {
        try await call("cancelIdle \(id)", lostReply: database.lostRequestReply) { () throws(OrchestratorError) in
            let cancelled = try await database.runs.cancelIdle(id: id, eventCount: eventCount, change: change, now: now)
            // Clearing the lease fences whoever held it.
            if cancelled { database.claimed(id, by: "") }
            return cancelled
        }
    }

    func flagCancel(id: String) async throws(OrchestratorError) -> Bool {
        try await call("flagCancel \(id)", lostReply: database.lostRequestReply) { () throws(OrchestratorError) in try await database.runs.flagCancel(id: id) }
    }

    func requeue(id: String, from status: RunStatus, eventCount: Int, change: RunChange, heldBy lease: RunLease?) async throws(OrchestratorError) -> Bool {
        try await call("requeue \(id)", lostReply: database.lostRequestReply) { () throws(OrchestratorError) in
            let requeued = try await database.runs.requeue(id: id, from: status, eventCount: eventCount, change: change, heldBy: lease)
            if requeued { database.requeued(id) }
            if requeued, let lease { database.claimed(id, by: lease.owner) }
            return requeued
        }
    }

    func hasActiveRun(workflowId: String) async throws(OrchestratorError) -> Bool {
        try await call("hasActiveRun") { () throws(OrchestratorError) in try await database.runs.hasActiveRun(workflowId: workflowId) }
    }

    func events(id: String, after cursor: RunEventCursor, evenIfQuiet: Bool) async throws(OrchestratorError) -> RunEventsPage {
        try await call("events") { () throws(OrchestratorError) in try await database.runs.events(id: id, after: cursor, evenIfQuiet: evenIfQuiet) }
    }

    func recordDecision(_ decision: ApprovalDecision) async throws(OrchestratorError) {
        try await call("recordDecision") { () throws(OrchestratorError) in try await database.runs.recordDecision(decision) }
    }

    func decisions(runId: String) async throws(OrchestratorError) -> [ApprovalDecision] {
        try await call("decisions") { () throws(OrchestratorError) in try await database.runs.decisions(runId: runId) }
    }

    func closeBallot(runId: String, step: String, attempt: Int) async throws(OrchestratorError) -> [ApprovalDecision] {
        try await call("closeBallot") { () throws(OrchestratorError) in try await database.runs.closeBallot(runId: runId, step: step, attempt: attempt) }
    }

    func removeEndedRuns(finishedBefore before: Date, limit: Int) async throws(OrchestratorError) -> Int {
        try await call("removeEndedRuns") { () throws(OrchestratorError) in try await database.runs.removeEndedRuns(finishedBefore: before, limit: limit) }
    }

    func sweepLogs() async throws(OrchestratorError) -> Int {
        try await call("sweepLogs") { () throws(OrchestratorError) in try await database.runs.sweepLogs() }
    }
}
