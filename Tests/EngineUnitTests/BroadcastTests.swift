import OrchestratorEngine
import Testing

/// What a follower of a run's lines is handed: what was published after it
/// came, the backlog before that, and word when it did not get everything.
@Suite struct BroadcastTests {
    @Test func aLateSubscriberGetsTheBacklogAndIsToldWhatFellOutOfIt() {
        let broadcast = Broadcast<String>(capacity: 10, backlogCost: 3)
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
        broadcast.forget("r1")
        #expect(broadcast.subscribe("r1").take().items.isEmpty)
    }

    @Test func aSubscriberThatFallsBehindKeepsWhatFitsAndIsTold() {
        let broadcast = Broadcast<Int>(capacity: 2)
        let slow = broadcast.subscribe("r1")
        for n in 1...5 { broadcast.publish("r1", n) }
        let taken = slow.take()
        #expect(taken.items == [1, 2] && !taken.complete)
        broadcast.publish("r1", 6)
        #expect(slow.take().items == [6] && slow.take().complete)
        slow.cancel()
        broadcast.publish("r1", 7)
        #expect(slow.take().items.isEmpty)
    }
}
