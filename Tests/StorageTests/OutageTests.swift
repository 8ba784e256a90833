import Foundation
import MongoKit
import OrchestratorModel
import MongoStorage
import OrchestratorEngine
import OrchestratorServices
import Testing
import TestSupport

@Suite struct OutageTests {
    /// A stopped database must produce StorageUnavailable, not a hang, and the
    /// same store must work again once the server is back.
    @Test func aStoppedDatabaseIsReportedAndTheStoreRecovers() async throws {
        try await DatabaseServer.with { server in
            let timeoutMS: Int32 = 1500
            try await withTestPool(uri: server.uri, serverSelectionTimeoutMS: timeoutMS) { pool in
                let store = MongoWorkflowStore(pool: pool)
                try await store.prepare()
                let service = WorkflowService(workflows: store, runs: MongoRunStore(pool: pool), ids: ObjectIdSource(), clock: SystemClock())
                _ = try await service.create(WorkflowDraft(name: "before"))

                await server.stop()
                let started = ContinuousClock.now
                let error = await errorOf { try await service.create(WorkflowDraft(name: "during")) }
                let waited = ContinuousClock.now - started
                #expect(error?.kind.isStorageUnavailable == true, "got \(String(describing: error))")
                // A liveness bound, not a performance goal: the failure must come
                // from the configured server selection timeout, not from a hang.
                #expect(waited < .milliseconds(Int(timeoutMS)) + .seconds(10), "waited \(waited)")
                #expect(await errorOf { try await store.workflow(.name("before")) }?.kind.isStorageUnavailable == true)

                try await server.start()
                var recovered: Workflow?
                for _ in 0..<30 where recovered == nil {
                    recovered = try? await service.create(WorkflowDraft(name: "after"))
                    if recovered == nil { try await Task.sleep(for: .milliseconds(500)) }
                }
                #expect(recovered?.name == "after")
                #expect(try await store.workflow(.name("before")).name == "before")
            }
        }
    }

    @Test func anUnreachableServerFailsFastWithStorageUnavailable() async throws {
        let port = try await DatabaseServer.with { $0.port }  // a port that was just freed
        try await withTestPool(uri: "mongodb://127.0.0.1:\(port)/", serverSelectionTimeoutMS: 500) { pool in
            let error = await errorOf { try await MongoWorkflowStore(pool: pool).workflow(.name("x")) }
            #expect(error?.kind.isStorageUnavailable == true)
        }
    }
}
