import Foundation
import InMemoryStorage
import Logging
import OrchestratorEngine
import OrchestratorModel
import OrchestratorServices
import OrchestratorStorage
import Testing

/// The rules of runs and workflows, decided by the services, over the
/// in-memory stores: no database, no process, no engine running.
@Suite struct RunServiceTests {
    struct StillClock: EngineClock {
        func now() -> Date { Date(timeIntervalSince1970: 1_800_000_000) }
        func uptime() -> Duration { .zero }
        func sleep(for duration: Duration) async {}
    }

    struct Fixture {
        let runs = InMemoryRunStore()
        let workflowStore = InMemoryWorkflowStore()
        let targetStore = InMemoryTargetStore()
        let service: RunService
        let workflows: WorkflowService

        init() {
            let ids = SequentialIds()
            // An engine that is never started: runs stay queued, as nobody executes them.
            let world = EngineWorld(clock: StillClock(), launcher: ProcessLauncher(), spawn: { _ in })
            let engine = Engine(
                settings: EngineSettings(ownerId: "test", stepGate: "/nonexistent"), runs: runs, workflows: workflowStore, world: world,
                logger: Logger(label: "test"))
            service = RunService(runs: runs, workflows: workflowStore, targets: targetStore, engine: engine, ids: ids, clock: StillClock(), logger: Logger(label: "test"))
            workflows = WorkflowService(workflows: workflowStore, runs: runs, ids: ids, clock: StillClock())
        }

        func workflow(_ steps: [String] = ["backup", "push"], exec: [String] = ["/bin/true"]) async throws {
            _ = try await workflows.create(WorkflowDraft(
                name: "rollout", steps: steps.enumerated().map { Step(name: $1, executionOrder: $0, action: Action(exec: exec)) }))
        }

        func start(_ params: [String: String] = [:]) async throws -> Run {
            try await service.start(workflow: "rollout", params: params, requester: Requester(uid: 1000, gid: 1000, pid: 42))
        }
    }

    func kind(_ body: () async throws -> Void) async -> OrchestratorError.Kind? {
        do {
            try await body()
            return nil
        } catch {
            return (error as? OrchestratorError)?.kind
        }
    }

    @Test func aStartedRunIsQueuedWithASnapshotOfItsWorkflow() async throws {
        let fixture = Fixture()
        try await fixture.workflow()
        let run = try await fixture.start()
        #expect(run.status == .queued)
        #expect(run.definition.map(\.name) == ["backup", "push"])
        #expect(run.steps.map(\.status) == [.pending, .pending])
        #expect(run.requestedBy.uid == 1000)
        #expect(run.events.map(\.status) == ["queued"])
        #expect(try await fixture.service.get(run.id) == run)
    }

    @Test func aRunMissingAParameterIsRefusedAndNothingIsStored() async throws {
        let fixture = Fixture()
        try await fixture.workflow(exec: ["/usr/bin/ping", "{{params.host}}"])
        let refused = await kind { _ = try await fixture.start() }
        guard case .validationFailed(let errors)? = refused else { Issue.record("expected a validation error, got \(String(describing: refused))"); return }
        #expect(errors.map(\.field).contains("params.host"))
        #expect(fixture.runs.allRunIds.isEmpty)
    }

    @Test func cancellingAQueuedRunNobodyExecutesEndsItAtOnce() async throws {
        let fixture = Fixture()
        try await fixture.workflow()
        let run = try await fixture.start()
        let cancelled = try await fixture.service.cancel(run.id)
        #expect(cancelled.status == .cancelled)
        #expect(cancelled.steps.map(\.status) == [.cancelled, .cancelled])
        #expect(cancelled.events.map(\.sequence) == [0, 1, 2, 3])
        #expect(cancelled.events.last?.status == "cancelled")
        #expect(await kind { _ = try await fixture.service.cancel(run.id) } == .conflict)
    }

    @Test func aRunSomeoneExecutesIsOnlyMarkedForCancelling() async throws {
        let fixture = Fixture()
        try await fixture.workflow()
        let run = try await fixture.start()
        // Another daemon holds it.
        _ = try #require(try await fixture.runs.claim(id: run.id, owner: "peer", until: .distantFuture, now: .now))
        let marked = try await fixture.service.cancel(run.id)
        #expect(marked.status == .queued)
        #expect(marked.cancelRequested)
    }

    @Test func onlyAFailedOrCancelledRunCanBeResumedAndItsUnfinishedStepsRunAgain() async throws {
        let fixture = Fixture()
        try await fixture.workflow()
        let run = try await fixture.start()
        #expect(await kind { _ = try await fixture.service.resume(run.id) } == .conflict)
        _ = try await fixture.service.cancel(run.id)
        let resumed = try await fixture.service.resume(run.id)
        #expect(resumed.status == .queued)
        #expect(!resumed.cancelRequested)
        #expect(resumed.finishedAt == nil)
        #expect(resumed.steps.map(\.status) == [.pending, .pending])
        #expect(resumed.events.last?.message == "resumed from cancelled")
    }

    @Test func aWorkflowWithARunInProgressCannotBeDeleted() async throws {
        let fixture = Fixture()
        try await fixture.workflow()
        let run = try await fixture.start()
        #expect(await kind { try await fixture.workflows.delete("rollout") } == .conflict)
        _ = try await fixture.service.cancel(run.id)
        try await fixture.workflows.delete("rollout")
        #expect(await kind { _ = try await fixture.workflows.get(.name("rollout")) } == .notFound(resource: "workflow", key: "rollout"))
    }

    @Test func listingsCheckTheirPageRequests() async throws {
        let fixture = Fixture()
        guard case .validationFailed(let errors)? = await kind({ _ = try await fixture.service.list(workflow: nil, status: nil, limit: 0, after: "x") }) else {
            Issue.record("expected a validation error")
            return
        }
        #expect(errors.map(\.field) == ["limit", "after"])
        #expect(await kind { _ = try await fixture.workflows.list(limit: 5000, after: nil) } != nil)
    }
}
