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
    /// Every change below applies only while the stored version is
    /// `revision.basedOn` (else `OrchestratorError.versionConflict`), raises
    /// the version by one and records `revision.by` as `updatedBy`.
    ///
    /// Conflict when the new name is taken.
    func updateWorkflow(named name: String, _ changes: WorkflowChanges, _ revision: WorkflowRevision) async throws(OrchestratorError) -> Workflow
    /// Removes its kept versions too.
    func deleteWorkflow(named name: String) async throws(OrchestratorError)

    /// Conflict when the name is taken; ValidationFailed when the workflow is full (Limits.stepsPerWorkflow).
    func addStep(_ step: Step, toWorkflow workflow: String, _ revision: WorkflowRevision) async throws(OrchestratorError) -> Workflow
    func step(named name: String, inWorkflow workflow: String) async throws(OrchestratorError) -> Step
    /// Sorted by executionOrder, then name.
    func steps(inWorkflow workflow: String) async throws(OrchestratorError) -> [Step]
    func updateStep(named name: String, inWorkflow workflow: String, _ changes: StepChanges, _ revision: WorkflowRevision) async throws(OrchestratorError) -> Workflow
    func deleteStep(named name: String, fromWorkflow workflow: String, _ revision: WorkflowRevision) async throws(OrchestratorError) -> Workflow

    /// Keeps `workflow`'s definition as its version, immutable (collection
    /// `workflow_versions`, unique on workflow id and version). Keeping a
    /// version already kept changes nothing: a version number names one
    /// definition for ever, so the second copy would be the same.
    func keepVersion(_ workflow: Workflow) async throws(OrchestratorError)
    /// A kept version; nil when that version was never replaced (or never existed).
    func keptVersion(workflowId: String, version: Int) async throws(OrchestratorError) -> Workflow?
    /// Kept versions below `before` (all when nil), newest first.
    func keptVersions(workflowId: String, before: Int?, limit: Int) async throws(OrchestratorError) -> [Workflow]

    /// Makes `runId` the workflow's most recent run, unless a later run
    /// (a greater id) already is: every step shows `pending`, or its status
    /// in `statuses` (one write for the mark and the run's first statuses).
    /// Conditional so that a mark written late (in the background, as the
    /// run's first step already runs) never makes an older run the latest again.
    func markLatestRun(workflowId: String, runId: String, showing statuses: [String: StepStatus]) async throws(OrchestratorError)
    /// Shows steps' statuses in their workflow (one write), if `runId` is still the workflow's most recent run.
    func recordStepStatuses(workflowId: String, runId: String, _ statuses: [String: StepStatus]) async throws(OrchestratorError)
}

extension WorkflowStore {
    /// Every step shows `pending`.
    public func markLatestRun(workflowId: String, runId: String) async throws(OrchestratorError) {
        try await markLatestRun(workflowId: workflowId, runId: runId, showing: [:])
    }

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

extension WorkflowStore {
    /// The workflow as it was at `version` (nil: as it is now), from its
    /// kept versions; ValidationFailed for a version it never had.
    public func workflow(_ key: WorkflowKey, atVersion version: Int?) async throws(OrchestratorError) -> Workflow {
        let current = try await workflow(key)
        guard let version, version != current.version else { return current }
        let problems = WorkflowVersionRule.problems(version, "version", of: current)
        guard problems.isEmpty else { throw OrchestratorError.validation(problems) }
        guard let kept = try await keptVersion(workflowId: current.id, version: version) else {
            throw OrchestratorError.notFound(
                "workflow version", "\(current.name)@\(version)",
                message: "workflow '\(current.name)' has no version \(version) on record (it is at version \(current.version))")
        }
        return kept
    }
}

/// Which versions a workflow can be asked for.
public enum WorkflowVersionRule {
    public static func problems(_ version: Int, _ field: String, of workflow: Workflow) -> [FieldError] {
        (1...workflow.version).contains(version)
            ? [] : [FieldError(field: field, message: "must be a version of workflow '\(workflow.name)': 1 to \(workflow.version)")]
    }
}
