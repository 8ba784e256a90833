import Foundation
import MongoKit
import OrchestratorProtocol

/// `daemon.status`: what an operator asks first when something looks wrong.
struct StatusHarness: Sendable {
    static let version = "0.1.0"
    let pool: MongoPool
    let startedAt: ContinuousClock.Instant
    let socketPath: String
    let activeRuns: @Sendable () async -> Int

    func status(_ p: ParamReader, _ c: CallContext) async throws(RPCError) -> JSONValue {
        try p.allowOnly([])
        let mongodb: String
        do {
            try await pool.ping()
            mongodb = "ok"
        } catch {
            mongodb = "unavailable: \(error.message)"
        }
        let uptime = ContinuousClock.now - startedAt
        return [
            "version": .string(Self.version),
            "uptimeSeconds": .int(uptime.components.seconds),
            "activeRuns": JSONValue(await activeRuns()),
            "mongodb": .string(mongodb),
            "pid": JSONValue(Int(getpid())),
            "socket": .string(socketPath),
            "database": .string(pool.configuration.database),
            "caller": ["uid": .int(Int64(c.peer.uid)), "gid": .int(Int64(c.peer.gid)), "pid": .int(Int64(c.peer.pid)), "admin": .bool(c.mayMutate)],
        ]
    }
}
