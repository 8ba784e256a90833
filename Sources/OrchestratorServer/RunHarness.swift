import Foundation
import OrchestratorEngine
import OrchestratorModel
import OrchestratorProtocol
import OrchestratorServices
import OrchestratorStorage

/// The `run.*` methods.
struct RunHarness: Sendable {
    let service: RunService
    /// How often a watcher looks for new events in MongoDB.
    let watchInterval: Duration
    /// How often at most a watcher sent things in quick succession is sent more (see `WatchPacing`).
    let watchPace: Duration
    let watchers: WatcherCount

    func start(_ p: RunStartParams, _ c: CallContext) async throws(RPCError) -> Run {
        let requester = Requester(uid: c.peer.uid, gid: c.peer.gid, pid: c.peer.pid)
        return try await domain { () throws(OrchestratorError) in
            try await service.start(
                workflow: p.workflow, version: p.version, params: p.params, requestId: p.requestId,
                fleet: p.targets.map { FleetRequest(selector: $0, batchSize: p.batchSize ?? .percent(100), maxFailPercentage: p.maxFailPercentage ?? 0) },
                requester: requester)
        }
    }

    func approve(_ p: RunDecisionParams, _ c: CallContext) async throws(RPCError) -> Run {
        try await decide(p, approve: true, c)
    }

    func reject(_ p: RunDecisionParams, _ c: CallContext) async throws(RPCError) -> Run {
        try await decide(p, approve: false, c)
    }

    private func decide(_ p: RunDecisionParams, approve: Bool, _ c: CallContext) async throws(RPCError) -> Run {
        let peer = c.peer
        let approver = Approver(uid: peer.uid, isAdmin: c.mayMutate) { group in
            guard let gid = Authorizer.groupID(group) else { return false }
            return peer.gid == gid || Authorizer.groups(of: peer).contains(gid)
        }
        return try await domain { () throws(OrchestratorError) in
            try await service.decide(p.id, step: p.step, approve: approve, comment: p.comment, by: approver)
        }
    }

    func target(_ p: RunTargetParams, _ c: CallContext) async throws(RPCError) -> Run {
        try await domain { () throws(OrchestratorError) in try await service.target(p.id, p.target) }
    }

    func resolve(_ p: RunResolveParams, _ c: CallContext) async throws(RPCError) -> Run {
        try await domain { () throws(OrchestratorError) in try await service.resolve(p.ref, workflow: p.workflow) }
    }

    func get(_ key: RunKey, _ c: CallContext) async throws(RPCError) -> Run {
        try await domain { () throws(OrchestratorError) in try await service.get(key.id) }
    }

    func list(_ p: RunListParams, _ c: CallContext) async throws(RPCError) -> Page<Run> {
        try await domain { () throws(OrchestratorError) in
            try await service.list(workflow: p.workflow, status: p.status, since: p.since, limit: p.limit, after: p.after)
        }
    }

    func cancel(_ key: RunKey, _ c: CallContext) async throws(RPCError) -> Run {
        try await domain { () throws(OrchestratorError) in try await service.cancel(key.id) }
    }

    func resume(_ key: RunResumeParams, _ c: CallContext) async throws(RPCError) -> Run {
        try await domain { () throws(OrchestratorError) in try await service.resume(key.id, params: key.params) }
    }

    /// Streams `run.event` notifications until the run ends; then answers
    /// with the run. Every event is stored before it is sent, whichever
    /// daemon executes the run: those of a run executing here come from its
    /// executor as it stores them, the rest from the run's record in MongoDB.
    /// `fromSequence` (default 0) skips events already seen.
    func watch(_ p: RunWatchParams, _ c: CallContext) async throws(RPCError) -> Run {
        // Ids are lower-case hex as stored: the feeds are keyed by them.
        let id = p.id.lowercased()
        return try await watchers.watching { () throws(RPCError) in
            try await stream(id: id, from: p.fromSequence, c) { events throws(RPCError) in try await send(events, of: id, c) }
        }
    }

