import NIOConcurrencyHelpers
import OrchestratorModel

/// The events of the runs this daemon executes, handed to the watchers in
/// this daemon as soon as they are stored: a watcher of a local run then
/// reads nothing from the database while the run goes on (it read the run's
/// log after every step before, competing with the run's own writes).
/// Only what is stored is published, so a watcher still reports nothing
/// before it is in MongoDB. A watcher that misses some (it subscribed late,
/// fell behind, or the run executes elsewhere) reads them from the database.
public final class RunFeed: Sendable {
    /// Events of one write, in order, whether that write ended the run, and
    /// where the run's log goes on after it (every event of an entry before
    /// that is in this update or an earlier one).
    public struct Update: Sendable {
        public let events: [RunEvent]
        public let ended: Bool
        public let logNext: Int
    }

    public typealias Subscription = Broadcast<Update>.Subscription

    /// While an executor here publishes a run, its last updates (the first
    /// of them what was stored before it began) are kept for watchers that
    /// come later: a watcher that comes as the run starts (`orchctl run start
    /// --watch`) reads nothing from the database, where its read competed
    /// with the run's first write (start to first step: 8.7 ms with it, 5.7
    /// without). A longer run's watcher is told some fell out, and reads.
    private let broadcast = Broadcast<Update>(capacity: 256, backlogCost: 256)
    /// The runs whose executor here publishes every write it stores: how
    /// many such executors each has (a resume may overlap an end), and
    /// whether the last update published ended the run.
    private let publishing = NIOLockedValueBox<[String: (executors: Int, ended: Bool)]>([:])

    public init() {}

    /// Whether an executor here publishes what it stores of `runId` now: a
    /// silence of its feed then means that nothing was stored, unless
    /// another daemon took the run over (which waits for the lease to lapse).
    /// Once the run's end is published it is not: the run may be resumed
    /// (and claimed by a peer) before the executor here has stopped.
    public func isPublishing(_ runId: String) -> Bool {
        publishing.withLockedValue { $0[runId].map { !$0.ended } ?? false }
    }

    /// An executor of `runId` publishes from now until `stopsPublishing`;
    /// `stored` are the run's events stored before it began, every event of
    /// the log's entries before `logNext` among them.
    func startsPublishing(_ runId: String, stored: [RunEvent], logNext: Int) {
        publishing.withLockedValue { runs in runs[runId] = ((runs[runId]?.executors ?? 0) + 1, false) }
        broadcast.hold(runId)
        // Those who watch already skip what they had. A longer history is
        // not copied into the backlog: its late watchers read MongoDB.
        if !stored.isEmpty, stored.count <= Self.storedEventsKept { broadcast.publish(runId, Update(events: stored, ended: false, logNext: logNext)) }
    }

    /// At most this many events stored before an executor began are kept for late watchers.
    static let storedEventsKept = 256

    /// If the run's end was not published, its watchers here are woken to
    /// read the database at once: what ended the executor (a take-over, an
    /// ending stored without the feed when MongoDB refused a write) is not
    /// in the feed, and a watcher that had spaced out its reads while the
    /// run was quiet would see it late.
    func stopsPublishing(_ runId: String) {
        let unexplained = publishing.withLockedValue { runs -> Bool in
            guard let entry = runs[runId] else { return false }
            guard entry.executors <= 1 else {
                runs[runId]?.executors -= 1
                return false
            }
            runs[runId] = nil
            return !entry.ended
        }
        broadcast.letGo(runId)
        if unexplained { broadcast.interrupt(runId) }
    }

    /// Starts collecting what is published for `runId`; `cancel()` ends it.
    public func subscribe(_ runId: String) -> Subscription {
        broadcast.subscribe(runId)
    }

    /// The run's write of `events` was acknowledged.
    func publish(_ runId: String, events: [RunEvent], ended: Bool, logNext: Int) {
        guard !events.isEmpty || ended else { return }
        if ended { publishing.withLockedValue { $0[runId]?.ended = true } }
        broadcast.publish(runId, Update(events: events, ended: ended, logNext: logNext))
    }
}
