import Foundation
import InMemoryStorage
import Logging
import OrchestratorEngine
import OrchestratorModel
import OrchestratorServices
import OrchestratorStorage

/// Which faults a simulation may inject. `survived` is what the engine is
/// expected to survive, and what CI runs: all of them.
public struct FaultKinds: OptionSet, Sendable, Hashable {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }

    /// kill -9 of a daemon, restarted a little later.
    public static let crash = FaultKinds(rawValue: 1 << 0)
    /// A write of the engine lands but its reply is lost.
    public static let lostReply = FaultKinds(rawValue: 1 << 1)
    /// The database refuses every operation for a while.
    public static let outage = FaultKinds(rawValue: 1 << 2)
    /// A write of a request (run.start, cancel, resume) lands but its reply is lost.
    public static let lostRequestReply = FaultKinds(rawValue: 1 << 3)
    /// SIGTERM and a drain beside the other daemons.
    public static let drain = FaultKinds(rawValue: 1 << 4)
    /// A daemon's wall clock is off by 30 to 90 seconds.
    public static let skew = FaultKinds(rawValue: 1 << 5)
    /// The database answers one daemon very slowly for a while (longer than a lease).
    public static let stall = FaultKinds(rawValue: 1 << 6)

    public static let all: FaultKinds = [.crash, .lostReply, .outage, .lostRequestReply, .drain, .skew, .stall]
    public static let survived: FaultKinds = all

    public static let names: [(String, FaultKinds)] = [
        ("crash", .crash), ("lost-reply", .lostReply), ("outage", .outage), ("lost-request-reply", .lostRequestReply),
        ("drain", .drain), ("skew", .skew), ("stall", .stall),
    ]

    public var description: String { Self.names.filter { contains($0.1) }.map(\.0).joined(separator: ",") }
}

/// What one seed draws before anything happens ("swarm testing": each seed
/// has its own mix, so rare combinations get explored).
struct Swarm {
    var daemons: Int
    var lease: Duration
    var maxParallelSteps: Int
    var runs: Int
    var crashesPerMinute: Double
    var lostReply: Double
    var outagesPerMinute: Double
    var drainsPerMinute: Double
    var stallsPerMinute: Double
    /// The share of the clients' starts that are fleet runs.
    var fleetShare: Double
    /// The share of workflows and steps that take a lock.
    var lockShare: Double

    init(daemons: Int, lease: Duration, maxParallelSteps: Int) {
        self.daemons = daemons
        self.lease = lease
        self.maxParallelSteps = maxParallelSteps
        runs = 0
        (crashesPerMinute, lostReply, outagesPerMinute, drainsPerMinute, stallsPerMinute, fleetShare, lockShare) = (0, 0, 0, 0, 0, 0, 0)
    }

    init(_ world: SimWorld, faults: FaultKinds) {
        daemons = world.integer(2...3)
        lease = .seconds(world.integer(6...15))
        maxParallelSteps = world.integer(1...4)
        runs = world.integer(3...24)
        let some = { (levels: [Double]) in levels[world.integer(0...(levels.count - 1))] }
        crashesPerMinute = faults.contains(.crash) ? some([0, 0.5, 2, 5]) : 0
        lostReply = faults.contains(.lostReply) ? some([0, 0.01, 0.05, 0.2]) : 0
        outagesPerMinute = faults.contains(.outage) ? some([0, 0.5, 2]) : 0
        drainsPerMinute = faults.contains(.drain) ? some([0.5, 2]) : 0
        stallsPerMinute = faults.contains(.stall) ? some([0.5, 2]) : 0
        fleetShare = some([0, 0.3, 0.6])
        lockShare = some([0, 0.3, 0.6])
    }
}

/// Hands a report from the simulation's thread to the caller's.
private final class ReportBox: @unchecked Sendable {
    // Written by the simulation's thread before it signals; read after the wait.
    var report: SimulationReport?
}

/// What one seed did, and what broke.
public struct SimulationReport: Sendable {
    public var seed: UInt64
    public var runs: Int
    public var steps: Int
    public var faults: Int
    public var jobs: Int
    public var breaches: [String]
    public var lastEvents: [String]
    /// Every run as the database holds it at the end.
    public var finalRuns: [Run]
    /// Every step process that ran (its gate opened), in the order they began.
    public var executions: [ExecutionRecord]
}

