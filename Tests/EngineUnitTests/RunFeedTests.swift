import Foundation
@testable import OrchestratorEngine
import OrchestratorModel
import Testing

/// The feed of a run's stored events to its watchers here.
@Suite struct RunFeedTests {
    /// Once no executor here publishes a run, its watchers read the database
    /// at once: the run's ending may have been stored without the feed (a
    /// write MongoDB refused, a take-over), and a watcher of a quiet run
    /// waits up to 1.6 s between reads otherwise.
    @Test func theLastExecutorToStopWakesTheRunsWatchersToReadTheDatabase() async {
        let feed = RunFeed()
        // A resume that overlaps the end of the previous executor.
        feed.startsPublishing("r1", stored: [], logNext: 0)
        feed.startsPublishing("r1", stored: [], logNext: 0)
        let watcher = feed.subscribe("r1")
        let other = feed.subscribe("r2")
        feed.stopsPublishing("r1")
        #expect(feed.isPublishing("r1"))
        #expect(watcher.take().complete, "one executor still publishes: nothing to read yet")
        feed.stopsPublishing("r1")
        #expect(!feed.isPublishing("r1"))
        await WakeUp().wait(for: [watcher], upTo: .seconds(10))
        let taken = watcher.take()
        #expect(taken.items.isEmpty && !taken.complete, "the watcher is told to read the database")
        #expect(other.take().complete, "another run's watcher is not disturbed")
    }

    /// A watcher that comes while the run executes here is handed what was
    /// stored before the executor began and since, with no read; once the
    /// executor has stopped, nothing is kept.
    @Test func aLateWatcherGetsWhatWasStoredFromTheExecutorsStart() {
        let feed = RunFeed()
        let event = { (sequence: Int, status: String) in RunEvent(sequence: sequence, step: nil, status: status, at: Date(timeIntervalSince1970: 0)) }
        feed.startsPublishing("r1", stored: [event(0, "queued")], logNext: 0)
        feed.publish("r1", events: [event(1, "running")], ended: false, logNext: 1)
        let late = feed.subscribe("r1").take()
        #expect(late.complete && late.items.flatMap(\.events).map(\.sequence) == [0, 1])
        #expect(late.items.map(\.logNext) == [0, 1])
        feed.publish("r1", events: [event(2, "succeeded")], ended: true, logNext: 2)
        feed.stopsPublishing("r1")
        #expect(feed.subscribe("r1").take().items.isEmpty)
    }

    /// An end the feed carried needs no read: its watchers have it.
    @Test func anEndThatWasPublishedWakesNobody() {
        let feed = RunFeed()
        feed.startsPublishing("r1", stored: [], logNext: 0)
        let watcher = feed.subscribe("r1")
        feed.publish("r1", events: [RunEvent(sequence: 0, step: nil, status: "succeeded", at: Date(timeIntervalSince1970: 0))], ended: true, logNext: 1)
        // It may be resumed, and claimed elsewhere, before its executor here stops: watchers go back to reading often.
        #expect(!feed.isPublishing("r1"))
        feed.stopsPublishing("r1")
        let taken = watcher.take()
        #expect(taken.items.map(\.ended) == [true] && taken.complete)
    }
}
