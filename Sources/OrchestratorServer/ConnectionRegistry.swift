import NIOConcurrencyHelpers
import NIOCore

/// The server's open connections, for a graceful stop (each connection's
/// input is closed so that it ends once its current request is answered)
/// and for `daemon.status`.
/// A connection counts from the moment it is active, not from its
/// initializer: closing the input of a channel NIO has not fully registered
/// yet trips an assertion in NIO (seen as SIGILL when SIGTERM met a
/// connection that was just being accepted).
public final class ConnectionRegistry: Sendable {
    private struct State {
        var stopping = false
        var channels: [ObjectIdentifier: any Channel] = [:]
        /// The connections being served (not those turned away).
        var admitted: Set<ObjectIdentifier> = []
        /// Connections turned away since the last warning about it, and when that was.
        var turnedAway = 0
        var lastWarning: ContinuousClock.Instant?
    }

    private let state = NIOLockedValueBox(State())

    public init() {}

    var count: Int { state.withLockedValue { $0.channels.count } }

    /// Stops tracking: from now on a connection that becomes active has its
    /// input closed at once. Returns the active connections, to close theirs.
    func stop() -> [any Channel] {
        state.withLockedValue { state in
            state.stopping = true
            return Array(state.channels.values)
        }
    }

    /// The pipeline handler that reports a connection's activation and end.
    func tracker() -> some ChannelInboundHandler {
        Tracker(registry: self)
    }

    /// Admits a connection to be served if fewer than `maximum` are.
    func admit(_ channel: any Channel, maximum: Int) -> Bool {
        state.withLockedValue { state in
            guard state.admitted.count < maximum else { return false }
            state.admitted.insert(ObjectIdentifier(channel))
            return true
        }
    }

    func release(_ channel: any Channel) {
        _ = state.withLockedValue { $0.admitted.remove(ObjectIdentifier(channel)) }
    }

    /// Counts a connection turned away; returns how many there were since
    /// the last warning when it is time for another (at most one in ten
    /// seconds, so a flood does not flood the journal too).
    func noteTurnedAway() -> Int? {
        let now = ContinuousClock.now
        return state.withLockedValue { state -> Int? in
            state.turnedAway += 1
            guard state.lastWarning.map({ now - $0 >= .seconds(10) }) ?? true else { return nil }
            defer { (state.turnedAway, state.lastWarning) = (0, now) }
            return state.turnedAway
        }
    }

    fileprivate func activated(_ channel: any Channel) -> Bool {
        let admitted = state.withLockedValue { state -> Bool in
            guard !state.stopping else { return false }
            state.channels[ObjectIdentifier(channel)] = channel
            // Recorded under the lock: two changes at once cannot leave the older count shown.
            ServerMetrics.connections.record(state.channels.count)
            return true
        }
        if admitted { ServerMetrics.connectionsAccepted.increment() }
        return admitted
    }

    fileprivate func ended(_ channel: any Channel) {
        state.withLockedValue { state in
            state.channels.removeValue(forKey: ObjectIdentifier(channel))
            ServerMetrics.connections.record(state.channels.count)
        }
    }
}

private final class Tracker: ChannelInboundHandler, Sendable {
    typealias InboundIn = NIOAny
    private let registry: ConnectionRegistry

    init(registry: ConnectionRegistry) {
        self.registry = registry
    }

    func channelActive(context: ChannelHandlerContext) {
        context.fireChannelActive()
        if !registry.activated(context.channel) {
            context.channel.close(mode: .input, promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        registry.ended(context.channel)
        context.fireChannelInactive()
    }
}
