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
/// - only while the database answers these calls: after one of them got
///   no answer (no server, a socket timeout), they hop until one of them,
///   on a driver thread, is answered. So an outage, or a server that
///   answers pings but not writes, blocks one call here, for as long as the
///   driver waits (server selection, or the socket timeout), not each.
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

/// Whether a pool's database answered the last of the calls that may run
/// on the calling thread: they do only while it does. Other calls (a
/// readiness ping, a read) say nothing of whether a write gets an answer.
final class PoolHealth: Sendable {
    private let answering = NIOLockedValueBox(true)

    var isAnswering: Bool { answering.withLockedValue { $0 } }

    /// No answer (no server, a socket timeout) stops the inline calls; an
    /// answer, even a refusal, starts them again; a request the driver
    /// refused itself, or an ambiguous refusal, changes nothing.
    func note<T>(_ outcome: Result<T, MongoError>) {
        let answered: Bool
        switch outcome {
        case .success: answered = true
        case .failure(let error):
            switch error.kind {
            case .unavailable, .unanswered: answered = false
            case .duplicateKey, .rejected, .server: answered = true
            case .tooLarge, .client: return
            }
        }
        answering.withLockedValue { $0 = answered }
    }
}
