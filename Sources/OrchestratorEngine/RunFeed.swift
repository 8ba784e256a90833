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
    /// Events of one write, in order, and whether that write ended the run.
    public struct Update: Sendable {
        public let events: [RunEvent]
        public let ended: Bool
    }

    private struct State {
        var subscriptions: [String: [Int: Subscription]] = [:]
        var nextId = 0
    }

    private let state = NIOLockedValueBox(State())

    public init() {}

    /// Starts collecting what is published for `runId`; `cancel()` ends it.
    public func subscribe(_ runId: String) -> Subscription {
        state.withLockedValue { state in
            state.nextId += 1
            let subscription = Subscription(runId: runId, id: state.nextId, feed: self)
            state.subscriptions[runId, default: [:]][state.nextId] = subscription
            return subscription
        }
    }

    fileprivate func remove(_ subscription: Subscription) {
        state.withLockedValue { state in
            state.subscriptions[subscription.runId]?[subscription.id] = nil
            if state.subscriptions[subscription.runId]?.isEmpty == true { state.subscriptions[subscription.runId] = nil }
        }
    }

    /// The run's write of `events` was acknowledged.
    func publish(_ runId: String, events: [RunEvent], ended: Bool) {
        guard !events.isEmpty || ended else { return }
        let listeners = state.withLockedValue { $0.subscriptions[runId].map { Array($0.values) } ?? [] }
        for listener in listeners { listener.deliver(Update(events: events, ended: ended)) }
    }

    /// One watcher's updates, kept until it takes them: at most `capacity`
    /// (a watcher that falls further behind is told, and reads the database).
    public final class Subscription: Sendable {
        fileprivate let runId: String
        fileprivate let id: Int
        private let feed: RunFeed

        private struct State {
            var updates: [Update] = []
            var dropped = false
            var signalled = false
            var waiter: CheckedContinuation<Void, Never>?
        }

        private let state = NIOLockedValueBox(State())
        static let capacity = 256

        fileprivate init(runId: String, id: Int, feed: RunFeed) {
            self.runId = runId
            self.id = id
            self.feed = feed
        }

        public func cancel() {
            feed.remove(self)
            wake()
        }

        /// Kept and signalled in one critical section: a `take()` in between
        /// would leave a signal with nothing behind it (a needless read).
        fileprivate func deliver(_ update: Update) {
            let waiter = state.withLockedValue { state -> CheckedContinuation<Void, Never>? in
                if state.updates.count < Self.capacity {
                    state.updates.append(update)
                } else {
                    state.dropped = true
                }
                return Self.signal(&state)
            }
            waiter?.resume()
        }

        /// What arrived since the last call; `complete` is false when some was dropped.
        public func take() -> (updates: [Update], complete: Bool) {
            state.withLockedValue { state in
                defer {
                    state.updates.removeAll(keepingCapacity: true)
                    state.dropped = false
                    state.signalled = false
                }
                return (state.updates, !state.dropped)
            }
        }

        /// Returns once something arrived (or had arrived), or after `timeout`.
        public func wait(upTo timeout: Duration) async {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { try? await Task.sleep(for: timeout) }
                group.addTask { await self.signal() }
                await group.next()
                group.cancelAll()
            }
        }

        private func wake() {
            state.withLockedValue { Self.signal(&$0) }?.resume()
        }

        /// The waiter to let go, or a signal kept for the next wait.
        private static func signal(_ state: inout State) -> CheckedContinuation<Void, Never>? {
            defer { state.waiter = nil }
            if state.waiter == nil { state.signalled = true }
            return state.waiter
        }

        /// One waiter at a time (its watcher's loop).
        private func signal() async {
            await withTaskCancellationHandler {
                await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                    let goNow = state.withLockedValue { state -> Bool in
                        precondition(state.waiter == nil, "one waiter at a time")
                        if state.signalled || Task.isCancelled {
                            state.signalled = false
                            return true
                        }
                        state.waiter = continuation
                        return false
                    }
                    if goNow { continuation.resume() }
                }
            } onCancel: {
                let waiter = state.withLockedValue { state -> CheckedContinuation<Void, Never>? in
                    defer { state.waiter = nil }
                    return state.waiter
                }
                waiter?.resume()
            }
        }
    }
}