/// One attempt of a step that ran, and when (simulated time).
public struct ExecutionRecord: Sendable, Equatable {
    public var run: String
    public var step: String
    public var attempt: Int
    public var daemon: String
    public var began: Duration
    /// Nil if it never ended (or its end was never seen).
    public var ended: Duration?
}

/// One seed: a few daemons (the real `Engine` and `RunService`) share an
/// in-memory database; clients start, cancel and resume runs of generated
/// workflows while faults are injected; then the faults stop, the daemons
/// come back, and time passes until every run has ended. The invariants are
/// checked as things happen (step executions, fenced writes) and at the end.
public final class Simulation: @unchecked Sendable {
    // Touched only from the thread that calls `run`.
    let world: SimWorld
    let database: SimDatabase
    let workflows = InMemoryWorkflowStore()
    let targets = InMemoryTargetStore()
    let ids = SequentialIds()
    let processes: SimProcessTable
    let swarm: Swarm
    let faults: FaultKinds
    private var daemons: [SimDaemon] = []
    private var acknowledged: [String] = []
    private var workflowNames: [String] = []
    /// The seconds of steps one run of each workflow lines up per target:
    /// each step's mean duration, times the attempts it takes on average.
    private var workPerTarget: [String: Double] = [:]
    private var targetCount = 0
    /// The work the clients' runs lined up: in all, and behind each lock
    /// that serializes it (a device, a shared lock).
    private var linedUp = (total: 0.0, behind: [String: Double]())
    /// The clients' time: they never crash.
    private let clientLife = Life(daemon: "client", number: 0)
    /// Every client `run.start` by request id, and what each attempt was answered.
    private var requests: [String: [Answer]] = [:]

    /// Faults happen during the first `faultPhase`; then the world is left
    /// alone for up to `settlePhase` for every run to end.
    static let faultPhase = Duration.seconds(150)
    static let settlePhase = Duration.seconds(1800)

    /// What happens instead of the seed's random scenario (`KnownBug`).
    private let script: ((Simulation) -> Void)?

    public convenience init(seed: UInt64, faults: FaultKinds = .survived, traceLength: Int = 50) {
        self.init(seed: seed, faults: faults, traceLength: traceLength, swarm: nil, script: nil)
    }

    init(seed: UInt64, faults: FaultKinds, traceLength: Int, swarm: Swarm?, script: ((Simulation) -> Void)?) {
        world = SimWorld(seed: seed, traceLength: traceLength)
        database = SimDatabase(world: world)
        processes = SimProcessTable(world: world)
        self.faults = faults
        self.swarm = swarm ?? Swarm(world, faults: faults)
        self.script = script
        database.requeued = { [processes, world] id in processes.resumedAt[id] = world.time }
    }

    /// Plays the seed on a thread of its own (never on one of Swift's
    /// cooperative threads, where whoever calls this may be running).
    public func run() -> SimulationReport {
        let done = DispatchSemaphore(value: 0)
        let result = ReportBox()
        let thread = Thread { [self] in
            result.report = play()
            done.signal()
        }
        thread.stackSize = 8 << 20
        thread.start()
        done.wait()
        return result.report!
    }

    private func play() -> SimulationReport {
        world.scheduler.adoptCurrentThread()
        if let script { script(self) } else { setUp() }
        world.run(until: Self.faultPhase)
        endFaults()
        world.run(until: Self.faultPhase + Self.settlePhase) { [self] in settled }
        checkTheEnd()
        if world.scheduler.foreignEnqueues > 0 || world.offThread > 0 {
            world.breach("determinism", "\(world.scheduler.foreignEnqueues) jobs were resumed and the world was touched \(world.offThread) times from another thread")
        }
        return SimulationReport(
            seed: world.seed, runs: acknowledged.count, steps: processes.executions.count, faults: database.faults, jobs: world.jobsRun,
            breaches: world.breaches, lastEvents: world.lastEvents,
            finalRuns: database.runs.allRunIds.compactMap { database.runs.snapshot($0) },
            executions: processes.executions.map {
                ExecutionRecord(run: $0.run, step: $0.step, attempt: $0.attempt, daemon: $0.life.name, began: $0.began, ended: $0.endedAt)
            })
    }

