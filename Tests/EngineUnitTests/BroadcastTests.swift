import OrchestratorEngine
import Testing

/// What a follower of a run's lines is handed: what was published after it
/// came, the backlog before that, and word when it did not get everything.
@Suite struct BroadcastTests {
    @Test func aLateSubscriberGetsTheBacklogAndIsToldWhatFellOutOfIt() {
        let broadcast = Broadcast<String>(capacity: 10, backlogCost: 3)
        broadcast.hold("r1")
        broadcast.publish("r1", "a")
        broadcast.publish("r1", "b")
        let early = broadcast.subscribe("r1")
        #expect(early.take().items == ["a", "b"] && early.take().complete)
        broadcast.publish("r1", "c")
        broadcast.publish("r1", "d")
        broadcast.publish("r2", "other run")
        let late = broadcast.subscribe("r1")
        let taken = late.take()
        // The backlog holds three: "a" is gone, and the late subscriber is told.
        #expect(taken.items == ["b", "c", "d"] && !taken.complete)
        #expect(early.take().items == ["c", "d"])
        broadcast.letGo("r1")
        #expect(broadcast.subscribe("r1").take().items.isEmpty)
    }

    /// A backlog lives while someone holds its key (a run executing here,
    /// each member for its fleet's id): what is published under a key
    /// nobody holds (lines printed after the run's executor ended) is not kept.
    @Test func aBacklogLivesWhileItsKeyIsHeld() {
        let broadcast = Broadcast<String>(capacity: 10, backlogCost: 10)
        broadcast.publish("fleet", "before anyone holds it")
        broadcast.hold("fleet")
        broadcast.hold("fleet")
        broadcast.publish("fleet", "member 1")
        broadcast.letGo("fleet")
        broadcast.publish("fleet", "member 2")
        #expect(broadcast.subscribe("fleet").take().items == ["member 1", "member 2"])
        broadcast.letGo("fleet")
        broadcast.publish("fleet", "after")
        #expect(broadcast.subscribe("fleet").take().items.isEmpty)
    }

    @Test func aSubscriberThatFallsBehindKeepsWhatFitsByCostAndIsTold() {
        let broadcast = Broadcast<String>(capacity: 5) { $0.count }
        let slow = broadcast.subscribe("r1")
        for line in ["ab", "cd", "ef", "g"] { broadcast.publish("r1", line) }
        let taken = slow.take()
        // "ab" and "cd" fit in 5; "ef" does not; "g" would, but the reader is told of the gap.
        #expect(taken.items == ["ab", "cd", "g"] && !taken.complete)
        broadcast.publish("r1", "hi")
        #expect(slow.take().items == ["hi"] && slow.take().complete)
        slow.cancel()
        broadcast.publish("r1", "gone")
        #expect(slow.take().items.isEmpty)
    }
}
