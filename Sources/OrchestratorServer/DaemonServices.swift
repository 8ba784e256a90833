import Foundation
import Logging
import MongoKit
import OrchestratorEngine
import OrchestratorServices
import ServiceLifecycle
import SystemdSupport

// The daemon's long-running parts as services of one ServiceGroup
// (Daemon.run), started in the order listed there and shut down in reverse:
// signals, watchdog, engine (the drain), server, database health.

extension ServiceGroupConfiguration.ServiceConfiguration {
    /// A service under a name of its own. Without one, ServiceLifecycle names
    /// a service by printing it: a reflection of everything it holds (the
    /// engine, the pool, the daemon's record). That took 67 M instructions
    /// (callgrind) at every start, more than a third of what a start, a run
    /// of 20 steps and a stop take together, and made each service's name in
    /// the debug log kilobytes long.
    static func named(
        _ name: String, _ service: any Service, successTerminationBehavior: ServiceGroupConfiguration.ServiceConfiguration.TerminationBehavior = .ignore
    ) -> Self {
        .init(service: service, successTerminationBehavior: successTerminationBehavior, serviceName: name)
    }
}

/// Runs the engine; on graceful shutdown, drains it for up to the stop timeout.
struct EngineService: Service {
    let engine: Engine
    let stopTimeout: Duration
    let onActiveRunsChanged: @Sendable (Int) -> Void

    func run() async throws {
        await engine.start(onActiveRunsChanged: onActiveRunsChanged)
        do {
            try await gracefulShutdown()
        } catch {
            return  // Cancelled: the group is going down without a drain.
        }
        await engine.shutdown(timeout: stopTimeout)
    }
}

/// Serves connections until the group shuts down. Accepting stops earlier,
/// when the stop signal arrives (`SignalService`); connections still open
/// (a watcher) are served through the drain and closed at the end. It
/// returns only when its turn to shut down comes: a service of the group
/// that returns before then would cancel the group, and the drain with it.
struct ServerService: Service {
    let server: RPCServer

    func run() async throws {
        await cancelWhenGracefulShutdown { await server.run() }
        try? await gracefulShutdown()
        await server.stop()
    }
}

/// Fires due schedules once a second while the engine takes runs (not
/// while it drains: a stopping daemon starts nothing; its peers fire).
struct SchedulerService: Service {
    let runner: ScheduleRunner
    let engine: Engine

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                if await engine.acceptsRuns { await runner.tick() }
                try? await Task.sleep(for: .seconds(1))
            }
        }
    }
}

/// Keeps `DatabaseHealth` fresh for `daemon.status`.
struct HealthService: Service {
    let health: DatabaseHealth
    let pool: MongoPool

    func run() async throws {
        await cancelWhenGracefulShutdown { await health.monitor(pool, every: .seconds(2)) }
    }
}

/// WATCHDOG=1 only while the serving event loop answers and the engine's
/// claim loop is alive: a wedged daemon stops pinging and systemd restarts it.
struct WatchdogService: Service {
    let interval: Duration
    let server: RPCServer
    let engine: Engine
    let notifier: SystemdNotifier

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                if await server.eventLoopResponds(), await engine.isHealthy { notifier.watchdogPing() }
                try? await Task.sleep(for: interval)
            }
        }
    }
}

/// SIGHUP reloads the configuration; SIGTERM or SIGINT says STOPPING=1,
/// stops accepting connections, and returns, which starts the group's
/// graceful shutdown (its configuration says so).
struct SignalService: Service {
    let signals: SignalSource
    let reload: @Sendable () async -> Void
    let stop: @Sendable (_ signal: Int32) async -> Void

    func run() async throws {
        while let signal = await signals.next() {
            if signal == SIGHUP {
                await reload()
                continue
            }
            await stop(signal)
            return
        }
    }
}
