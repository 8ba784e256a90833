import MongoKit
import OrchestratorModel
import OrchestratorStore
import TestSupport
import Testing

/// A prepared store on a fresh database of the shared test server.
func withStore<T>(_ body: (MongoWorkflowStore) async throws -> T) async throws -> T {
    try await withTestPool { pool in
        let store = MongoWorkflowStore(pool: pool)
        try await store.prepare()
        return try await body(store)
    }
}

func step(_ name: String, order: Int = 0, _ exec: String...) -> Step {
    Step(name: name, executionOrder: order, action: Action(exec: exec.isEmpty ? ["/bin/true"] : exec))
}

/// The error a call threw, or nil when it succeeded.
func errorOf<T>(_ body: () async throws -> T) async -> OrchestratorError? {
    do {
        _ = try await body()
        return nil
    } catch let error as OrchestratorError {
        return error
    } catch {
        Issue.record("expected an OrchestratorError, got \(error)")
        return nil
    }
}

extension OrchestratorError.Kind {
    var isConflict: Bool { if case .conflict = self { true } else { false } }
    var isNotFound: Bool { if case .notFound = self { true } else { false } }
    var isStorageUnavailable: Bool { if case .storageUnavailable = self { true } else { false } }
    var validationFields: [String]? { if case .validationFailed(let e) = self { e.map(\.field) } else { nil } }
}
