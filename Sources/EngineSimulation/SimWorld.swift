import Foundation

/// SplitMix64: small, fast, and the same numbers for the same seed everywhere.
struct SeededRandom: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) {
        state = seed
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// A sleeping task's continuation, resumed once: by its timer or by its cancellation.
private final class Sleeper: @unchecked Sendable {
    // Guarded by `lock`: cancellation may come from any thread.
    private let lock = NSLock()
    private var continuation: UnsafeContinuation<Void, Never>?
    private var cancelled = false

    /// False when the task was cancelled before it slept.
    func arm(_ continuation: UnsafeContinuation<Void, Never>) -> Bool {
        lock.withLock {
            guard !cancelled else { return false }
            self.continuation = continuation
            return true
        }
    }

    func take() -> UnsafeContinuation<Void, Never>? {
        lock.withLock {
            cancelled = true
            defer { continuation = nil }
            return continuation
        }
    }
}

/// One life of a simulated daemon, from its start to its crash or exit.
/// Once it is over, whatever of it still runs freezes at its next contact
/// with the world (a store call, a sleep): its memory is gone, and what it
/// wrote stays.
final class Life: @unchecked Sendable {
    // Touched only from the simulation's thread.
    let daemon: String
    let number: Int
    var alive = true

    init(daemon: String, number: Int) {
        self.daemon = daemon
        self.number = number
    }

    var name: String { "\(daemon)#\(number)" }
}

/// The simulated world: time, timers, the seed's random numbers, and what
/// happened (a trace, and the breaches of invariants found). Everything in
/// it is touched only from the thread that drives the simulation.
final class SimWorld: @unchecked Sendable {
    let seed: UInt64
    var random: SeededRandom
    let scheduler = SimScheduler()
    /// Time since the simulation began; every daemon's uptime.
    private(set) var time: Duration = .zero
    /// What `time` zero is on a wall clock.
    static let epoch = Date(timeIntervalSince1970: 1_800_000_000)

    private var timers: [(at: Duration, order: Int, fire: @Sendable () -> Void)] = []
    private var timerCount = 0
    private var trace: [String] = []
    /// How many of the last events a report shows.
    let traceLength: Int
    private(set) var breaches: [String] = []
    /// Continuations of lives that are over: never resumed, kept so nothing frees them.
    private var graveyard: [Any] = []
    private(set) var jobsRun = 0

    init(seed: UInt64, traceLength: Int) {
        self.seed = seed
        self.traceLength = traceLength
        random = SeededRandom(seed: seed)
    }

    // MARK: - Randomness

    func chance(_ probability: Double) -> Bool {
        probability > 0 && Double.random(in: 0..<1, using: &random) < probability
    }

    func uniform(_ range: ClosedRange<Double>) -> Double {
        Double.random(in: range, using: &random)
    }

    func integer(_ range: ClosedRange<Int>) -> Int {
        Int.random(in: range, using: &random)
    }

    func seconds(_ range: ClosedRange<Double>) -> Duration {
        .milliseconds(Int64(uniform(range) * 1000))
    }

    // MARK: - Time and tasks

    /// Touches of the world from another thread: something escaped the simulation.
    private(set) var offThread = 0

    private func checkThread() {
        if !scheduler.onOwnThread { offThread += 1 }
    }

    /// Runs `fire` on the simulation's thread once time reaches now + `delay`.
    func after(_ delay: Duration, _ fire: @escaping @Sendable () -> Void) {
        checkThread()
        let at = time + max(delay, .zero)
        timerCount += 1
        let index = timers.firstIndex { ($0.at, $0.order) > (at, timerCount) } ?? timers.count
        timers.insert((at, timerCount, fire), at: index)
    }

    func wallClock(skew: Duration) -> Date {
        let (seconds, attoseconds) = (time + skew).components
        return Self.epoch.addingTimeInterval(Double(seconds) + Double(attoseconds) / 1e18)
    }

    /// A task of its own, run by the simulation's scheduler.
    func spawn(_ work: @escaping @Sendable () async -> Void) {
        Task(executorPreference: scheduler) { await work() }
    }

    /// Suspends for `delay` of simulated time, or until the task is
    /// cancelled; forever if `life` is over by then.
    func sleep(_ delay: Duration, _ life: Life) async {
        let sleeper = Sleeper()
        await withTaskCancellationHandler {
            await withUnsafeContinuation { (continuation: UnsafeContinuation<Void, Never>) in
                guard life.alive else { return graveyard.append(continuation) }
                guard sleeper.arm(continuation) else { return continuation.resume() }
                after(delay) { [self] in
                    guard let continuation = sleeper.take() else { return }
                    if life.alive { continuation.resume() } else { graveyard.append(continuation) }
                }
            }
        } onCancel: {
            sleeper.take()?.resume()
        }
    }

    /// Where a life meets the world: a life that is over stops here for good.
    func contact(_ life: Life) async {
        guard !life.alive else { return }
        await withUnsafeContinuation { (continuation: UnsafeContinuation<Void, Never>) in graveyard.append(continuation) }
    }

    /// Runs jobs and timers until `done()` or time passes `limit`.
    /// Runs jobs and timers until `limit`, or until `done` says so; `done`
    /// is asked only when nothing is left to run at the current instant
    /// (asking after every job cost the simulation a third of its time).
    func run(until limit: Duration, done: () -> Bool = { false }) {
        while true {
            if scheduler.runOne(pick: { Int.random(in: 0..<$0, using: &random) }) {
                jobsRun += 1
                continue
            }
            if done() { return }
            guard let next = timers.first, next.at <= limit else {
                time = max(time, limit)
                return
            }
            timers.removeFirst()
            time = next.at
            next.fire()
        }
    }

    // MARK: - What happened

    func note(_ text: String) {
        checkThread()
        let (seconds, attoseconds) = time.components
        trace.append(String(format: "%8.3f ", Double(seconds) + Double(attoseconds) / 1e18) + text)
        if trace.count > traceLength * 2 { trace.removeFirst(trace.count - traceLength) }
    }

    func breach(_ invariant: String, _ detail: String) {
        breaches.append("\(invariant): \(detail)")
        note("BREACH \(invariant): \(detail)")
    }

    var lastEvents: [String] { Array(trace.suffix(traceLength)) }
}
