import OrchestratorEngine
import Testing

/// How a watcher waits for its run's updates and lines: whichever comes
/// first ends the wait, a timeout is never cut short, and waits that end
/// early leave no timers behind to multiply.
@Suite(.timeLimit(.minutes(1))) struct WakeUpTests {
    @Test func aWaitEndsWhenEitherSourceHasSomething() async {
        let updates = Broadcast<Int>(capacity: 10)
        let lines = Broadcast<String>(capacity: 10)
        let (feed, output) = (updates.subscribe("run"), lines.subscribe("run"))
        let wakeUp = WakeUp()
        async let waited = wakeUp.wait(for: [feed, output], upTo: .seconds(3600))
        // Published whether the wait has parked yet or not: either way it ends.
        lines.publish("run", "a line")
        _ = await waited
        #expect(output.take().items == ["a line"])
        updates.publish("run", 1)
        await wakeUp.wait(for: [feed, output], upTo: .seconds(3600))
        #expect(feed.take().items == [1])
    }

    @Test func whatArrivedBeforeTheWaitEndsItAtOnce() async {
        let updates = Broadcast<Int>(capacity: 10)
        let feed = updates.subscribe("run")
        updates.publish("run", 7)
        // It says it did not wait: what a watcher held back for a moment learns that something came meanwhile.
        #expect(await WakeUp().wait(for: [feed], upTo: .seconds(3600)))
        #expect(feed.take().items == [7])
    }

    /// A feed and a wake-up whose one wait so far ended at once, leaving a
    /// timer on its way for `timeout` from now.
    private func afterAnEarlyWait(upTo timeout: Duration) async -> (Broadcast<Int>.Subscription, WakeUp) {
        let updates = Broadcast<Int>(capacity: 10)
        let feed = updates.subscribe("run")
        let wakeUp = WakeUp()
        updates.publish("run", 1)
        await wakeUp.wait(for: [feed], upTo: timeout)
        _ = feed.take()
        return (feed, wakeUp)
    }

    /// How long a wait with nothing to wake it took.
    private func timedOut(_ wakeUp: WakeUp, on feed: Broadcast<Int>.Subscription, upTo timeout: Duration) async -> Duration {
        let clock = ContinuousClock()
        let started = clock.now
        let atOnce = await wakeUp.wait(for: [feed], upTo: timeout)
        #expect(!atOnce, "a wait that waited says so")
        return clock.now - started
    }

    @Test func aTimeoutIsNeverCutShortByATimerLeftFromAnEarlierWait() async {
        let (feed, wakeUp) = await afterAnEarlyWait(upTo: .milliseconds(200))
        #expect(await timedOut(wakeUp, on: feed, upTo: .milliseconds(600)) >= .milliseconds(600))
        #expect(feed.take().items.isEmpty)
    }

    @Test func aShortTimeoutAfterALongWaitStillEnds() async {
        // Only a timer for an hour from now is on its way: this wait needs its own
        // (without it the suite's time limit ends the test).
        let (feed, wakeUp) = await afterAnEarlyWait(upTo: .seconds(3600))
        #expect(await timedOut(wakeUp, on: feed, upTo: .milliseconds(50)) >= .milliseconds(50))
    }

    @Test func waitsThatEndEarlyShareOneTimer() async {
        let updates = Broadcast<Int>(capacity: 10)
        let feed = updates.subscribe("run")
        let wakeUp = WakeUp()
        for i in 0..<1000 {
            updates.publish("run", i)
            await wakeUp.wait(for: [feed], upTo: .seconds(60))
            #expect(feed.take().items == [i])
        }
        #expect(wakeUp.timersOnTheirWay == 1)
    }

    @Test func aCancelledWaitEnds() async {
        let updates = Broadcast<Int>(capacity: 10)
        let feed = updates.subscribe("run")
        let waiting = Task { _ = await WakeUp().wait(for: [feed], upTo: .seconds(3600)) }
        waiting.cancel()
        await waiting.value
        #expect(feed.take().items.isEmpty)
    }

    @Test func aCancelledSubscriptionEndsItsWait() async {
        let updates = Broadcast<Int>(capacity: 10)
        let feed = updates.subscribe("run")
        async let waited = WakeUp().wait(for: [feed], upTo: .seconds(3600))
        feed.cancel()
        _ = await waited
        updates.publish("run", 1)
        #expect(feed.take().items.isEmpty)
    }
}
