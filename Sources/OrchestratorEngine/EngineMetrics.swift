import Metrics
import OrchestratorModel
import Synchronization

/// What the engine counts, through swift-metrics: the daemon exports it for
/// Prometheus; elsewhere (tests, the simulation) nothing is bootstrapped and
/// it goes nowhere. Names follow Prometheus's conventions.
enum EngineMetrics {
    /// Runs this daemon executes now (fleet runs and their members included).
    static let activeRuns = Gauge(label: "orchestrator_active_runs")
    /// Step processes running here now (rollbacks included).
    static let activeSteps = Meter(label: "orchestrator_active_steps")
    /// Runs in flight claimed here: their owner's lease lapsed, or this daemon restarted.
    static let takeovers = Counter(label: "orchestrator_lease_takeovers_total")

    /// A run's end, once it is stored: `kind` is `run`, `member` (of a fleet) or `fleet`.
    static func runFinished(_ status: RunStatus, kind: String) {
        Counter(label: "orchestrator_runs_finished_total", dimensions: [("status", status.rawValue), ("kind", kind)]).increment()
    }

    /// An attempt of a step's own action ended as `status` after `duration`.
    static func stepEnded(_ status: StepStatus, after duration: Duration) {
        stepDurations.timer(for: status).record(duration: duration)
    }

    /// One timer per status, made when first needed (after the daemon has
    /// bootstrapped its metrics): making one looks it up in the factory's
    /// registry under a lock, for every step.
    private static let stepDurations = TimersByStatus()

    private final class TimersByStatus: Sendable {
        private let timers = Mutex<[StepStatus: Timer]>([:])

        func timer(for status: StepStatus) -> Timer {
            timers.withLock { made in
                if let timer = made[status] { return timer }
                let timer = Timer(label: "orchestrator_step_duration_seconds", dimensions: [("status", status.rawValue)])
                made[status] = timer
                return timer
            }
        }
    }
}
