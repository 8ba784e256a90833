import CSpawn
import Foundation

/// The threads that supervise step processes. Each job blocks (in `poll`)
/// for its step's whole life, so every job gets a thread of its own at once:
/// one that is idle if there is one, else a new one. A thread that finished
/// its job waits a while for the next before it exits, so that a run's
/// steps, which start one after another, do not each create and destroy a
/// thread (its stack mapped and unmapped, its start and its exit).
final class SupervisorThreads: @unchecked Sendable {
    static let shared = SupervisorThreads(keepIdle: .seconds(10))

    private let condition = NSCondition()
    // Guarded by `condition`.
    private var jobs: [(name: String, body: @Sendable () -> Void)] = []
    private var idle = 0
    private let keepIdle: Duration

    init(keepIdle: Duration) {
        self.keepIdle = keepIdle
    }

    /// Runs `body` on a thread of its own (named `name`, as `ps -L` and
    /// debuggers show it), now.
    func run(named name: String, _ body: @escaping @Sendable () -> Void) {
        condition.lock()
        jobs.append((name, body))
        // An idle thread not already promised one of the queued jobs takes it.
        let someoneIsFree = idle >= jobs.count
        condition.unlock()
        // Signalled after the unlock: a thread woken while the lock was
        // still held here went back to sleep on the lock, and the unlock
        // had to wake it again (about one step in five, two futex calls
        // each, perf). The thread counted idle waits on the condition
        // until then, or has left its wait by the timeout and then takes
        // the job itself.
        if someoneIsFree {
            condition.signal()
            return
        }
        let thread = Thread { [self] in serve() }
        thread.name = name
        thread.start()
    }

    /// How many threads wait for a job now (for tests).
    var idleCount: Int {
        condition.lock()
        defer { condition.unlock() }
        return idle
    }

    private func serve() {
        while let job = next() {
            setName(job.name)
            job.body()
        }
    }

    /// The next job, or nil once none came for `keepIdle`.
    private func next() -> (name: String, body: @Sendable () -> Void)? {
        condition.lock()
        defer { condition.unlock() }
        let seconds = Double(keepIdle.components.seconds) + Double(keepIdle.components.attoseconds) / 1e18
        let giveUpAt = Date(timeIntervalSinceNow: seconds)
        while jobs.isEmpty {
            idle += 1
            let signalled = condition.wait(until: giveUpAt)
            idle -= 1
            if !signalled, jobs.isEmpty { return nil }
        }
        return jobs.removeFirst()
    }

    private func setName(_ name: String) {
        // Foundation's Thread.name does not always reach the kernel (a new
        // thread kept its creator's name in a test): set there directly.
        orch_name_this_thread(name)
    }
}
