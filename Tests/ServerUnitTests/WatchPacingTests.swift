@testable import OrchestratorServer
import Testing

/// When a watcher is held back: only while it is being sent things in
/// quick succession, never longer than the interval after its last send,
/// and a hold that gathered nothing ends the holding. Instants here are
/// made by hand: nothing depends on how fast this machine is.
@Suite struct WatchPacingTests {
    private let start = ContinuousClock.now
    private func at(_ milliseconds: Int) -> ContinuousClock.Instant { start + .milliseconds(milliseconds) }

    @Test func aLoneEventGoesOutAtOnceAndSoDoesOneAfterAQuietSpell() {
        var pacing = WatchPacing(interval: .milliseconds(20))
        #expect(pacing.hold(at: at(0)) == .zero)
        pacing.sent(at: at(0), gathered: false)
        #expect(pacing.hold(at: at(1)) == .zero)
        pacing.sent(at: at(50), gathered: false)
        #expect(pacing.hold(at: at(51)) == .zero)
    }

    @Test func aSecondSendWithinTheIntervalHoldsTheWatcherForTheRestOfIt() {
        var pacing = WatchPacing(interval: .milliseconds(20))
        pacing.sent(at: at(0), gathered: false)
        pacing.sent(at: at(4), gathered: false)
        #expect(pacing.hold(at: at(5)) == .milliseconds(19))
        // Never longer than the interval after the last send, and none once it has passed.
        #expect(pacing.hold(at: at(30)) == .zero)
    }

    @Test func whatAHoldGatheredKeepsTheHoldingGoing() {
        var pacing = WatchPacing(interval: .milliseconds(20))
        pacing.sent(at: at(0), gathered: false)
        pacing.sent(at: at(4), gathered: false)
        // Sent at the hold's end, 20 ms after the last send: still a busy run.
        pacing.sent(at: at(24), gathered: true)
        #expect(pacing.hold(at: at(25)) == .milliseconds(19))
    }

    @Test func aHoldThatGatheredNothingEndsTheHolding() {
        var pacing = WatchPacing(interval: .milliseconds(20))
        pacing.sent(at: at(0), gathered: false)
        pacing.sent(at: at(4), gathered: false)
        pacing.gatheredNothing()
        #expect(pacing.hold(at: at(24)) == .zero)
        // The next event, 30 ms after the last send, goes out at once and starts no hold.
        pacing.sent(at: at(34), gathered: false)
        #expect(pacing.hold(at: at(35)) == .zero)
    }
}
