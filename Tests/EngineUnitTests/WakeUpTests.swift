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
        async let waited: Void = wakeUp.wait(for: [feed, output], upTo: .seconds(3600))
        // Published whether the wait has parked yet or not: either way it ends.
        lines.publish("run", "a line")
        await waited
        #expect(output.take().items == ["a line"])
        updates.publish("run", 1)
        await wakeUp.wait(for: [feed, output], upTo: .seconds(3600))
        #expect(feed.take().items == [1])
    }

    @Test func whatArrivedBeforeTheWaitEndsItAtOnce() async {
        let updates = Broadcast<Int>(capacity: 10)
        let feed = updates.subscribe("run")
        updates.publish("run", 7)
        await feed.wait(upTo: .seconds(3600))
        #expect(feed.take().items == [7])
    }

    @Test func aTimeoutIsNeverCutShortByATimerLeftFromAnEarlierWait() async {
        let updates = Broadcast<Int>(capacity: 10)
        let feed = updates.subscribe("run")
        let wakeUp = WakeUp()
        // This wait ends at once and leaves a timer on its way for 0.2 s from now.
        updates.publish("run", 1)
        await wakeUp.wait(for: [feed], upTo: .milliseconds(200))
        _ = feed.take()
        let clock = ContinuousClock()
        let started = clock.now
        await wakeUp.wait(for: [feed], upTo: .milliseconds(600))
        #expect(clock.now - started >= .milliseconds(600))
        #expect(feed.take().items.isEmpty)
    }

    @Test func aShortTimeoutAfterALongWaitStillEnds() async {
        let updates = Broadcast<Int>(capacity: 10)
        let feed = updates.subscribe("run")
        let wakeUp = WakeUp()
        updates.publish("run", 1)
        await wakeUp.wait(for: [feed], upTo: .seconds(3600))
        _ = feed.take()
        // Only a timer for an hour from now is on its way: this one needs its own
        // (without it the suite's time limit ends the test).
        let clock = ContinuousClock()
        let started = clock.now
        await wakeUp.wait(for: [feed], upTo: .milliseconds(50))
        #expect(clock.now - started >= .milliseconds(50))
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
        let waiting = Task { await feed.wait(upTo: .seconds(3600)) }
        waiting.cancel()
        await waiting.value
        #expect(feed.take().items.isEmpty)
    }

    @Test func aCancelledSubscriptionEndsItsWait() async {
        let updates = Broadcast<Int>(capacity: 10)
        let feed = updates.subscribe("run")
        async let waited: Void = feed.wait(upTo: .seconds(3600))
        feed.cancel()
        await waited
        updates.publish("run", 1)
        #expect(feed.take().items.isEmpty)
    }
}
