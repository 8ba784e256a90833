import Foundation
import MongoKit
import NIOConcurrencyHelpers
import OrchestratorModel
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
    static let version = OrchestratorVersion.current
    let pool: MongoPool
    let health: DatabaseHealth
    let startedAt: ContinuousClock.Instant
    let socketPath: String
    let activeRuns: @Sendable () async -> Int
    let connections: ConnectionRegistry
    let watchers: WatcherCount
    let metrics: @Sendable () -> String

    func status(_ p: NoParams, _ c: CallContext) async throws(RPCError) -> DaemonStatus {
        DaemonStatus(
            version: Self.version, uptimeSeconds: (ContinuousClock.now - startedAt).components.seconds, activeRuns: await activeRuns(),
            connections: connections.count, watchers: watchers.current, mongodb: health.current, pid: Int(getpid()), socket: socketPath,
            database: pool.configuration.database, caller: DaemonStatus.Caller(uid: c.peer.uid, gid: c.peer.gid, pid: c.peer.pid, admin: c.mayMutate))
    }

    func metrics(_ p: NoParams, _ c: CallContext) async throws(RPCError) -> MetricsText {
        MetricsText(text: metrics())
    }
}
