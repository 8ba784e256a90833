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
public final class SecretParamVault: Sendable {
    private let values = Mutex([String: [String: String]]())

    public init() {}

    public func keep(_ params: [String: String], for runId: String) {
        values.withLock { $0[runId] = params }
    }

    public func params(for runId: String) -> [String: String]? {
        values.withLock { $0[runId] }
    }

    public func forget(_ runId: String) {
        _ = values.withLock { $0.removeValue(forKey: runId) }
    }
}