    /// Streams `run.output` notifications, the lines the run's steps print,
    /// until the run ends; then answers with the run (see OutputFollower).
    func follow(_ p: RunFollowParams, _ c: CallContext) async throws(RPCError) -> Run {
        var p = p
        p.id = p.id.lowercased()
        // Subscribed before anything is read, so that no line printed after it is missed.
        let output = service.followOutput(p.id)
        defer { output.cancel() }
        let run = try await domain { [p] () throws(OrchestratorError) in try await service.get(p.id) }
        // A run that has ended is shown from its record alone, the same on
        // every daemon and however soon after its end: the lines its
        // executor here may hold for a few more milliseconds are not used.
        let live = run.status.isTerminal ? nil : output
        let follower = try OutputFollower(run: run, only: p, lines: live, service: service, context: c)
        return try await watchers.watching { [p] () throws(RPCError) in
            try await stream(id: p.id, from: 0, c, lines: live) { events throws(RPCError) in try await follower.pass(events) }
        }
    }

    /// Hands `deliver` the run's events, in order, until the run ends; wakes
    /// too for `lines` (events or not, `deliver([])` then sends them).
    private func stream(
        id: String, from: Int, _ c: CallContext, lines: Broadcast<OutputLine>.Subscription? = nil,
        deliver: ([RunEvent]) async throws(RPCError) -> Void
    ) async throws(RPCError) -> Run {
        // Subscribed before the first read, so that nothing stored after it is missed.
        let feed = service.follow(id)
        defer { feed.cancel() }
        // One for all the waits below: it keeps a timer on its way, not one per wait.
        let wakeUp = WakeUp()
        var cursor = RunEventCursor(fromEvent: from)
        // The run's log is read when the feed is silent or incomplete; its
        // document (what a fold wrote, and the end) at most once per
        // `watchInterval` while the log is quiet.
        let clock = ContinuousClock()
        var lookedAt: ContinuousClock.Instant?
        var heardAt = clock.now
        var read = true
        // How long the feed may be silent before the database is read. While
        // the run executes here, its executor publishes every write it
        // stores, and when it stops without publishing the run's end (it
        // learnt that a peer took the run over, a write MongoDB refused) the
        // feed wakes its watchers: a silence then means that nothing was
        // stored here (a peer's take-over is seen once the executor here
        // has learnt of it, at most a third of a lease), and the database is
        // read only after `quietest` of it (a run of many short steps cost
        // each of its watchers a read per step before: 245 finds for 20
        // runs of 5 steps). Otherwise after the shortest; and a silence
        // that a read confirms while the run executes here doubles it.
        let shortest = watchInterval / 2
        let quietest = watchInterval * 8
        var quiet = shortest
        var confirming = false
        var pacing = WatchPacing(interval: watchPace)
        /// Delivers what the feed brought (`gathered`: during a hold); true when it ended the run.
        func consume(_ fed: (events: [RunEvent], ended: Bool, logNext: Int), gathered: Bool) async throws(RPCError) -> Bool {
            quiet = service.isPublishedHere(id) ? quietest : shortest
            try await deliver(fed.events)
            if !fed.events.isEmpty { pacing.sent(at: clock.now, gathered: gathered) }
            cursor.event += fed.events.count
            // The log entries before the feed's position hold nothing undelivered: a later read starts after them.
            cursor.logEntry = max(cursor.logEntry, fed.logNext)
            heardAt = clock.now
            read = false
            return fed.ended
        }
        /// The run, if it has really ended: the end the feed brought may be
        /// an earlier one (the run was resumed since, before the executor
        /// that ended it here had stopped); then the database is read on.
        func ended() async throws(RPCError) -> Run? {
            let run = try await finalRun(id)
            guard run.status.isTerminal else {
                quiet = shortest
                read = true
                return nil
            }
            return run
        }
        // A run executing here: its feed holds what was stored so far, and
        // the database is read first only if that does not continue the cursor.
        if let fed = Self.continuation(of: cursor, in: feed.take()), try await consume(fed, gathered: false), let run = try await ended() {
            return run
        }
        while true {
            // A watcher that hung up is let go now, not at the run's next event;
            // so is every watcher once the daemon has drained and closes.
            guard c.isConnected(), !Task.isCancelled else {
                c.logger.debug("stopped watching run \(id): the watcher hung up", metadata: ["runId": "\(id)"])
                throw RPCError(.internalError, "the watcher went away")
            }
            if read {
                let look = lookedAt.map { clock.now - $0 >= watchInterval } ?? true
                let page = try await domain { [cursor] () throws(OrchestratorError) in
                    try await service.events(id, after: cursor, evenIfQuiet: look)
                }
                if look { lookedAt = clock.now }
                try await deliver(page.events)
                cursor = page.cursor
                if page.finished { return try await finalRun(id) }
                heardAt = clock.now
                quiet = confirming && page.events.isEmpty ? min(quiet * 2, quietest) : shortest
            }
            // What the run does during a hold waits in the feed (and in `lines`), and the wait below returns at once for it.
            let hold = pacing.hold(at: clock.now)
            if hold > .zero { await c.pause(hold) }
            let atOnce = if let lines {
                await wakeUp.wait(for: [feed, lines], upTo: max(quiet - (clock.now - heardAt), .zero))
            } else {
                await wakeUp.wait(for: [feed], upTo: quiet)
            }
            let gathered = hold > .zero && atOnce
            if hold > .zero && !atOnce { pacing.gatheredNothing() }
            let taken = feed.take()
            if taken.items.isEmpty, taken.complete, clock.now - heardAt < quiet {
                // Woken by lines only: sent, and the database is not read for them.
                try await deliver([])
                // A watch without lines sent nothing here (a ring left from an earlier wait woke it): no send to pace.
                if lines != nil { pacing.sent(at: clock.now, gathered: gathered) }
                read = false
                continue
            }
            guard let fed = Self.continuation(of: cursor, in: taken) else {
                // Only the silence of an executor here may be confirmed less and less often.
                confirming = taken.items.isEmpty && taken.complete && service.isPublishedHere(id)
                read = true
                continue
            }
            if try await consume(fed, gathered: gathered), let run = try await ended() { return run }
        }
    }

