import Foundation
import OrchestratorEngine
import OrchestratorModel

/// How a simulated step behaves: how long it takes, how often it fails.
struct StepBehaviour {
    var duration: ClosedRange<Double>
    var failure: Double
    /// The secrets the step (and its rollback) must find in its environment.
    var secrets: [String] = []
}

/// One attempt of a step that ran (its gate opened), for the invariants.
final class Execution {
    let run: String
    let step: String
    /// The step's rollback ran, not the step.
    var rollback = false
    let attempt: Int
    let life: Life
    let began: Duration
    var ended = false
    var endedAt: Duration?
    /// Its outcome reached an engine still alive, which will act on it.
    var delivered = false
    var failed = false

    init(run: String, step: String, attempt: Int, life: Life, began: Duration) {
        self.run = run
        self.step = step
        self.attempt = attempt
        self.life = life
        self.began = began
    }
}

/// Every step process of the simulation, and what the invariants about
/// executions need to know: which ran, under which life, and how they ended.
final class SimProcessTable: @unchecked Sendable {
    // Touched only from the simulation's thread.
    let world: SimWorld
    var behaviours: [String: StepBehaviour] = [:]
    var idempotent: Set<String> = []
    private(set) var executions: [Execution] = []
    /// When each run was last resumed by an operator.
    var resumedAt: [String: Duration] = [:]
    private var processes: [SimProcess] = []
    private var nextPid: Int32 = 1000

    init(world: SimWorld) {
        self.world = world
    }

    func launcher(for life: Life) -> SimLauncher {
        SimLauncher(table: self, life: life)
    }

    fileprivate func make(_ spec: ProcessSpec, _ life: Life) -> SimProcess {
        nextPid += 1
        let process = SimProcess(table: self, spec: spec, life: life, pid: nextPid)
        processes.append(process)
        return process
    }

    var running: [SimProcess] { processes.filter { $0.state == .running } }
    /// Held at their gates by a daemon still alive.
    var waiting: [SimProcess] { processes.filter { $0.state == .held && $0.life.alive } }

    /// A life ended: its held processes exit at their gates (the gate's
    /// pipe closes with the daemon); its running ones go on, orphaned.
    func lifeEnded(_ life: Life) {
        for process in processes where process.life === life && process.state == .held {
            process.end(ProcessOutcome(ending: .notStarted("the daemon died")), ran: false)
        }
    }

    func leftover(host: String, pid: Int32) -> SimProcess? {
        processes.first { $0.life.daemon == host && $0.pid == pid && $0.state == .running }
    }

    /// The invariant on executions, checked as a step's gate opens: a step
    /// of a run never runs while it (or its rollback) still runs under a
    /// live daemon, and runs again only after a failure its engine saw, when
    /// it is idempotent (interrupted), or when an operator resumed the run
    /// since. A rollback likewise, except that a failed one is never retried.
    fileprivate func began(_ process: SimProcess) -> Execution {
        let key = "\(process.workflow)/\(process.step)"
        let both = executions.filter { $0.run == process.run && $0.step == process.step }
        let earlier = both.filter { $0.rollback == process.rollback }
        if let live = both.first(where: { !$0.ended && $0.life.alive }) {
            world.breach(
                "step ran twice at once",
                "step \(process.step) of run \(process.run) started on \(process.life.name) (attempt \(process.attempt)) while attempt \(live.attempt) still runs on \(live.life.name), which is alive")
        } else if let last = earlier.last {
            let retried = !process.rollback && last.ended && last.delivered && last.failed
            let resumed = (resumedAt[process.run] ?? .zero) > last.began
            if !retried && !resumed && !idempotent.contains(key) {
                world.breach(
                    process.rollback ? "rollback ran twice" : "step ran twice",
                    "step \(process.step) of run \(process.run) (not idempotent) started again on \(process.life.name) (attempt \(process.attempt)) after attempt \(last.attempt) on \(last.life.name) \(last.ended ? "ended" : "was cut off") without a failure its engine saw")
            }
        }
        let execution = Execution(run: process.run, step: process.step, attempt: process.attempt, life: process.life, began: world.time)
        execution.rollback = process.rollback
        executions.append(execution)
        world.note("\(process.life.name) \(process.rollback ? "rollback of " : "")step \(process.step) of \(process.run) attempt \(process.attempt) begins (pid \(process.pid))")
        return execution
    }
}

struct SimLauncher: StepLauncher {
    let table: SimProcessTable
    let life: Life

    func prepare(_ spec: ProcessSpec, onLine: @escaping @Sendable (String, String) -> Void) -> PreparedStep {
        .held(table.make(spec, life))
    }

    /// Each daemon has a host of its own: only a later life of the same
    /// daemon finds (and kills) what an earlier one left behind.
    func killLeftover(_ process: StepProcess) async -> Bool {
        await table.world.contact(life)
        guard process.host == life.daemon, let leftover = table.leftover(host: process.host, pid: process.pid) else { return false }
        if leftover.life.alive && leftover.life !== life {
            table.world.breach("a live owner's step was killed", "\(life.name) killed step \(leftover.step) of run \(leftover.run), which \(leftover.life.name) still runs")
        }
        table.world.note("\(life.name) kills leftover pid \(process.pid) (step \(leftover.step) of \(leftover.run))")
        leftover.end(ProcessOutcome(ending: .signalled(9)), ran: true)
        return true
    }
}

