import OrchestratorModel

/// Persistence of workflow definitions and their embedded steps. Every
/// change is a single atomic operation guarded by its condition (a unique
/// name, an expected version, "no step of that name yet"): concurrent
/// writers to one workflow never overwrite each other. Inputs arrive
/// validated (WorkflowService); a store only says which guard failed.
public protocol WorkflowStore: Sendable {
    /// Conflict when the name is taken.
    func createWorkflow(_ workflow: Workflow) async throws(OrchestratorError)
    func workflow(_ key: WorkflowKey) async throws(OrchestratorError) -> Workflow
    /// Ordered by name; `after` is the `next` cursor of the previous page.
    func listWorkflows(limit: Int, after: String?) async throws(OrchestratorError) -> Page<Workflow>
    /// Conflict when `changes.expectedVersion` no longer matches or the new name is taken.
    func updateWorkflow(named name: String, _ changes: WorkflowChanges) async throws(OrchestratorError) -> Workflow
    func deleteWorkflow(named name: String) async throws(OrchestratorError)

    /// Conflict when the name is taken; ValidationFailed when the workflow is full (Limits.stepsPerWorkflow).
    func addStep(_ step: Step, toWorkflow workflow: String) async throws(OrchestratorError) -> Workflow
    func step(named name: String, inWorkflow workflow: String) async throws(OrchestratorError) -> Step
    /// Sorted by executionOrder, then name.
    func steps(inWorkflow workflow: String) async throws(OrchestratorError) -> [Step]
    func updateStep(named name: String, inWorkflow workflow: String, _ changes: StepChanges) async throws(OrchestratorError) -> Workflow
    func deleteStep(named name: String, fromWorkflow workflow: String) async throws(OrchestratorError) -> Workflow

    /// Makes `runId` the workflow's most recent run: every step shows `pending`.
    func markLatestRun(workflowId: String, runId: String) async throws(OrchestratorError)
    /// Shows steps' statuses in their workflow (one write), if `runId` is still the workflow's most recent run.
    func recordStepStatuses(workflowId: String, runId: String, _ statuses: [String: StepStatus]) async throws(OrchestratorError)
}

extension WorkflowStore {
    /// Read from the workflow: what every store does, unless it knows a cheaper way.
    public func step(named name: String, inWorkflow workflow: String) async throws(OrchestratorError) -> Step {
        guard let step = try await self.workflow(.name(workflow)).steps.first(where: { $0.name == name }) else {
            throw OrchestratorError.notFound("step", "\(workflow)/\(name)")
        }
        return step
    }

    public func steps(inWorkflow workflow: String) async throws(OrchestratorError) -> [Step] {
        try await self.workflow(.name(workflow)).orderedSteps
    }
}