    /// What the feed brought that continues `cursor` without a gap, whether
    /// the run ended with it, and where the run's log went on after it; nil
    /// when the database must be read (nothing came, some was dropped, or a gap).
    static func continuation(
        of cursor: RunEventCursor, in taken: (items: [RunFeed.Update], complete: Bool)
    ) -> (events: [RunEvent], ended: Bool, logNext: Int)? {
        guard !taken.items.isEmpty, taken.complete else { return nil }
        var next = cursor.event
        var events: [RunEvent] = []
        var logNext = cursor.logEntry
        for update in taken.items {
            for event in update.events where event.sequence >= next {
                guard event.sequence == next else { return nil }
                events.append(event)
                next += 1
            }
            logNext = max(logNext, update.logNext)
            if update.ended { return (events, true, logNext) }
        }
        return (events, false, logNext)
    }

    private func send(_ events: [RunEvent], of id: String, _ c: CallContext) async throws(RPCError) {
        // The events of one write go out together: one write to the socket, one wake-up of the watcher.
        guard !events.isEmpty else { return }
        var lines: [UInt8] = []
        lines.reserveCapacity(256 * events.count)
        for event in events {
            RunEventNotification(runId: id, event: event).appendNotification(to: &lines)
            lines.append(UInt8(ascii: "\n"))
        }
        guard await c.sendLines(lines) else {
            throw RPCError(.internalError, "the watcher went away")
        }
    }

    private func finalRun(_ id: String) async throws(RPCError) -> Run {
        try await domain { () throws(OrchestratorError) in try await service.get(id) }
    }
}
