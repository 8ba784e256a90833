/// When a watcher is sent what its run did. A run of short steps stores
/// something every few milliseconds, and sending each at once cost the
/// daemon a wake-up of its event loop and a socket write per step (a fifth
/// of its CPU in a watched run of `/bin/true` steps). So a watcher that was
/// just sent something twice within `interval` is held for the rest of
/// `interval` after each send, and what the run did meanwhile goes out
/// together. An event that follows a quiet spell goes out at once: only a
/// watcher already being sent more than one thing per `interval` waits,
/// and never longer than `interval`. A hold that gathered nothing ends
/// the holding.
struct WatchPacing {
    let interval: Duration
    private var lastSent: ContinuousClock.Instant?
    private var holding = false

    init(interval: Duration) {
        self.interval = interval
    }

    /// Something was sent at `now`; `gathered`: it had come during a hold.
    mutating func sent(at now: ContinuousClock.Instant, gathered: Bool) {
        holding = gathered || lastSent.map { now - $0 < interval } ?? false
        lastSent = now
    }

    /// A hold ended with nothing come during it.
    mutating func gatheredNothing() {
        holding = false
    }

    /// How long to hold the watcher before it waits for its run again: zero for not at all.
    func hold(at now: ContinuousClock.Instant) -> Duration {
        guard holding, let lastSent else { return .zero }
        return max(lastSent + interval - now, .zero)
    }
}
