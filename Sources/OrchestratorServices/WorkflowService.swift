import Foundation
import OrchestratorEngine
import OrchestratorModel
import OrchestratorStorage

/// The rules of workflows and their steps: what is valid, what may be
/// deleted, what a new workflow starts as. The store persists what this
/// decides; the JSON-RPC harness only translates.
public struct WorkflowService: Sendable {
    private let workflows: any WorkflowStore
    private let runs: any RunStore
    private let ids: any IdSource
    private let clock: any EngineClock

    public init(workflows: any WorkflowStore, runs: any RunStore, ids: any IdSource, clock: any EngineClock) {
        self.workflows = workflows
        self.runs = runs
        self.ids = ids
        self.clock = clock
    }

    public func create(_ draft: WorkflowDraft) async throws(OrchestratorError) -> Workflow {
        try draft.validate()
        let now = clock.now().milliseconds
        let workflow = Workflow(
            id: ids.next(), name: draft.name, description: draft.description,
            steps: draft.steps.map { var s = $0; s.status = .pending; return s }, locks: draft.locks,
            version: 1, createdAt: now, updatedAt: now)
        try await workflows.createWorkflow(workflow)
        return workflow
    }

    public func get(_ key: WorkflowKey) async throws(OrchestratorError) -> Workflow {
        try await workflows.workflow(key)
    }

    public func list(limit: Int, after: String?) async throws(OrchestratorError) -> Page<Workflow> {
        try PageRequest.check(limit: limit)
        return try await workflows.listWorkflows(limit: limit, after: after)
    }

    public func update(_ name: String, _ changes: WorkflowChanges) async throws(OrchestratorError) -> Workflow {
        try changes.validate()
        return try await workflows.updateWorkflow(named: name, changes)
    }

    /// Refused while a run of the workflow is queued or running: its steps
    /// would lose the definition they show their statuses in.
    public func delete(_ name: String) async throws(OrchestratorError) {
        let workflow = try await workflows.workflow(.name(name))
        if try await runs.hasActiveRun(workflowId: workflow.id) {
            throw OrchestratorError.conflict("workflow '\(name)' has a run in progress; cancel it or wait for it to end", details: ["name": name])
        }
        try await workflows.deleteWorkflow(named: name)
    }

    public func addStep(_ step: Step, to workflow: String) async throws(OrchestratorError) -> Workflow {
        var v = Validator()
        v.merge(step.problems(at: "step"))
        try v.check()
        return try await workflows.addStep(step, toWorkflow: workflow)
    }

    public func step(_ name: String, of workflow: String) async throws(OrchestratorError) -> Step {
        try await workflows.step(named: name, inWorkflow: workflow)
    }

    public func steps(of workflow: String) async throws(OrchestratorError) -> [Step] {
        try await workflows.steps(inWorkflow: workflow)
    }

    public func updateStep(_ name: String, of workflow: String, _ changes: StepChanges) async throws(OrchestratorError) -> Workflow {
        try changes.validate()
        return try await workflows.updateStep(named: name, inWorkflow: workflow, changes)
    }

    public func deleteStep(_ name: String, of workflow: String) async throws(OrchestratorError) -> Workflow {
        try await workflows.deleteStep(named: name, fromWorkflow: workflow)
    }
}

/// The paging rules every listing shares.
enum PageRequest {
    static func check(limit: Int, after: String? = nil, afterIsRunId: Bool = false) throws(OrchestratorError) {
        var v = Validator()
        v.require(Limits.pageSize.contains(limit), "limit", "must be between \(Limits.pageSize.lowerBound) and \(Limits.pageSize.upperBound)")
        if afterIsRunId, let after { v.require(ObjectIdRule.isValid(after), "after", "must be a run id (the previous page's next)") }
        try v.check()
    }
}
