import Foundation
import Logging
import MongoStorage
import OrchestratorEngine
import OrchestratorModel
import ServiceLifecycle

/// This daemon's id in run leases, held in MongoDB while it runs (see
/// MongoDaemonRegistry): two live daemons with one id would each take the
/// other's runs for their own.
struct DaemonIdentity: Sendable {
    let registry: MongoDaemonRegistry
    let record: DaemonRecord
    let lease: Duration

    /// The default id: the host's name, its machine id (unique per
    /// installation) and the socket path (unique per daemon on a host).
    static func defaultId(socketPath: String) -> String {
        let machineId = (try? String(contentsOfFile: "/etc/machine-id", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        return machineId.isEmpty ? "\(ProcessIdentity.host):\(socketPath)" : "\(ProcessIdentity.host)/\(machineId.prefix(12)):\(socketPath)"
    }

    /// This process, about to hold `id`.
    static func thisProcess(id: String) -> DaemonRecord {
        DaemonRecord(
            id: id, instance: UUID().uuidString.lowercased(), host: ProcessIdentity.host, pid: getpid(),
            bootId: (try? String(contentsOfFile: "/proc/sys/kernel/random/boot_id", encoding: .utf8))?
                .trimmingCharacters(in: .whitespacesAndNewlines) ?? "",
            pidNamespace: (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/pid")) ?? "")
    }

    enum Outcome: Equatable {
        case held
        /// Another live daemon holds the id: why, for the operator.
        case refused(String)
    }

    /// Takes the id. A holder that is this machine's earlier process, gone
    /// now (a crash, kill -9), gives it up at once; any other holder is
    /// watched for up to a lease: if it beats meanwhile it is alive and the
    /// id is refused, else its heartbeat goes stale and the id is taken.
    func establish(serverTime: @Sendable () async throws(OrchestratorError) -> Date, logger: Logger) async -> Outcome {
        var watched: DaemonRecord?
        while true {
            do throws(OrchestratorError) {
                let now = try await serverTime()
                // Stale after two leases without a beat (beats come every third of one): a slow beat is not a death.
                if try await registry.take(record, staleBefore: now.addingTimeInterval(-2 * lease.seconds)) { return .held }
                guard let holder = try await registry.holder(of: record.id) else { continue }
                if isGoneFromThisMachine(holder) {
                    if try await registry.replace(holder, with: record) {
                        logger.notice("daemon id \(record.id) was held by pid \(holder.pid) of this machine, which is gone: taking it")
                        return .held
                    }
                    continue
                }
                if let watched, watched.instance == holder.instance, let before = watched.heartbeatAt, let after = holder.heartbeatAt, after > before {
                    return .refused(
                        "another daemon is running with daemon id '\(record.id)' (host \(holder.host), pid \(holder.pid)): two daemons with one id would each take the other's runs for their own. Give one of them another daemon-id (the default includes /etc/machine-id, which cloned machines share: run systemd-machine-id-setup on the clone)")
                }
                if watched?.instance != holder.instance {
                    logger.notice("daemon id \(record.id) is held by host \(holder.host) pid \(holder.pid): waiting up to \(lease * 2) to see whether it is still alive")
                    watched = holder
                }
            } catch {
                logger.warning("cannot check who holds daemon id \(record.id) yet: \(error.message)")
            }
            try? await Task.sleep(for: lease / 6)
        }
    }

    private func isGoneFromThisMachine(_ holder: DaemonRecord) -> Bool {
        guard !holder.bootId.isEmpty, !holder.pidNamespace.isEmpty, holder.bootId == record.bootId, holder.pidNamespace == record.pidNamespace else {
            return false
        }
        if holder.pid == getpid() { return true }
        return kill(holder.pid, 0) != 0 && errno == ESRCH
    }
}

/// Beats every third of a lease while the daemon runs, and gives the id up
/// at the end (after the drain: it is the first service started). If
/// another process took the id meanwhile (this one was thought dead), this
/// one stops: it must not go on executing runs under an id it lost.
struct IdentityService: Service {
    let identity: DaemonIdentity
    let logger: Logger
    /// Stops every step running here at once: another process holds this
    /// daemon's id, and so its runs; waiting for a stop timeout could run a step twice.
    let stopStepsNow: @Sendable () async -> Void

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try? await Task.sleep(for: identity.lease / 3)
                guard !Task.isCancelled else { break }
                guard (try? await identity.registry.beat(identity.record)) == false else { continue }
                // Gone (deleted by hand, lost in a failover): take it again. Held by another process: stop.
                if let holder = try? await identity.registry.holder(of: identity.record.id), holder.instance != identity.record.instance {
                    logger.critical("daemon id \(identity.record.id) is held by host \(holder.host) pid \(holder.pid) now (this daemon was thought dead): stopping its steps at once, then the daemon")
                    await stopStepsNow()
                    kill(getpid(), SIGTERM)
                    break
                }
                _ = try? await identity.registry.take(identity.record, staleBefore: .distantPast)
            }
        }
        try? await gracefulShutdown()
        try? await identity.registry.release(identity.record)
    }
}
