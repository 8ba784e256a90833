import Foundation
import NIOConcurrencyHelpers

/// Time as the engine sees it. Injected, so that a simulation can move it
/// (and skew it, or pause it) instead of the machine.
public protocol EngineClock: Sendable {
    /// The wall clock: what records show, and (today) what leases compare.
    func now() -> Date
    /// A monotonic clock from an arbitrary origin: retry delays, deadlines.
    func uptime() -> Duration
    /// Returns after `duration`, or early once the calling task is cancelled.
    func sleep(for duration: Duration) async
}

/// The machine's clocks.
public struct SystemClock: EngineClock {
    private let origin = ContinuousClock.now
    /// Added to the wall clock (`clock-offset-seconds`); the monotonic clock is the machine's.
    private let offset: TimeInterval

    public init(offset: TimeInterval = 0) {
        self.offset = offset
    }

    public func now() -> Date { Date().addingTimeInterval(offset) }

    public func uptime() -> Duration { ContinuousClock.now - origin }

    public func sleep(for duration: Duration) async {
        try? await Task.sleep(for: duration)
    }
}

/// Everything outside the engine that it acts through: time, processes,
/// and the tasks it starts. Production passes the machine's; the
/// simulation passes its own, which run every task on its scheduler.
public struct EngineWorld: Sendable {
    public var clock: any EngineClock
    public var launcher: any StepLauncher
    /// Starts `work` as a task of its own.
    public var spawn: @Sendable (_ work: @escaping @Sendable () async -> Void) -> Void

    public init(
        clock: any EngineClock, launcher: any StepLauncher,
        spawn: @escaping @Sendable (_ work: @escaping @Sendable () async -> Void) -> Void
    ) {
        self.clock = clock
        self.launcher = launcher
        self.spawn = spawn
    }

    /// The machine: its clocks, real processes, tasks on the global executor.
    public static let system = EngineWorld(clock: SystemClock(), launcher: ProcessLauncher(), spawn: { work in Task { await work() } })
}

/// Until when, on this daemon's monotonic clock, it may act on a run: the
/// moment its last claim or renewal was sent plus the lease. A peer may
/// take the run over once the lease expires, so an owner that has heard no
/// renewal for a whole lease opens no gate, whatever its wall clock says.
public final class LeaseDeadline: Sendable {
    private let state: NIOLockedValueBox<(until: Duration, lapses: Int)>

    public init(_ until: Duration) {
        state = NIOLockedValueBox((until, 0))
    }

    /// A renewal sent at `sent` was acknowledged at `now`.
    public func renewed(sentAt sent: Duration, lease: Duration, at now: Duration) {
        state.withLockedValue { state in
            if now >= state.until { state.lapses += 1 }
            state.until = max(state.until, sent + lease)
        }
    }

    /// How many times it had passed when a renewal came back: each time,
    /// what was held under the lease (its locks) may have lapsed in the
    /// database meanwhile and been taken, even though the run is still
    /// this daemon's.
    public var lapses: Int { state.withLockedValue { $0.lapses } }

    public func hasPassed(at uptime: Duration) -> Bool {
        state.withLockedValue { uptime >= $0.until }
    }

    /// How long from `uptime` until it passes (zero once it has).
    public func remaining(at uptime: Duration) -> Duration {
        state.withLockedValue { max(.zero, $0.until - uptime) }
    }
}

extension Duration {
    /// In seconds, with the fraction.
    public var seconds: TimeInterval {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
