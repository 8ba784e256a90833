import OrchestratorModel

/// Persistence of workflow definitions and their embedded steps. Every
/// change is a single atomic database operation: concurrent writers to one
/// workflow never overwrite each other.
public protocol WorkflowStore: Sendable {
    func createWorkflow(_ draft: WorkflowDraft) async throws(OrchestratorError) -> Workflow
    func workflow(_ key: WorkflowKey) async throws(OrchestratorError) -> Workflow
    /// Ordered by name; `after` is the `next` cursor of the previous page.
    func listWorkflows(limit: Int, after: String?) async throws(OrchestratorError) -> Page<Workflow>
    func updateWorkflow(named name: String, _ changes: WorkflowChanges) async throws(OrchestratorError) -> Workflow
    func deleteWorkflow(named name: String) async throws(OrchestratorError)

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
