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

    func get(_ key: RunKey, _ c: CallContext) async throws(RPCError) -> Run {
        try await domain { () throws(OrchestratorError) in try await service.get(key.id) }
    }

    func list(_ p: RunListParams, _ c: CallContext) async throws(RPCError) -> Page<Run> {
        try await domain { () throws(OrchestratorError) in
            try await service.list(workflow: p.workflow, status: p.status, limit: p.limit, after: p.after)
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
        try await watchers.watching { () throws(RPCError) in try await stream(id: p.id, from: p.fromSequence, c) }
    }

    private func stream(id: String, from: Int, _ c: CallContext) async throws(RPCError) -> Run {
        // Subscribed before the first read, so that nothing stored after it is missed.
        let feed = service.follow(id)
        defer { feed.cancel() }
        var cursor = RunEventCursor(fromEvent: from)
        // The run's log is read when the feed is silent or incomplete; its
        // document (what a fold wrote, and the end) at most once per
        // `watchInterval` while the log is quiet.
        let clock = ContinuousClock()
        var lookedAt: ContinuousClock.Instant?
        var read = true
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
                try await send(page.events, of: id, c)
                cursor = page.cursor
                if page.finished { return try await finalRun(id) }
            }
            await feed.wait(upTo: watchInterval / 2)
            guard let fed = Self.continuation(of: cursor, in: feed.take()) else {
                read = true
                continue
            }
            try await send(fed.events, of: id, c)
            cursor.event += fed.events.count
            if fed.ended { return try await finalRun(id) }
            read = false
        }
    }

    /// What the feed brought that continues `cursor` without a gap, and
    /// whether the run ended with it; nil when the database must be read
    /// (nothing came, some was dropped, or a gap).
    static func continuation(of cursor: RunEventCursor, in taken: (updates: [RunFeed.Update], complete: Bool)) -> (events: [RunEvent], ended: Bool)? {
        guard !taken.updates.isEmpty, taken.complete else { return nil }
        var next = cursor.event
        var events: [RunEvent] = []
        for update in taken.updates {
            for event in update.events where event.sequence >= next {
                guard event.sequence == next else { return nil }
                events.append(event)
                next += 1
            }
            if update.ended { return (events, true) }
        }
        return (events, false)
    }

    private func send(_ events: [RunEvent], of id: String, _ c: CallContext) async throws(RPCError) {
        for event in events {
            guard await c.notify(RPCNotifications.runEvent.name, RunEventNotification(runId: id, event: event).notificationJSON) else {
                throw RPCError(.internalError, "the watcher went away")
            }
        }
    }

    private func finalRun(_ id: String) async throws(RPCError) -> Run {
        try await domain { () throws(OrchestratorError) in try await service.get(id) }
    }
}
