import Foundation
import MongoKit
import NIOConcurrencyHelpers
import OrchestratorProtocol

/// MongoDB's health as the daemon last saw it, refreshed by a background
/// ping, so `daemon.status` answers at once even while the database hangs.
final class DatabaseHealth: Sendable {
    private let state = NIOLockedValueBox("ok")

    var current: String { state.withLockedValue { $0 } }

    /// Pings every `interval` until cancelled.
    func monitor(_ pool: MongoPool, every interval: Duration) async {
        while !Task.isCancelled {
            let text: String
            do {
                try await pool.ping()
                text = "ok"
            } catch {
                text = "unavailable: \(error.message)"
            }
            state.withLockedValue { $0 = text }
            try? await Task.sleep(for: interval)
        }
    }
}

/// `daemon.status`: what an operator asks first when something looks wrong.
struct StatusHarness: Sendable {
    static let version = "0.1.0"
    let pool: MongoPool
    let health: DatabaseHealth
    let startedAt: ContinuousClock.Instant
    let socketPath: String
    let activeRuns: @Sendable () async -> Int
    let connections: ConnectionRegistry
    let watchers: WatcherCount

    func status(_ p: ParamReader, _ c: CallContext) async throws(RPCError) -> JSONValue {
        try p.allowOnly([])
        let mongodb = health.current
        let uptime = ContinuousClock.now - startedAt
        return [
            "version": .string(Self.version),
            "uptimeSeconds": .int(uptime.components.seconds),
            "activeRuns": JSONValue(await activeRuns()),
            "connections": JSONValue(connections.count),
            "watchers": JSONValue(watchers.current),
            "mongodb": .string(mongodb),
            "pid": JSONValue(Int(getpid())),
            "socket": .string(socketPath),
            "database": .string(pool.configuration.database),
            "caller": ["uid": .int(Int64(c.peer.uid)), "gid": .int(Int64(c.peer.gid)), "pid": .int(Int64(c.peer.pid)), "admin": .bool(c.mayMutate)],
        ]
    }
}
