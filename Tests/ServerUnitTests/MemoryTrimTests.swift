import NIOConcurrencyHelpers
import OrchestratorServer
import Testing

/// The daemon gives back what a burst of work freed once it is quiet, and
/// does nothing while it stays idle. Time here is a hand-moved clock, and
/// the trim's looks run when it is moved past them: nothing depends on how
/// fast this machine is.
@Suite struct MemoryTrimTests {
    /// A clock in milliseconds and the looks due on it.
    private final class Time: Sendable {
        private let state = NIOLockedValueBox<(now: UInt64, due: [(at: UInt64, body: @Sendable () -> Void)], trims: Int)>((0, [], 0))

        var trims: Int { state.withLockedValue { $0.trims } }
        /// Looks waiting to run: a daemon at rest has none.
        var pending: Int { state.withLockedValue { $0.due.count } }

        func trimmer(quietMilliseconds: UInt64) -> MemoryTrim {
            MemoryTrim(
                quiet: .milliseconds(Int64(quietMilliseconds)), now: { self.state.withLockedValue { $0.now } * 1_000_000 },
                schedule: { nanoseconds, body in self.state.withLockedValue { $0.due.append(($0.now + nanoseconds / 1_000_000, body)) } },
                trim: { self.state.withLockedValue { $0.trims += 1 } })
        }

        /// Moves the clock on by `milliseconds`, running each look as its time comes.
        func pass(_ milliseconds: UInt64) {
            let end = state.withLockedValue { $0.now + milliseconds }
            while true {
                let next = state.withLockedValue { state -> (@Sendable () -> Void)? in
                    guard let index = state.due.indices.min(by: { state.due[$0].at < state.due[$1].at }), state.due[index].at <= end else { return nil }
                    let look = state.due.remove(at: index)
                    state.now = max(state.now, look.at)
                    return look.body
                }
                guard let next else { break }
                next()
            }
            state.withLockedValue { $0.now = end }
        }
    }

    @Test func aBurstOfWorkIsFollowedByOneTrimOnceItIsQuiet() {
        let time = Time()
        let trim = time.trimmer(quietMilliseconds: 500)
        // Work every 100 ms for 2 s: never quiet for 500 ms, so no trim meanwhile.
        for _ in 0..<20 {
            trim.workHappened()
            time.pass(100)
        }
        #expect(time.trims == 0)
        time.pass(399)
        #expect(time.trims == 0)
        time.pass(1)
        #expect(time.trims == 1)
        // At rest: nothing is due, and nothing happens however long it lasts.
        #expect(time.pending == 0)
        time.pass(60_000)
        #expect(time.trims == 1)
        // The next burst gets its own trim.
        trim.workHappened()
        time.pass(500)
        #expect(time.trims == 2)
        #expect(time.pending == 0)
    }

    @Test func nothingIsTrimmedOrScheduledBeforeAnyWork() {
        let time = Time()
        let trim = time.trimmer(quietMilliseconds: 500)
        time.pass(10_000)
        #expect(time.trims == 0)
        #expect(time.pending == 0)
        trim.workHappened()
        #expect(time.pending == 1)
        time.pass(500)
        #expect(time.trims == 1)
    }

    @Test func theSystemQueueTrimsForReal() async {
        let trims = NIOLockedValueBox(0)
        let trim = MemoryTrim(quiet: .milliseconds(10), trim: { trims.withLockedValue { $0 += 1 } })
        trim.workHappened()
        let deadline = ContinuousClock.now + .seconds(20)
        while trims.withLockedValue({ $0 }) == 0, ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(20)) }
        #expect(trims.withLockedValue { $0 } == 1)
    }
}
