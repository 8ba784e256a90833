import Foundation
import InMemoryStorage
import Logging
import OrchestratorEngine
import OrchestratorModel
import OrchestratorServices
import OrchestratorStorage

/// A daemon of the simulation: the real engine and services over the
/// simulated world, in lives that crash, drain and start again.
final class SimDaemon: @unchecked Sendable {
    // Touched only from the simulation's thread.
    let name: String
    /// How far this host's wall clock is off.
    var skew: Duration
    private(set) var life: Life?
    private(set) var engine: Engine?
    private(set) var runs: RunService?
    private var lives = 0
    /// A restart is already planned (after a crash or a drain).
    var restartPending = false
    var draining = false
    /// Runs its engine executes now, as the engine last said.
    private(set) var activeRuns = 0

    init(name: String, skew: Duration) {
        self.name = name
        self.skew = skew
    }

    var isUp: Bool { life?.alive == true && !draining }

    func boot(_ simulation: Simulation) {
        lives += 1
        let life = Life(daemon: name, number: lives)
        self.life = life
        draining = false
        restartPending = false
        let world = simulation.world
        let clock = SimClock(world: world, life: life, skew: skew)
        let engineWorld = EngineWorld(clock: clock, launcher: simulation.processes.launcher(for: life), spawn: { work in world.spawn(work) })
        let store = SimRunStore(database: simulation.database, life: life, owner: name)
        let logger = Logger(label: life.name) { _ in SimLogHandler(world: world, life: life) }
        let settings = EngineSettings(
            ownerId: name, maxParallelSteps: simulation.swarm.maxParallelSteps, lease: simulation.swarm.lease, killGrace: .seconds(5),
            claimInterval: .seconds(2), workingDirectory: "/", stepGate: "/simulated/step-gate")
        let secrets = SimSecrets(database: simulation.database, life: life, owner: name)
        let engine = Engine(settings: settings, runs: store, workflows: simulation.workflows, world: engineWorld, secrets: secrets, logger: logger)
        self.engine = engine
        runs = RunService(runs: store, workflows: simulation.workflows, targets: simulation.targets, engine: engine, ids: simulation.ids, clock: clock, logger: logger)
        activeRuns = 0
        world.note("\(life.name) starts")
        world.spawn { await engine.start { [self] active in if life.alive { activeRuns = active } } }
    }

    /// kill -9: its memory is gone at once; what it stored stays.
    func crash(_ simulation: Simulation) {
        guard let life, life.alive else { return }
        life.alive = false
        simulation.world.note("\(life.name) crashes")
        simulation.processes.lifeEnded(life)
    }

    /// SIGTERM: the engine drains for up to `timeout`, then the process exits.
    func terminate(_ simulation: Simulation, timeout: Duration, then restart: @escaping @Sendable () -> Void) {
        guard let life, life.alive, let engine, !draining else { return }
        draining = true
        let world = simulation.world
        world.note("\(life.name) gets SIGTERM (stop timeout \(timeout))")
        world.spawn {
            await engine.shutdown(timeout: timeout)
            world.after(.zero) {
                guard life.alive else { return }
                life.alive = false
                world.note("\(life.name) exits after draining")
                simulation.processes.lifeEnded(life)
                restart()
            }
        }
    }
}

/// A daemon's clocks: the simulation's time, skewed on the wall clock.
struct SimClock: EngineClock {
    let world: SimWorld
    let life: Life
    let skew: Duration

    func now() -> Date { world.wallClock(skew: skew) }

    func uptime() -> Duration { world.time }

    func sleep(for duration: Duration) async {
        await world.sleep(duration, life)
    }
}

/// The engine's log lines go into the simulation's trace.
struct SimLogHandler: LogHandler {
    let world: SimWorld
    let life: Life
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .info

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let run = (event.metadata?["runId"] ?? metadata["runId"]).map { " [\($0)]" } ?? ""
        world.note("\(life.name)\(run) \(event.message)")
    }
}
