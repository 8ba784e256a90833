import Foundation

/// Runs every task of a simulation on the thread that drives it, one job
/// at a time, in an order the seed decides. Tasks are started with this
/// executor as their preference (`EngineWorld.spawn`), so their jobs, and
/// those of the default actors they call (the engine, its executors), come
/// here instead of the global pool: with nothing else running, the same
/// seed gives the same interleaving.
final class SimScheduler: TaskExecutor, @unchecked Sendable {
    // Touched only from the simulation's thread; `enqueue` checks that and
    // counts any job that arrives from elsewhere as a breach of determinism.
    // `lock` guards against what should never happen: a job from another thread.
    private var jobs: [UnownedJob] = []
    private var owner = pthread_self()
    private var foreign = 0
    private let lock = NSLock()

    var isIdle: Bool { lock.withLock { jobs.isEmpty } }

    /// The thread that drives the simulation from now on.
    func adoptCurrentThread() {
        lock.withLock { owner = pthread_self() }
    }

    var onOwnThread: Bool { lock.withLock { pthread_equal(pthread_self(), owner) != 0 } }

    /// Jobs that arrived from another thread: something escaped the simulation.
    var foreignEnqueues: Int { lock.withLock { foreign } }

    func enqueue(_ job: consuming ExecutorJob) {
        let unowned = UnownedJob(job)
        let fromElsewhere = pthread_equal(pthread_self(), owner) == 0
        lock.withLock {
            if fromElsewhere { foreign += 1 }
            jobs.append(unowned)
        }
    }

    /// Runs one ready job, picked by `pick(count)`; false when none is ready.
    func runOne(pick: (Int) -> Int) -> Bool {
        let job: UnownedJob? = lock.withLock {
            guard !jobs.isEmpty else { return nil }
            return jobs.remove(at: pick(jobs.count))
        }
        guard let job else { return false }
        job.runSynchronously(on: asUnownedTaskExecutor())
        return true
    }
}
