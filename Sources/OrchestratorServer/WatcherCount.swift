import NIOConcurrencyHelpers

/// How many `run.watch` streams are in progress, for `daemon.status`: a
/// watcher that went away must not stay counted (nor keep reading the
/// database).
final class WatcherCount: Sendable {
    private let count = NIOLockedValueBox(0)

    var current: Int { count.withLockedValue { $0 } }

    /// Counts a watcher while `body` streams to it.
    func watching<T, E: Error>(_ body: () async throws(E) -> T) async throws(E) -> T {
        count.withLockedValue { $0 += 1 }
        defer { count.withLockedValue { $0 -= 1 } }
        return try await body()
    }
}