/// A step's process: held at its gate, then running for a while, then
/// exited (with the outcome the seed picked, or killed).
final class SimProcess: StepHandle, @unchecked Sendable {
    // Touched only from the simulation's thread.
    enum State { case held, running, ended }

    let table: SimProcessTable
    let life: Life
    let pid: Int32
    let run: String
    let workflow: String
    let step: String
    /// It runs the step's rollback (the engine says so in its environment).
    let rollback: Bool
    let attempt: Int
    /// The secrets in its environment, as the engine gave them.
    let given: [String: String]
    let timeout: Duration?
    let killGrace: Duration
    private(set) var state = State.held
    private var outcome: ProcessOutcome?
    private var waiter: (@Sendable (ProcessOutcome) -> Void)?
    private var execution: Execution?
    private var terminating = false

    init(table: SimProcessTable, spec: ProcessSpec, life: Life, pid: Int32) {
        self.table = table
        self.life = life
        self.pid = pid
        run = spec.environment["ORCH_RUN_ID"] ?? "?"
        workflow = spec.environment["ORCH_WORKFLOW"] ?? "?"
        step = spec.environment["ORCH_STEP"] ?? "?"
        rollback = spec.environment["ORCH_ROLLBACK"] == "1"
        attempt = Int(spec.environment["ORCH_ATTEMPT"] ?? "") ?? 0
        given = spec.environment.filter { $0.key.hasPrefix("ORCH_SECRET_") }
        timeout = spec.timeout
        killGrace = spec.killGrace
    }

    var identity: StepProcess { StepProcess(host: life.daemon, pid: pid, startTicks: UInt64(pid)) }

    func begin() {
        guard state == .held, life.alive else { return }
        state = .running
        execution = table.began(self)
        let world = table.world
        let expected = table.behaviours["\(workflow)/\(step)"]?.secrets ?? []
        let wanted = Dictionary(uniqueKeysWithValues: expected.map { (SecretRules.environmentName($0), SimSecrets.value(of: $0)) })
        if given != wanted {
            world.breach("step started without its secrets", "step \(step) of run \(run) attempt \(attempt) got \(given.keys.sorted()), wanted \(wanted.keys.sorted()) with their values")
        }
        // An undo is quick (it puts back what the step changed), and fails now and then.
        let behaviour = rollback
            ? StepBehaviour(duration: 0.05...3, failure: 0.1)
            : table.behaviours["\(workflow)/\(step)"] ?? StepBehaviour(duration: 0.1...1, failure: 0)
        let duration = world.seconds(behaviour.duration)
        let fails = world.chance(behaviour.failure)
        if let timeout, duration > timeout {
            world.after(timeout + world.seconds(0...1)) { [self] in
                guard state == .running else { return }
                end(ProcessOutcome(ending: .signalled(15), timedOut: true), ran: true)
            }
        } else {
            world.after(duration) { [self] in
                guard state == .running, !terminating else { return }
                end(ProcessOutcome(ending: .exited(fails ? 1 : 0), stdout: "out \(step) \(attempt)"), ran: true)
            }
        }
    }

    func abandon() {
        guard state == .held else { return }
        end(ProcessOutcome(ending: .notStarted("abandoned before it started")), ran: false)
    }

    func terminate() {
        guard state == .running, !terminating else { return }
        terminating = true
        // SIGTERM; most steps stop within the grace period, some need the SIGKILL.
        let world = table.world
        let stops = world.seconds(0.05...(Double(killGrace.components.seconds) + 1))
        world.after(min(stops, killGrace)) { [self] in
            guard state == .running else { return }
            end(ProcessOutcome(ending: .signalled(stops < killGrace ? 15 : 9), terminated: true), ran: true)
        }
    }

    func whenEnded(_ body: @escaping @Sendable (ProcessOutcome) -> Void) {
        if let outcome {
            deliver()
            return body(outcome)
        }
        precondition(waiter == nil, "whenEnded once per process")
        waiter = body
    }

    func end(_ result: ProcessOutcome, ran: Bool) {
        guard state != .ended else { return }
        state = .ended
        outcome = result
        if let execution {
            execution.ended = true
            execution.endedAt = table.world.time
            // A failure of its own: one its engine stopped (cancel, lost lease) is not.
            execution.failed = (result.ending != .exited(0) || result.timedOut) && !result.terminated
        }
        if ran { table.world.note("\(life.name) step \(step) of \(run) attempt \(attempt) ends: \(result.ending)") }
        if let waiter {
            self.waiter = nil
            deliver()
            waiter(result)
        }
    }

    private func deliver() {
        if life.alive { execution?.delivered = true }
    }
}