    // MARK: - The scenario

    private func setUp() {
        database.lostEngineReply = swarm.lostReply
        database.lostRequestReply = faults.contains(.lostRequestReply) ? 0.1 : 0
        for index in 0..<world.integer(1...3) {
            // Locks as an operator takes them: a fleet's per device, or a few
            // shared ones for single runs (one name over every fleet member
            // would line up more work than the settle phase lasts).
            let perDevice = world.chance(0.5)
            let names = perDevice ? Self.deviceLocks : Self.sharedLocks
            let lock = { [self] in world.chance(swarm.lockShare) ? [names[world.integer(0...(names.count - 1))]] : [] }
            let name = "wf\(index + 1)"
            let locks = lock()
            // Rollbacks in single runs' workflows only: a fleet member holds its
            // device for the whole run, and undoing failed members as well lined
            // up more work than the settle phase lasts (seed 904).
            let steps = (0..<world.integer(1...5)).map { randomStep("s\($0 + 1)", locks: lock(), rollbacks: !perDevice) }
            addWorkflow(name, steps, locks: locks)
            if !locks.isEmpty || steps.contains(where: { !$0.step.locks.isEmpty }) {
                if perDevice { perDeviceWorkflows.insert(name) } else { singleRunWorkflows.insert(name) }
            }
        }
        addTargets(world.integer(2...6))
        for index in 0..<swarm.daemons {
            let skewed = faults.contains(.skew) && index == 0
            addDaemon("d\(index + 1)", skew: skewed ? world.seconds(30...90) * (world.chance(0.5) ? 1 : -1) : .zero)
        }
        for _ in 0..<swarm.runs { at(world.seconds(0...120)) { [self] in request() } }
        for _ in 0..<Int(Double(swarm.runs) * 0.4) { at(world.seconds(5...140)) { [self] in requestCancelOrResume() } }
        plan(perMinute: swarm.crashesPerMinute) { [self] in crashOne() }
        plan(perMinute: swarm.outagesPerMinute) { [self] in outage() }
        plan(perMinute: swarm.drainsPerMinute) { [self] in drainOne() }
        plan(perMinute: swarm.stallsPerMinute) { [self] in stall() }
    }

    /// Locks single runs take: few, so runs contend for them.
    static let sharedLocks = ["dev-a", "dev-b", "dev-c"]
    /// Locks a fleet's members take: per device, so fleets over the same targets contend.
    static let deviceLocks = ["device:{{target.name}}", "config:{{target.name}}"]
    /// The locks a step holds while it runs, by `workflow/step`: its own and its workflow's (placeholders unfilled).
    private var stepLocks: [String: [String]] = [:]
    /// Workflows with per-device locks run as fleets; those with shared locks as single runs.
    private var perDeviceWorkflows: Set<String> = []
    private var singleRunWorkflows: Set<String> = []

    /// A step the seed draws, and how its process behaves.
    private func randomStep(_ name: String, locks: [String] = [], rollbacks: Bool = true) -> (step: Step, behaviour: StepBehaviour) {
        let idempotent = world.chance(0.5)
        // Mostly short steps; some outlast a lease (and a stop timeout).
        let longest = world.chance(0.2) ? world.uniform(10...40) : world.uniform(0.2...12)
        let secrets = world.chance(0.3) ? (world.chance(0.5) ? ["device-pw"] : ["device-pw", "api.token"]) : []
        let behaviour = StepBehaviour(duration: 0.05...longest, failure: world.chance(0.5) ? world.uniform(0...0.4) : 0, secrets: secrets)
        let step = Step(
            name: name, executionOrder: world.integer(0...3), action: Action(exec: ["/bin/true"]),
            timeoutSeconds: world.chance(0.2) ? world.integer(2...8) : nil, retries: world.integer(0...2), retryDelaySeconds: world.integer(1...3),
            continueOnFailure: world.chance(0.2), idempotent: idempotent,
            locks: locks, rollback: rollbacks && world.chance(0.3) ? Action(exec: ["/bin/true"]) : nil, secrets: secrets)
        return (step, behaviour)
    }

