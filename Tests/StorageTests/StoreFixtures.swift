import InMemoryStorage
import MongoKit
import MongoStorage
import OrchestratorEngine
import OrchestratorModel
import OrchestratorServices
import OrchestratorStorage
import TestSupport
import Testing

/// The two implementations of the storage protocols: the same tests run
/// on both, so the in-memory one the simulation uses keeps MongoDB's guards.
enum Backend: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case mongodb, memory
    var testDescription: String { rawValue }
}

/// The workflow service over a store of `backend`: for MongoDB, prepared on
/// a fresh database of the shared test server.
struct Workflows {
    let service: WorkflowService
    let store: any WorkflowStore
}

func withWorkflows<T>(_ backend: Backend, _ body: (Workflows) async throws -> T) async throws -> T {
    func make(_ store: any WorkflowStore, _ runs: any RunStore, _ ids: any IdSource) -> Workflows {
        Workflows(service: WorkflowService(workflows: store, runs: runs, ids: ids, clock: SystemClock()), store: store)
    }
    switch backend {
    case .memory:
        return try await body(make(InMemoryWorkflowStore(), InMemoryRunStore(), SequentialIds()))
    case .mongodb:
        return try await withTestPool { pool in
            let store = MongoWorkflowStore(pool: pool)
            try await store.prepare()
            return try await body(make(store, MongoRunStore(pool: pool), ObjectIdSource()))
        }
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
