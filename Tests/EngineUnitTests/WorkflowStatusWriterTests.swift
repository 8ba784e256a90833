import Foundation
import InMemoryStorage
@testable import OrchestratorEngine
import OrchestratorModel
import OrchestratorStorage
import Synchronization
import Testing

/// The writer that shows a run's step statuses in its workflow.
@Suite struct WorkflowStatusWriterTests {
    /// The in-memory store, and which run asked for each shown-status write.
    final class CountingWorkflows: WorkflowStore {
        let inner = InMemoryWorkflowStore()
        private let asked = Mutex<[String]>([])

        /// The writes `runId` asked for, marks and statuses alike.
        func writes(by runId: String) -> Int { asked.withLock { $0.filter { $0 == runId }.count } }

        func markLatestRun(workflowId: String, runId: String, showing statuses: [String: StepStatus]) async throws(OrchestratorError) {
            asked.withLock { $0.append(runId) }
            try await inner.markLatestRun(workflowId: workflowId, runId: runId, showing: statuses)
        }

        func recordStepStatuses(workflowId: String, runId: String, _ statuses: [String: StepStatus]) async throws(OrchestratorError) {
            asked.withLock { $0.append(runId) }
            try await inner.recordStepStatuses(workflowId: workflowId, runId: runId, statuses)
        }

        func createWorkflow(_ workflow: Workflow) async throws(OrchestratorError) { try await inner.createWorkflow(workflow) }
        func workflow(_ key: WorkflowKey) async throws(OrchestratorError) -> Workflow { try await inner.workflow(key) }
        func listWorkflows(limit: Int, after: String?) async throws(OrchestratorError) -> Page<Workflow> {
            try await inner.listWorkflows(limit: limit, after: after)
        }
        func updateWorkflow(named name: String, _ changes: WorkflowChanges, _ revision: WorkflowRevision) async throws(OrchestratorError) -> Workflow {
            try await inner.updateWorkflow(named: name, changes, revision)
        }
        func deleteWorkflow(named name: String) async throws(OrchestratorError) { try await inner.deleteWorkflow(named: name) }
        func addStep(_ step: Step, toWorkflow workflow: String, _ revision: WorkflowRevision) async throws(OrchestratorError) -> Workflow {
            try await inner.addStep(step, toWorkflow: workflow, revision)
        }
        func updateStep(named name: String, inWorkflow workflow: String, _ changes: StepChanges, _ revision: WorkflowRevision) async throws(OrchestratorError) -> Workflow {
            try await inner.updateStep(named: name, inWorkflow: workflow, changes, revision)
        }
        func deleteStep(named name: String, fromWorkflow workflow: String, _ revision: WorkflowRevision) async throws(OrchestratorError) -> Workflow {
            try await inner.deleteStep(named: name, fromWorkflow: workflow, revision)
        }
        func keepVersion(_ workflow: Workflow) async throws(OrchestratorError) { try await inner.keepVersion(workflow) }
        func keptVersion(workflowId: String, version: Int) async throws(OrchestratorError) -> Workflow? {
            try await inner.keptVersion(workflowId: workflowId, version: version)
        }
        func keptVersions(workflowId: String, before: Int?, limit: Int) async throws(OrchestratorError) -> [Workflow] {
            try await inner.keptVersions(workflowId: workflowId, before: before, limit: limit)
        }
    }

    /// Waits (up to 10 s) until `condition` holds; false if it never did.
    func eventually(_ condition: () -> Bool) async -> Bool {
        for _ in 0..<1000 where !condition() {
            try? await Task.sleep(for: .milliseconds(10))
        }
        return condition()
    }

    /// Two runs of one workflow overlap: the older run ends after the newer
    /// one became the latest. What the workflow shows is the newer run's
    /// either way; with the daemon's writers sharing what they marked, the
    /// older run's last write (which its filter would refuse) is never sent.
    @Test(arguments: [true, false])
    func anOlderRunsWritesStopOnceANewerRunIsTheLatest(shared: Bool) async throws {
        let store = CountingWorkflows()
        let workflow = Workflow(
            id: "w1", name: "rollout", description: "", steps: [Step(name: "push", executionOrder: 0, action: Action(exec: ["/bin/true"]))],
            version: 1, createdAt: Date(), updatedAt: Date())
        try await store.createWorkflow(workflow)
        let marks = LatestMarks()
        func writer(_ runId: String) -> WorkflowStatusWriter {
            WorkflowStatusWriter(
                workflows: store, workflowId: workflow.id, runId: runId, clock: SystemClock(), marksLatest: true, marks: shared ? marks : LatestMarks())
        }
        let older = writer("run-1"), newer = writer("run-2")
        let olderWriting = Task { await older.run() }
        older.show("push", .running)
        #expect(await eventually { store.writes(by: "run-1") == 1 }, "the older run marks itself showing its first status, in one write")

        let newerWriting = Task { await newer.run() }
        newer.show("push", .running)
        #expect(await eventually { store.writes(by: "run-2") == 1 })
        #expect(try await store.workflow(.id(workflow.id)).steps.map(\.status) == [.running])

        await older.finishWriting([("push", .failed)])
        await olderWriting.value
        #expect(store.writes(by: "run-1") == (shared ? 1 : 2), "the older run's last statuses are sent only when its writer cannot know")
        #expect(try await store.workflow(.id(workflow.id)).steps.map(\.status) == [.running], "the newer run's status stays shown")

        await newer.finishWriting([("push", .succeeded)])
        await newerWriting.value
        #expect(try await store.workflow(.id(workflow.id)).steps.map(\.status) == [.succeeded])
    }

    /// A run marked while no writer of its workflow is left is forgotten: a
    /// workflow's entry lives as long as its runs execute here.
    @Test func aWorkflowsMarkIsForgottenWithItsLastWriter() {
        let marks = LatestMarks()
        marks.join("w1")
        marks.join("w1")
        marks.marked("w1", "run-2")
        marks.marked("w1", "run-1")
        #expect(marks.isSuperseded("w1", "run-1"), "a mark never moves back")
        #expect(!marks.isSuperseded("w1", "run-2") && !marks.isSuperseded("w1", "run-3") && !marks.isSuperseded("w2", "run-1"))
        marks.leave("w1")
        #expect(marks.isSuperseded("w1", "run-1"), "one writer is still at work")
        marks.leave("w1")
        #expect(!marks.isSuperseded("w1", "run-1"))
        marks.marked("w1", "run-9")
        #expect(!marks.isSuperseded("w1", "run-1"), "nothing is recorded for a workflow no writer works for")
    }
}
