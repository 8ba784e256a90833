import NIOConcurrencyHelpers

/// How many clients are connected and how many of them watch a run, for
/// `daemon.status`: a watcher that went away must not stay counted (nor
/// keep reading the database).
public final class ClientActivity: Sendable {
    struct Counts {
        var connections = 0
        var watchers = 0
    }

    private let state = NIOLockedValueBox(Counts())

    public init() {}

    var counts: Counts { state.withLockedValue { $0 } }

    /// Counts a connection while `body` serves it.
    func connection<T>(_ body: () async -> T) async -> T {
        state.withLockedValue { $0.connections += 1 }
        defer { state.withLockedValue { $0.connections -= 1 } }
        return await body()
    }

    /// Counts a watcher while `body` streams to it.
    func watcher<T, E: Error>(_ body: () async throws(E) -> T) async throws(E) -> T {
        state.withLockedValue { $0.watchers += 1 }
        defer { state.withLockedValue { $0.watchers -= 1 } }
        return try await body()
    }
}
