import Synchronization

/// Where new records' ids come from: 24 hex characters that sort by
/// creation (listings page through runs newest first by id). Each storage
/// brings its own: MongoDB's ObjectIds, or a counter in a simulation.
public protocol IdSource: Sendable {
    func next() -> String
}

/// Ids 000…001, 000…002, …: deterministic, for tests and simulations.
public final class SequentialIds: IdSource {
    private let counter = Mutex(0)

    public init() {}

    public func next() -> String {
        let value = counter.withLock { value in
            value += 1
            return value
        }
        let hex = String(value, radix: 16)
        return String(repeating: "0", count: max(0, 24 - hex.count)) + hex
    }
}
