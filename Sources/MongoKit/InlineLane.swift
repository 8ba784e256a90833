import Foundation
import NIOConcurrencyHelpers
import NIOPosix

/// Lets one libmongoc call at a time, in the whole process, run on the
/// thread of Swift's cooperative pool that makes it, instead of on the
/// driver's threads.
///
/// The hop to a driver thread and back costs two threads a sleep and a
/// wake-up each: a third of the daemon's context switches per step, and on
/// this kind of machine (a VM, where waking an idle CPU is dear) about a
/// tenth of its CPU per step (docs/benchmarks.md, fourteenth round). The
/// per-step write of a run's log is worth taking it off that road; nothing
/// else asks to.
///
/// Blocking a thread of the cooperative pool is allowed only this far:
/// - at most one call at a time, process-wide, so with two or more CPUs
///   (the pool has a thread per CPU) one thread at least keeps running
///   everything else; with one CPU, never;
/// - never on an event loop (connections' requests run there) nor on the
///   main thread;
/// - only while the pool's database answers (`PoolHealth`): after a call
///   that did not reach it, calls hop again until one on a driver thread is
///   answered, so an outage blocks at most one call's server selection here.
public final class InlineLane: Sendable {
    /// The one every pool shares unless it is given another (tests that
    /// must know the lane is free).
    public static let shared = InlineLane()

    /// One CPU means one thread in the cooperative pool: it must never block.
    public static let enoughCPUs: Bool = ProcessInfo.processInfo.activeProcessorCount >= 2 && sysconf(Int32(_SC_NPROCESSORS_ONLN)) >= 2

    private let busy = NIOLockedValueBox(false)

    public init() {}

    /// Takes the lane when the calling thread may block on a call and no
    /// other call is on it; `leave()` must follow.
    func enter() -> Bool {
        guard Self.enoughCPUs, MultiThreadedEventLoopGroup.currentEventLoop == nil, !Thread.isMainThread else { return false }
        return busy.withLockedValue { taken in
            if taken { return false }
            taken = true
            return true
        }
    }

    func leave() {
        busy.withLockedValue { $0 = false }
    }
}

/// Whether a pool's database answered its last call: calls on the calling
/// thread are made only while it does.
final class PoolHealth: Sendable {
    private let answering = NIOLockedValueBox(true)

    var isAnswering: Bool { answering.withLockedValue { $0 } }

    /// A call that failed for want of the database (no server, no answer)
    /// stops the inline calls; any answered call starts them again.
    func note<T>(_ outcome: Result<T, MongoError>) {
        let answered: Bool
        switch outcome {
        case .success: answered = true
        case .failure(let error): answered = !error.isTransient
        }
        answering.withLockedValue { $0 = answered }
    }
}
