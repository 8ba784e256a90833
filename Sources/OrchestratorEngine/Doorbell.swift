import NIOConcurrencyHelpers

/// Wakes one waiting loop (the claim loop, an executor, a status writer):
/// rings that come while it is busy count as one.
final class Doorbell: Sendable {
    let rings: AsyncStream<Void>
    private let continuation: AsyncStream<Void>.Continuation
    private let closed = NIOLockedValueBox(false)

    init() {
        (rings, continuation) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    var isClosed: Bool { closed.withLockedValue { $0 } }

    func ring() {
        continuation.yield()
    }

    func close() {
        closed.withLockedValue { $0 = true }
        continuation.finish()
    }
}