    private func at(_ time: Duration, _ action: @escaping @Sendable () -> Void) {
        world.after(time, action)
    }

    /// Events at random times in the fault phase, `perMinute` on average.
    private func plan(perMinute rate: Double, _ action: @escaping @Sendable () -> Void) {
        guard rate > 0 else { return }
        let count = Int((rate * 2.5).rounded()) + (world.chance(rate * 2.5 - (rate * 2.5).rounded(.down)) ? 1 : 0)
        for _ in 0..<count { at(world.seconds(1...140), action) }
    }

    private var liveDaemons: [SimDaemon] { daemons.filter(\.isUp) }

    // MARK: - Daemons and workflows (for the seed's scenario and scripted ones)

    @discardableResult
    func addDaemon(_ name: String, skew: Duration = .zero) -> SimDaemon {
        let daemon = SimDaemon(name: name, skew: skew)
        daemons.append(daemon)
        daemon.boot(self)
        return daemon
    }

    func addWorkflow(_ name: String, _ steps: [(step: Step, behaviour: StepBehaviour)], locks: [String] = []) {
        for (step, behaviour) in steps {
            processes.behaviours["\(name)/\(step.name)"] = behaviour
            if step.idempotent { processes.idempotent.insert("\(name)/\(step.name)") }
        }
        let service = WorkflowService(workflows: workflows, runs: database.runs, ids: ids, clock: SimClock(world: world, life: Life(daemon: "setup", number: 0), skew: .zero))
        world.spawn { _ = try? await service.create(WorkflowDraft(name: name, steps: steps.map(\.step), locks: locks)) }
        for (step, _) in steps { stepLocks["\(name)/\(step.name)"] = Array(Set(step.locks + locks)) }
        workPerTarget[name] = steps.reduce(0) { work, step in
            work + (step.behaviour.duration.lowerBound + step.behaviour.duration.upperBound) / 2
                * (1 + Double(step.step.retries) * step.behaviour.failure)
        }
        workflowNames.append(name)
        world.run(until: world.time)
    }

    /// Targets `t1`…`tN` for fleet runs, all labelled `pool=sim`.
    func addTargets(_ count: Int) {
        let service = TargetService(targets: targets, ids: ids, clock: SimClock(world: world, life: Life(daemon: "setup", number: 0), skew: .zero),
                                    logger: Logger(label: "sim"))
        world.spawn {
            for index in 1...count { _ = try? await service.create(TargetDraft(name: "t\(index)", labels: ["pool": "sim"])) }
        }
        targetCount = count
        world.run(until: world.time)
    }

    /// A client cancels, through `daemon` at `time`, every run stored by then.
    func cancelEveryRun(on daemon: SimDaemon, at time: Duration) {
        at(time) { [self] in
            guard let service = daemon.runs else { return }
            for id in database.runs.allRunIds {
                world.spawn { _ = try? await service.cancel(id) }
            }
        }
    }

    /// A client starts a run of `workflow` through `daemon` at `time`.
    func start(_ workflow: String, on daemon: SimDaemon, at time: Duration) {
        at(time) { [self] in
            guard let service = daemon.runs else { return }
            world.spawn { [self] in
                guard let run = try? await service.start(workflow: workflow, params: [:], requester: Requester(uid: 0, gid: 0, pid: 1)) else { return }
                world.after(.zero) { [self] in acknowledged.append(run.id) }
            }
        }
    }

    /// SIGTERM to `daemon` at `time`; it starts again once it has exited.
    /// kill -9 of `daemon` at `time`; it starts again `restartAfter` later.
    func crash(_ daemon: SimDaemon, at time: Duration, restartAfter: Duration) {
        at(time) { [self] in
            daemon.crash(self)
            restart(daemon, after: restartAfter)
        }
    }

    func terminate(_ daemon: SimDaemon, timeout: Duration, at time: Duration) {
        at(time) { [self] in daemon.terminate(self, timeout: timeout) { [self] in restart(daemon, after: .seconds(1)) } }
    }

