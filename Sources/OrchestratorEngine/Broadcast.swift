import NIOConcurrencyHelpers

/// Hands what the engine publishes under a key (a run's id) to whoever in
/// this daemon subscribed to that key, without ever making the publisher
/// wait: each subscription keeps items up to `capacity` (by `cost`) until
/// its reader takes them, and is told when it lost some. Optionally the last
/// items of each key held open (`hold`), up to `backlogCost`, are kept for
/// those who subscribe later, until the key's last holder lets it go.
public final class Broadcast<Item: Sendable>: Sendable {
    private struct State {
        var subscriptions: [String: [Int: Subscription]] = [:]
        var backlogs: [String: Backlog] = [:]
        var nextId = 0
    }

    /// The newest items of one key, oldest first, what they cost together,
    /// and how many hold the key open.
    private struct Backlog {
        var items: [(item: Item, cost: Int)] = []
        var cost = 0
        /// Some of the key's items no longer are in it.
        var truncated = false
        var holders = 0
    }

    private let state = NIOLockedValueBox(State())
    private let capacity: Int
    private let backlogCost: Int
    private let cost: @Sendable (Item) -> Int

    public init(capacity: Int, backlogCost: Int = 0, cost: @escaping @Sendable (Item) -> Int = { _ in 1 }) {
        self.capacity = capacity
        self.backlogCost = backlogCost
        self.cost = cost
    }

    /// Starts collecting what is published under `key` (first the backlog); `cancel()` ends it.
    public func subscribe(_ key: String) -> Subscription {
        state.withLockedValue { state in
            state.nextId += 1
            let subscription = Subscription(key: key, id: state.nextId, capacity: capacity, cost: cost, broadcast: self)
            // In the same critical section as the registration: nothing is missed or seen twice.
            if let backlog = state.backlogs[key] { subscription.keep(backlog.items.map(\.item), truncated: backlog.truncated) }
            state.subscriptions[key, default: [:]][state.nextId] = subscription
            return subscription
        }
    }

    fileprivate func remove(_ subscription: Subscription) {
        state.withLockedValue { state in
            state.subscriptions[subscription.key]?[subscription.id] = nil
            if state.subscriptions[subscription.key]?.isEmpty == true { state.subscriptions[subscription.key] = nil }
        }
    }

    public func publish(_ key: String, _ item: Item) {
        let listeners = state.withLockedValue { state -> [Subscription] in
            // Kept only under a key someone holds open: nothing outlives its run.
            if state.backlogs[key] != nil { Self.keep(item, cost: cost(item), in: &state.backlogs[key]!, upTo: backlogCost) }
            return state.subscriptions[key].map { Array($0.values) } ?? []
        }
        for listener in listeners { listener.deliver(item) }
    }

    /// Tells every reader of `key` that it may have missed something (as a
    /// drop does), and wakes it: what it has not seen is to be read elsewhere now.
    public func interrupt(_ key: String) {
        let listeners = state.withLockedValue { $0.subscriptions[key].map { Array($0.values) } ?? [] }
        for listener in listeners { listener.interrupt() }
    }

    /// Keeps a backlog of `key` from now on, until every `hold` of it is let go.
    public func hold(_ key: String) {
        guard backlogCost > 0 else { return }
        state.withLockedValue { $0.backlogs[key, default: Backlog()].holders += 1 }
    }

    /// Lets go of one `hold` of `key`; the last one drops its backlog (later subscribers start from nothing).
    public func letGo(_ key: String) {
        guard backlogCost > 0 else { return }
        state.withLockedValue { state in
            guard let holders = state.backlogs[key]?.holders else { return }
            if holders <= 1 { state.backlogs[key] = nil } else { state.backlogs[key]?.holders = holders - 1 }
        }
    }

    private static func keep(_ item: Item, cost: Int, in backlog: inout Backlog, upTo budget: Int) {
        backlog.items.append((item, cost))
        backlog.cost += cost
        var dropped = 0
        while backlog.cost > budget, dropped < backlog.items.count - 1 {
            backlog.cost -= backlog.items[dropped].cost
            dropped += 1
        }
        if dropped > 0 {
            backlog.items.removeFirst(dropped)
            backlog.truncated = true
        }
    }

    /// One reader's items, kept until it takes them: at most `capacity` (a
    /// reader that falls further behind is told).
    public final class Subscription: WakeUpSource {
        fileprivate let key: String
        fileprivate let id: Int
        private let capacity: Int
        private let cost: @Sendable (Item) -> Int
        private let broadcast: Broadcast<Item>

        private struct State {
            var items: [Item] = []
            /// What `items` cost together.
            var held = 0
            var dropped = false
            var signalled = false
            var parked: WakeUp?
        }

        private let state = NIOLockedValueBox(State())

        fileprivate init(key: String, id: Int, capacity: Int, cost: @escaping @Sendable (Item) -> Int, broadcast: Broadcast<Item>) {
            self.key = key
            self.id = id
            self.capacity = capacity
            self.cost = cost
            self.broadcast = broadcast
        }

        public func cancel() {
            broadcast.remove(self)
            wake()
        }

        /// The backlog, kept before anyone waits: the first wait returns at once.
        fileprivate func keep(_ items: [Item], truncated: Bool) {
            state.withLockedValue { state in
                for item in items { add(item, to: &state) }
                state.dropped = state.dropped || truncated
                state.signalled = true
            }
        }

        /// Kept and signalled in one critical section: a `take()` in between
        /// would leave a signal with nothing behind it (a needless read).
        fileprivate func deliver(_ item: Item) {
            state.withLockedValue { state in
                add(item, to: &state)
                return Self.signal(&state)
            }?.ring()
        }

        fileprivate func interrupt() {
            state.withLockedValue { state in
                state.dropped = true
                return Self.signal(&state)
            }?.ring()
        }

        /// Kept if it fits in `capacity`; else noted as dropped.
        private func add(_ item: Item, to state: inout State) {
            let cost = cost(item)
            guard state.held + cost <= capacity else {
                state.dropped = true
                return
            }
            state.items.append(item)
            state.held += cost
        }

        /// What arrived since the last call; `complete` is false when some was dropped.
        public func take() -> (items: [Item], complete: Bool) {
            state.withLockedValue { state in
                defer {
                    state.items.removeAll(keepingCapacity: true)
                    state.held = 0
                    state.dropped = false
                    state.signalled = false
                }
                return (state.items, !state.dropped)
            }
        }

        /// Its reader waits for it with a `WakeUp` (one wait at a time).
        public func park(_ wakeUp: WakeUp) -> Bool {
            state.withLockedValue { state in
                if state.signalled {
                    state.signalled = false
                    return false
                }
                precondition(state.parked == nil, "one wait at a time")
                state.parked = wakeUp
                return true
            }
        }

        public func unpark(_ wakeUp: WakeUp) {
            state.withLockedValue { state in
                if state.parked === wakeUp { state.parked = nil }
            }
        }

        private func wake() {
            state.withLockedValue { Self.signal(&$0) }?.ring()
        }

        /// The wake-up to ring, or a signal kept for the next wait.
        private static func signal(_ state: inout State) -> WakeUp? {
            defer { state.parked = nil }
            if state.parked == nil { state.signalled = true }
            return state.parked
        }
    }
}
