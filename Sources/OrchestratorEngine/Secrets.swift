import OrchestratorModel
import Synchronization

/// Where the engine reads secrets' values as a step starts (SecretService).
public protocol SecretSource: Sendable {
    /// The values of these secrets. NotFound naming the first missing one;
    /// Conflict when one cannot be opened with this daemon's key.
    func reveal(_ names: [String]) async throws(OrchestratorError) -> [String: String]
}

/// No secrets at all: every one asked for is missing.
public struct NoSecrets: SecretSource {
    public init() {}

    public func reveal(_ names: [String]) async throws(OrchestratorError) -> [String: String] {
        guard let first = names.first else { return [:] }
        throw OrchestratorError.notFound("secret", first)
    }
}

/// The values of runs' secret parameters, in this daemon's memory only:
/// put when a run is started or resumed here, read as its steps start,
/// dropped when its executor ends. A restart forgets them, by design.
/// Each `keep` has a token of its own, and only its holder forgets it: an
/// executor ending (or a resume that lost its race) never drops the values
/// a newer resume put there meanwhile.
public final class SecretParamVault: Sendable {
    public struct Entry: Sendable {
        public let params: [String: String]
        public let token: UInt64
    }

    private let state = Mutex((entries: [String: Entry](), next: UInt64(1)))

    public init() {}

    @discardableResult
    public func keep(_ params: [String: String], for runId: String) -> UInt64 {
        state.withLock { state in
            let token = state.next
            state.next += 1
            state.entries[runId] = Entry(params: params, token: token)
            return token
        }
    }

    public func entry(for runId: String) -> Entry? {
        state.withLock { $0.entries[runId] }
    }

    public func params(for runId: String) -> [String: String]? {
        entry(for: runId)?.params
    }

    /// Drops the values kept under `token`, if they are still the ones kept.
    public func forget(_ runId: String, token: UInt64) {
        state.withLock { state in
            if state.entries[runId]?.token == token { state.entries[runId] = nil }
        }
    }
}