    /// A client's `run.start`, as orchctl makes it: with a request id, and
    /// repeated once with it when the answer says the database was
    /// unreachable or did not answer.
    private func request() {
        let up = liveDaemons
        guard !up.isEmpty, !workflowNames.isEmpty else { return }
        let daemon = up[world.integer(0...(up.count - 1))]
        let workflow = workflowNames[world.integer(0...(workflowNames.count - 1))]
        let fleet = !singleRunWorkflows.contains(workflow) && (world.chance(swarm.fleetShare) || perDeviceWorkflows.contains(workflow))
            ? FleetRequest(selector: .labels(["pool": "sim"]), batchSize: .count(world.integer(1...3)), maxFailPercentage: [0, 50, 100][world.integer(0...2)])
            : nil
        guard withinTheSwarmsCapacity(workflow, fleet: fleet != nil) else {
            world.note("client: no run of \(workflow) now: the swarm could not finish the work lined up within the settle phase")
            return
        }
        let requestId = "request-\(requests.count + 1)"
        requests[requestId] = []
        world.spawn { [self] in
            for attempt in 1...2 {
                guard let service = daemon.runs else { return }
                do {
                    let run = try await service.start(
                        workflow: workflow, params: [:], requestId: requestId, fleet: fleet, requester: Requester(uid: 0, gid: 0, pid: 1))
                    world.after(.zero) { [self] in
                        acknowledged.append(run.id)
                        requests[requestId]?.append(.acknowledged)
                        world.note("client: run \(run.id) of \(workflow) acknowledged (\(requestId), attempt \(attempt))")
                    }
                    return
                } catch {
                    let kind = (error as? OrchestratorError)?.kind
                    world.after(.zero) { [self] in
                        requests[requestId]?.append(kind == .storageUnavailable ? .unavailable : kind == .outcomeUnknown ? .unknown : .refused)
                        world.note("client: run.start of \(workflow) (\(requestId), attempt \(attempt)) refused: \(error)")
                    }
                    guard kind == .storageUnavailable || kind == .outcomeUnknown else { return }
                    await world.sleep(world.seconds(0.5...5), clientLife)
                }
            }
        }
    }

    /// Whether a run of `workflow` still fits what the swarm can finish in
    /// three quarters of the settle phase: its steps in the step slots of every daemon,
    /// and the work behind each lock it takes (a fleet's per device, a
    /// shared one's in all). Beyond that a run that has not ended would be
    /// queued, not stuck, and "a run never ended" would say nothing.
    private func withinTheSwarmsCapacity(_ workflow: String, fleet: Bool) -> Bool {
        let perTarget = workPerTarget[workflow] ?? 0
        let work = perTarget * Double(fleet ? targetCount : 1)
        let budget = Self.settlePhase.seconds * 3 / 4
        let locks = Set(stepLocks.filter { $0.key.hasPrefix("\(workflow)/") }.values.joined())
        var behind = linedUp.behind
        for lock in locks {
            let devices = lock.contains("{{target.name}}") && fleet ? (1...max(targetCount, 1)).map { lock.replacingOccurrences(of: "{{target.name}}", with: "t\($0)") } : [lock]
            for device in devices { behind[device, default: 0] += lock.contains("{{target.name}}") && fleet ? perTarget : work }
        }
        let slots = Double(swarm.maxParallelSteps * swarm.daemons)
        guard linedUp.total + work <= budget * slots, behind.values.allSatisfy({ $0 <= budget }) else { return false }
        linedUp = (linedUp.total + work, behind)
        return true
    }

    enum Answer { case acknowledged, unavailable, unknown, refused }

    private func requestCancelOrResume() {
        let up = liveDaemons
        guard !up.isEmpty, let service = up[world.integer(0...(up.count - 1))].runs, !acknowledged.isEmpty else { return }
        let id = acknowledged[world.integer(0...(acknowledged.count - 1))]
        let cancel = world.chance(0.5)
        world.spawn { [self] in
            do {
                if cancel {
                    _ = try await service.cancel(id)
                } else {
                    _ = try await service.resume(id)
                }
                world.after(.zero) { [self] in world.note("client: \(cancel ? "cancel" : "resume") \(id) done") }
            } catch {
                world.after(.zero) { [self] in world.note("client: \(cancel ? "cancel" : "resume") \(id) refused: \(error)") }
            }
        }
    }

