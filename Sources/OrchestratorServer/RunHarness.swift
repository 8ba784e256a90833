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

    func start(_ p: ParamReader, _ c: CallContext) async throws(RPCError) -> JSONValue {
        try p.allowOnly(["workflow", "params"])
        let workflow = try p.string("workflow")
        let params = try p.optionalStringMap("params") ?? [:]
        let requester = Requester(uid: c.peer.uid, gid: c.peer.gid, pid: c.peer.pid)
        return try await domain { () throws(OrchestratorError) in
            try await service.start(workflow: workflow, params: params, requester: requester)
        }.json()
    }

    func get(_ p: ParamReader, _ c: CallContext) async throws(RPCError) -> JSONValue {
        try p.allowOnly(["id"])
        let id = try p.string("id")
        return try await domain { () throws(OrchestratorError) in try await service.get(id) }.json()
    }

    func list(_ p: ParamReader, _ c: CallContext) async throws(RPCError) -> JSONValue {
        try p.allowOnly(["workflow", "status", "limit", "after"])
        let workflow = try p.optionalString("workflow")
        let status = try p.optionalString("status")
        guard status == nil || RunStatus(rawValue: status ?? "") != nil else {
            throw .invalidParams("invalid params: status must be one of \(RunStatus.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let limit = try p.optionalInt("limit") ?? Limits.defaultPageSize
        let after = try p.optionalString("after")
        let page = try await domain { () throws(OrchestratorError) in
            try await service.list(workflow: workflow, status: status.flatMap(RunStatus.init(rawValue:)), limit: limit, after: after)
        }
        return ["items": .array(page.items.map { $0.json(summary: true) }), "next": JSONValue(page.next)]
    }

    func cancel(_ p: ParamReader, _ c: CallContext) async throws(RPCError) -> JSONValue {
        try p.allowOnly(["id"])
        let id = try p.string("id")
        return try await domain { () throws(OrchestratorError) in try await service.cancel(id) }.json()
    }

    func resume(_ p: ParamReader, _ c: CallContext) async throws(RPCError) -> JSONValue {
        try p.allowOnly(["id"])
        let id = try p.string("id")
        return try await domain { () throws(OrchestratorError) in try await service.resume(id) }.json()
    }

    /// Streams `run.event` notifications, read from the run's record in
    /// MongoDB (so every event was stored before it is sent, whichever daemon
    /// executes the run), until the run ends; then answers with the run.
    /// `fromSequence` (default 0) skips events already seen.
    func watch(_ p: ParamReader, _ c: CallContext) async throws(RPCError) -> JSONValue {
        try p.allowOnly(["id", "fromSequence"])
        let id = try p.string("id")
        let from = max(try p.optionalInt("fromSequence") ?? 0, 0)
        return try await watchers.watching { () throws(RPCError) in try await stream(id: id, from: from, c) }
    }

    private func stream(id: String, from: Int, _ c: CallContext) async throws(RPCError) -> JSONValue {
        var cursor = RunEventCursor(fromEvent: from)
        // The run's log is read often; its document (what a fold wrote, and
        // the end) at most once per `watchInterval` while the log is quiet.
        let clock = ContinuousClock()
        var lookedAt: ContinuousClock.Instant?
        while true {
            // A watcher that hung up is let go now, not at the run's next event.
            guard c.isConnected() else {
                c.logger.debug("stopped watching run \(id): the watcher hung up", metadata: ["runId": "\(id)"])
                throw RPCError(.internalError, "the watcher went away")
            }
            let look = lookedAt.map { clock.now - $0 >= watchInterval } ?? true
            let page = try await domain { [cursor] () throws(OrchestratorError) in
                try await service.events(id, after: cursor, evenIfQuiet: look)
            }
            if look { lookedAt = clock.now }
            for event in page.events {
                guard await c.notify(Method.runEventNotification, event.json(runId: id)) else {
                    throw RPCError(.internalError, "the watcher went away")
                }
            }
            cursor = page.cursor
            if page.finished {
                return try await domain { () throws(OrchestratorError) in try await service.get(id) }.json()
            }
            if page.events.isEmpty { try? await Task.sleep(for: watchInterval / 2) }
        }
    }
}
