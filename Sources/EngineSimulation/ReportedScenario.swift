import Foundation
import OrchestratorModel

/// Scenarios operators reported (issue 14, "no step twice, no run stuck"),
/// played exactly as reported. Both breached the invariants before their
/// fixes; the tests expect them to breach none now.
public enum ReportedScenario: String, CaseIterable, Sendable {
    /// Two daemons, lease 6 s, stop timeout 20 s, one 15 s idempotent step:
    /// SIGTERM the daemon running it. The drain used to stop renewing the
    /// lease, and the peer took the run over while the step still ran, and
    /// ran it again. Fixed: a drain renews until it is over.
    case drainBesideAPeer = "drain-beside-a-peer"
    /// A peer whose wall clock is 60 s ahead used to take over a healthy
    /// daemon's running run at once: leases compared one host's clock with
    /// another's. Fixed: leases are judged by the database server's clock.
    case skewedPeer = "skewed-peer"


    /// Plays the scenario; its report lists the breaches found.
    public func reproduce(seed: UInt64 = 1) -> SimulationReport {
        let swarm = Swarm(daemons: 2, lease: .seconds(6), maxParallelSteps: 2)
        let simulation = Simulation(seed: seed, faults: [], traceLength: 200, swarm: swarm) { simulation in
            let long = Step(name: "push", executionOrder: 0, action: Action(exec: ["/bin/true"]), idempotent: true)
            simulation.addWorkflow("rollout", [(long, StepBehaviour(duration: 15...15, failure: 0))])
            switch self {
            case .drainBesideAPeer:
                let first = simulation.addDaemon("d1")
                _ = simulation.addDaemon("d2")
                simulation.start("rollout", on: first, at: .seconds(1))
                simulation.terminate(first, timeout: .seconds(20), at: .seconds(3))
            case .skewedPeer:
                let first = simulation.addDaemon("d1")
                simulation.start("rollout", on: first, at: .seconds(1))
                simulation.world.after(.seconds(2)) { _ = simulation.addDaemon("d2", skew: .seconds(60)) }
            }
        }
        return simulation.run()
    }
}