    private func crashOne() {
        let up = liveDaemons
        guard !up.isEmpty else { return }
        let daemon = up[world.integer(0...(up.count - 1))]
        daemon.crash(self)
        database.countFault()
        restart(daemon, after: world.seconds(0.5...30))
    }

    /// A busy daemon if there is one: a drain with nothing to drain tests nothing.
    private func drainOne() {
        let busy = liveDaemons.filter { $0.activeRuns > 0 }
        let up = busy.isEmpty ? liveDaemons : busy
        guard !up.isEmpty else { return }
        let daemon = up[world.integer(0...(up.count - 1))]
        database.countFault()
        daemon.terminate(self, timeout: swarm.lease * world.uniform(0.3...3)) { [self] in restart(daemon, after: world.seconds(0.5...10)) }
    }

    private func restart(_ daemon: SimDaemon, after delay: Duration) {
        guard !daemon.restartPending else { return }
        daemon.restartPending = true
        at(delay) { [self] in
            guard daemon.life?.alive != true else { return daemon.restartPending = false }
            daemon.boot(self)
        }
    }

    private func outage() {
        let length = world.seconds(1...25)
        database.outageUntil = max(database.outageUntil, world.time + length)
        database.countFault()
        world.note("database: outage for \(length)")
    }

    /// The database answers one daemon very slowly (for longer than a
    /// lease) while it answers the others at once.
    private func stall() {
        let up = liveDaemons
        guard !up.isEmpty else { return }
        let daemon = up[world.integer(0...(up.count - 1))]
        let length = swarm.lease * 2
        database.countFault()
        database.stalled = (daemon.name, world.time + length)
        world.note("database: answers \(daemon.name) within up to \(length)")
    }

    private func endFaults() {
        database.lostEngineReply = 0
        database.lostRequestReply = 0
        database.outageUntil = .zero
        database.stalled = nil
        world.note("faults stop")
        for daemon in daemons where daemon.life?.alive != true && !daemon.restartPending {
            daemon.restartPending = true
            at(world.seconds(0...5)) { [self] in daemon.boot(self) }
        }
    }

    // MARK: - The end

    /// Every run in the database ended and no step process still runs.
    private var settled: Bool {
        // A process held at its gate may belong to a start whose insert is still on its way.
        guard daemons.allSatisfy({ $0.life?.alive == true }), processes.running.isEmpty, processes.waiting.isEmpty else { return false }
        return database.runs.everyRunEnded
    }

    private func checkTheEnd() {
        let stored = Set(database.runs.allRunIds)
        for id in acknowledged where !stored.contains(id) {
            world.breach("an acknowledged run was lost", "run \(id) was acknowledged but is not stored")
        }
        let runsByRequest = Dictionary(grouping: stored.compactMap { database.runs.snapshot($0) }.filter { $0.requestId != nil }) { $0.requestId! }
        for (requestId, answers) in requests.sorted(by: { $0.key < $1.key }) {
            let made = runsByRequest[requestId] ?? []
            if made.count > 1 {
                world.breach("a request started two runs", "\(requestId) started runs \(made.map(\.id))")
            }
            // StorageUnavailable promises that nothing was written.
            if !made.isEmpty, !answers.isEmpty, answers.allSatisfy({ $0 == .unavailable }) {
                world.breach("StorageUnavailable for a run that was stored", "\(requestId) was answered unavailable every time, yet run \(made[0].id) exists")
            }
        }
        for id in stored.sorted() {
            guard let run = database.runs.snapshot(id) else { continue }
            if !run.status.isTerminal {
                let steps = run.steps.map { "\($0.name)=\($0.status.rawValue)" }.joined(separator: " ")
                world.breach("a run never ended", "run \(id) is still \(run.status.rawValue) (\(steps)) \(Self.settlePhase) after the faults stopped")
            }
            if run.events.map(\.sequence) != Array(0..<run.events.count) {
                world.breach("events lost or doubled", "run \(id) has events \(run.events.map(\.sequence))")
            }
            if run.status == .succeeded, let step = run.steps.first(where: { $0.status != .succeeded }) {
                world.breach("a run succeeded without its steps", "run \(id) succeeded but step \(step.name) is \(step.status.rawValue)")
            }
            if run.status.isTerminal, let step = run.steps.first(where: { $0.status == .running }) {
                world.breach("an ended run has a running step", "run \(id) is \(run.status.rawValue) but step \(step.name) is running")
            }
        }
        if let process = processes.running.first {
            world.breach("a step process outlived everything", "step \(process.step) of run \(process.run) still runs")
        }
        // Started ahead and never let go: a gate that waits as long as its daemon lives.
        if let process = processes.waiting.first {
            world.breach("a step process was left at its gate", "step \(process.step) of run \(process.run) still waits at its gate")
        }
        checkLocks()
        for id in stored.sorted() {
            guard let run = database.runs.snapshot(id), let fleet = run.fleet else { continue }
            checkFleet(run, fleet, members: stored.compactMap { database.runs.snapshot($0) }.filter { $0.membership?.fleetRunId == id })
        }
    }

