import CMalloc
import Dispatch
import NIOConcurrencyHelpers

/// Gives back to the system the memory a burst of work freed. glibc's
/// malloc keeps freed pages inside its arenas (only the top of a heap goes
/// back by itself): after the bench's scale section that was 5 MiB of the
/// daemon's 44. Once the daemon has been quiet for `quiet` after some work
/// (requests answered, runs ended), `malloc_trim(0)` returns every whole
/// free page, on a queue of its own, at a moment nothing is being done
/// (it holds each arena's lock while it walks it). Nothing wakes up while
/// the daemon stays idle.
public final class MemoryTrim: Sendable {
    /// Runs `body` on the trim's own queue after `nanoseconds`.
    public typealias Scheduler = @Sendable (_ nanoseconds: UInt64, _ body: @escaping @Sendable () -> Void) -> Void

    private let quietNanoseconds: UInt64
    private let now: @Sendable () -> UInt64
    private let schedule: Scheduler
    private let trim: @Sendable () -> Void
    /// When work last happened (`now`), and whether a look is due.
    private let state = NIOLockedValueBox<(lastWork: UInt64, looking: Bool)>((0, false))

    public init(
        quiet: Duration = .milliseconds(500), now: @escaping @Sendable () -> UInt64 = { DispatchTime.now().uptimeNanoseconds },
        schedule: @escaping Scheduler = MemoryTrim.onItsQueue, trim: @escaping @Sendable () -> Void = { _ = malloc_trim(0) }
    ) {
        let (seconds, attoseconds) = quiet.components
        self.quietNanoseconds = UInt64(seconds) * 1_000_000_000 + UInt64(attoseconds / 1_000_000_000)
        self.now = now
        self.schedule = schedule
        self.trim = trim
    }

    private static let queue = DispatchQueue(label: "orchestratord.memory-trim")
    public static let onItsQueue: Scheduler = { nanoseconds, body in
        queue.asyncAfter(deadline: .now() + .nanoseconds(Int(nanoseconds)), execute: body)
    }

    /// Called as work ends: the trim comes once nothing more has happened for `quiet`.
    public func workHappened() {
        // Read under the lock, as the look reads it: a later stamp is never older than one read before.
        let startLooking = state.withLockedValue { state -> Bool in
            state.lastWork = now()
            defer { state.looking = true }
            return !state.looking
        }
        if startLooking { look(after: quietNanoseconds) }
    }

    private func look(after nanoseconds: UInt64) {
        schedule(nanoseconds) { [self] in
            let stillBusy = state.withLockedValue { state -> UInt64? in
                let quietFor = now() - state.lastWork
                guard quietFor < quietNanoseconds else {
                    state.looking = false
                    return nil
                }
                return quietNanoseconds - quietFor
            }
            if let remaining = stillBusy { return look(after: remaining) }
            trim()
        }
    }
}
