import NIOConcurrencyHelpers

/// Something a `WakeUp` can wait on: it rings the wake-up parked on it when
/// it has something, or says at once that it has.
public protocol WakeUpSource: Sendable {
    /// Parks `wakeUp` here until something arrives (then this rings it);
    /// false, and nothing parked, when something has arrived already.
    func park(_ wakeUp: WakeUp) -> Bool
    /// Takes `wakeUp` back if it is still parked here.
    func unpark(_ wakeUp: WakeUp)
}

/// Where one reader waits, again and again, until one of its sources has
/// something or a deadline passes.
///
/// A watcher of a run of short steps waits a few hundred times a second.
/// Racing each wait against a fresh `Task.sleep` in a task group cost a
/// timer in Dispatch for every wait (its manager thread woken to arm it,
/// and again when it fired, long after the wait had ended) and two or three
/// child tasks. A reader keeps one `WakeUp` for all its waits instead, and
/// the wake-up keeps only the timers it needs on their way: one that fires
/// before the deadline of the wait now in progress is armed again for it,
/// so a new timer is armed only when a wait's deadline comes before every
/// timer on its way. While a run publishes, that is one timer per timeout,
/// not one per wait.
public final class WakeUp: Sendable {
    private struct State {
        var waiter: CheckedContinuation<Void, Never>?
        /// Rung while nobody waited: the next wait returns at once.
        var rung = false
        /// When the wait in progress times out.
        var deadline: ContinuousClock.Instant?
        /// When the timers on their way fire.
        var timers: [ContinuousClock.Instant] = []
    }

    private let state = NIOLockedValueBox(State())

    public init() {}

    /// How many timers are on their way (for tests).
    public var timersOnTheirWay: Int {
        state.withLockedValue { $0.timers.count }
    }

    /// Lets the waiter go, or the next wait return at once.
    public func ring() {
        state.withLockedValue { state -> CheckedContinuation<Void, Never>? in
            defer { state.waiter = nil }
            if state.waiter == nil { state.rung = true }
            return state.waiter
        }?.resume()
    }

    /// Returns once one of `sources` has something (or had, since it was
    /// last waited on), the task is cancelled, or `timeout` has passed.
    /// One wait at a time. True when it returned at once, without waiting:
    /// something had come (or the task was cancelled) before it began.
    @discardableResult
    public func wait(for sources: [any WakeUpSource], upTo timeout: Duration) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        var atOnce = false
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let (goNow, arm) = state.withLockedValue { state -> (Bool, ContinuousClock.Instant?) in
                    precondition(state.waiter == nil, "one wait at a time")
                    if state.rung || Task.isCancelled {
                        state.rung = false
                        return (true, nil)
                    }
                    state.waiter = continuation
                    state.deadline = deadline
                    return (false, Self.timerNeeded(for: deadline, in: &state))
                }
                if goNow {
                    atOnce = true
                    return continuation.resume()
                }
                if let arm { startTimer(firingAt: arm) }
                // A source that already has something rings at once (the
                // waiter may be gone by then: then the ring is kept).
                for source in sources where !source.park(self) {
                    atOnce = true
                    ring()
                    break
                }
            }
        } onCancel: {
            ring()
        }
        for source in sources { source.unpark(self) }
        // A ring from a source parked on while the wait ended another way
        // stays: the next wait returns at once and its reader looks again.
        return atOnce
    }

    /// The instant to arm a timer for, if no timer on its way fires by `deadline`.
    private static func timerNeeded(for deadline: ContinuousClock.Instant, in state: inout State) -> ContinuousClock.Instant? {
        guard !state.timers.contains(where: { $0 <= deadline }) else { return nil }
        state.timers.append(deadline)
        return deadline
    }

    private func startTimer(firingAt instant: ContinuousClock.Instant) {
        Task { [self] in
            try? await Task.sleep(until: instant, clock: .continuous)
            fired(instant)
        }
    }

    /// A timer fired: the waiter times out if its deadline has passed; if a
    /// later wait moved the deadline, a timer goes on towards it.
    private func fired(_ instant: ContinuousClock.Instant) {
        let now = ContinuousClock.now
        let (timedOut, arm) = state.withLockedValue { state -> (CheckedContinuation<Void, Never>?, ContinuousClock.Instant?) in
            if let index = state.timers.firstIndex(of: instant) { state.timers.remove(at: index) }
            guard state.waiter != nil, let deadline = state.deadline else { return (nil, nil) }
            if deadline <= now {
                defer { state.waiter = nil }
                return (state.waiter, nil)
            }
            return (nil, Self.timerNeeded(for: deadline, in: &state))
        }
        timedOut?.resume()
        if let arm { startTimer(firingAt: arm) }
    }
}