    /// Two steps of different runs holding one lock never ran at once
    /// (counting those whose end reached their engine: a step cut off by
    /// its daemon's death may run on, orphaned, once its lock has lapsed).
    private func checkLocks() {
        var holders: [String: [Execution]] = [:]
        for execution in processes.executions where execution.delivered {
            guard let run = database.runs.snapshot(execution.run) else { continue }
            for lock in stepLocks["\(run.workflowName)/\(execution.step)"] ?? [] {
                holders[Parameters.fill(lock, run.params, target: run.membership?.target), default: []].append(execution)
            }
        }
        for (lock, executions) in holders.sorted(by: { $0.key < $1.key }) {
            let sorted = executions.sorted { $0.began < $1.began }
            for (index, a) in sorted.enumerated() {
                guard let end = a.endedAt else { continue }
                if let b = sorted[(index + 1)...].first(where: { $0.run != a.run && $0.began < end }) {
                    world.breach("a lock held twice",
                                 "lock \(lock): step \(a.step) of run \(a.run) ran until \(end) while step \(b.step) of run \(b.run) began at \(b.began)")
                }
            }
        }
    }

    /// A fleet run's members are its targets' runs; it succeeded only if they
    /// all did; and, unless it was resumed, no member's step began before
    /// every step of the earlier batches had ended (those whose end reached
    /// their engine: a step cut off by its daemon's death may run on,
    /// orphaned, as it may after kill -9 on a real host).
    private func checkFleet(_ run: Run, _ fleet: Fleet, members: [Run]) {
        let planned = Dictionary(uniqueKeysWithValues: fleet.targets.map { ($0.runId, $0) })
        for member in members where planned[member.id]?.name != member.membership?.target.name {
            world.breach("a fleet member for no target", "run \(member.id) of fleet \(run.id) is for \(member.membership?.target.name ?? "?"), which the fleet did not plan")
        }
        let byId = Dictionary(uniqueKeysWithValues: members.map { ($0.id, $0) })
        if run.status == .succeeded, let target = fleet.targets.first(where: { byId[$0.runId]?.status != .succeeded }) {
            world.breach("a fleet succeeded without its targets", "fleet \(run.id) succeeded but target \(target.name) is \(byId[target.runId]?.status.rawValue ?? "not started")")
        }
        guard !run.events.contains(where: { $0.status == "resumed" }) else { return }
        let executions = processes.executions.filter { planned[$0.run] != nil }
        for batch in 2...max(2, fleet.batchCount) {
            let earlier = Set(fleet.targets.filter { $0.batch < batch }.map(\.runId))
            let this = Set(fleet.targets.filter { $0.batch == batch }.map(\.runId))
            guard let firstBegan = executions.filter({ this.contains($0.run) }).map(\.began).min() else { continue }
            if let late = executions.first(where: { earlier.contains($0.run) && $0.delivered && ($0.endedAt ?? .seconds(1_000_000)) > firstBegan }) {
                world.breach("a batch started before the one before it ended",
                             "fleet \(run.id): a step of batch \(batch) began at \(firstBegan) while step \(late.step) of run \(late.run) (batch \(planned[late.run]?.batch ?? 0)) ran until \(late.endedAt.map { "\($0)" } ?? "never ended")")
            }
        }
    }
}
