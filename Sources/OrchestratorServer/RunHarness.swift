import Foundation
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

    /// Streams `run.event` notifications, read from the run's record in
    /// MongoDB (so every event was stored before it is sent, whichever daemon
    /// executes the run), until the run ends; then answers with the run.
    /// `fromSequence` (default 0) skips events already seen.
    func watch(_ p: RunWatchParams, _ c: CallContext) async throws(RPCError) -> Run {
        try await watchers.watching { () throws(RPCError) in try await stream(id: p.id, from: p.fromSequence, c) }
    }

    private func stream(id: String, from: Int, _ c: CallContext) async throws(RPCError) -> Run {
        var cursor = RunEventCursor(fromEvent: from)
        // The run's log is read often; its document (what a fold wrote, and
        // the end) at most once per `watchInterval` while the log is quiet.
        let clock = ContinuousClock()
        var lookedAt: ContinuousClock.Instant?
        while true {
            // A watcher that hung up is let go now, not at the run's next event;
            // so is every watcher once the daemon has drained and closes.
            guard c.isConnected(), !Task.isCancelled else {
                c.logger.debug("stopped watching run \(id): the watcher hung up", metadata: ["runId": "\(id)"])
                throw RPCError(.internalError, "the watcher went away")
            }
            let look = lookedAt.map { clock.now - $0 >= watchInterval } ?? true
            let page = try await domain { [cursor] () throws(OrchestratorError) in
                try await service.events(id, after: cursor, evenIfQuiet: look)
            }
            if look { lookedAt = clock.now }
            for event in page.events {
                guard await c.notify(RPCNotifications.runEvent.name, RunEventNotification(runId: id, event: event).notificationJSON) else {
                    throw RPCError(.internalError, "the watcher went away")
                }
            }
            cursor = page.cursor
            if page.finished {
                return try await domain { () throws(OrchestratorError) in try await service.get(id) }
            }
            if page.events.isEmpty { try? await Task.sleep(for: watchInterval / 2) }
        }
    }
}
