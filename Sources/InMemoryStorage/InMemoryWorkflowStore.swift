import Foundation
import OrchestratorModel
import OrchestratorStorage
import Synchronization

/// Workflows in memory, for tests and the simulation, with the guards of
/// the MongoDB store: a unique name, the expected version, "no step of that
/// name yet", the step limit, and the latest run that shown statuses follow.
public final class InMemoryWorkflowStore: WorkflowStore {
    private struct Stored {
        var workflow: Workflow
        var lastRunId: String?
    }

    private let state = Mutex([String: Stored]())
    /// Kept versions by workflow id, then version.
    private let kept = Mutex([String: [Int: Workflow]]())

    public init() {}

    public func createWorkflow(_ workflow: Workflow) async throws(OrchestratorError) {
        try state.withLock { stored throws(OrchestratorError) in
            guard !stored.values.contains(where: { $0.workflow.name == workflow.name }) else { throw Self.nameTaken(workflow.name) }
            stored[workflow.id] = Stored(workflow: workflow)
        }
    }

    public func workflow(_ key: WorkflowKey) async throws(OrchestratorError) -> Workflow {
        guard let found = state.withLock({ Self.find($0, key)?.workflow }) else { throw OrchestratorError.notFound("workflow", key.description) }
        return found
    }

    public func listWorkflows(limit: Int, after: String?) async throws(OrchestratorError) -> Page<Workflow> {
        let sorted = state.withLock { $0.values.map(\.workflow).filter { after == nil || $0.name > after! }.sorted { $0.name < $1.name } }
        let items = Array(sorted.prefix(limit))
        return Page(items: items, next: sorted.count > limit ? items.last?.name : nil)
    }

    public func updateWorkflow(named name: String, _ changes: WorkflowChanges, _ revision: WorkflowRevision) async throws(OrchestratorError) -> Workflow {
        try change(name, revision) { workflow throws(OrchestratorError) in
            if let newName = changes.name { workflow.name = newName }
            if let description = changes.description { workflow.description = description }
            if let locks = changes.locks { workflow.locks = locks }
            if let window = changes.window { workflow.window = window }
            if let secretParams = changes.secretParams { workflow.secretParams = secretParams }
            if let steps = changes.steps { workflow.steps = steps.map { var s = $0; s.status = .pending; return s } }
        }
    }

    public func deleteWorkflow(named name: String) async throws(OrchestratorError) {
        try state.withLock { stored throws(OrchestratorError) in
            guard let found = Self.find(stored, .name(name)) else { throw OrchestratorError.notFound("workflow", name) }
            stored[found.workflow.id] = nil
            kept.withLock { $0[found.workflow.id] = nil }
        }
    }

    public func keepVersion(_ workflow: Workflow) async throws(OrchestratorError) {
        kept.withLock { kept in
            if kept[workflow.id]?[workflow.version] == nil { kept[workflow.id, default: [:]][workflow.version] = workflow.definition }
        }
    }

    public func keptVersion(workflowId: String, version: Int) async throws(OrchestratorError) -> Workflow? {
        kept.withLock { $0[workflowId]?[version] }
    }

    public func keptVersions(workflowId: String, before: Int?, limit: Int) async throws(OrchestratorError) -> [Workflow] {
        kept.withLock { kept in
            Array((kept[workflowId] ?? [:]).values.filter { before == nil || $0.version < before! }.sorted { $0.version > $1.version }.prefix(limit))
        }
    }

    public func addStep(_ step: Step, toWorkflow workflow: String, _ revision: WorkflowRevision) async throws(OrchestratorError) -> Workflow {
        try change(workflow, revision) { current throws(OrchestratorError) in
            if current.steps.contains(where: { $0.name == step.name }) {
                throw OrchestratorError.conflict("workflow '\(workflow)' already has a step named '\(step.name)'")
            }
            guard current.steps.count < Limits.stepsPerWorkflow else {
                throw OrchestratorError.validation([FieldError(field: "step", message: "a workflow holds at most \(Limits.stepsPerWorkflow) steps")])
            }
            var added = step
            added.status = .pending
            current.steps.append(added)
        }
    }

    public func updateStep(named name: String, inWorkflow workflow: String, _ changes: StepChanges, _ revision: WorkflowRevision) async throws(OrchestratorError) -> Workflow {
        try change(workflow, revision) { current throws(OrchestratorError) in
            guard let index = current.steps.firstIndex(where: { $0.name == name }) else { throw OrchestratorError.notFound("step", "\(workflow)/\(name)") }
            if let renaming = changes.name, renaming != name, current.steps.contains(where: { $0.name == renaming }) {
                throw OrchestratorError.conflict("workflow '\(workflow)' already has a step named '\(renaming)'")
            }
            current.steps[index] = changes.applied(to: current.steps[index])
        }
    }

    public func deleteStep(named name: String, fromWorkflow workflow: String, _ revision: WorkflowRevision) async throws(OrchestratorError) -> Workflow {
        try change(workflow, revision) { current throws(OrchestratorError) in
            guard current.steps.contains(where: { $0.name == name }) else { throw OrchestratorError.notFound("step", "\(workflow)/\(name)") }
            current.steps.removeAll { $0.name == name }
        }
    }

    public func markLatestRun(workflowId: String, runId: String, showing statuses: [String: StepStatus]) async throws(OrchestratorError) {
        state.withLock { stored in
            guard var found = stored[workflowId], found.lastRunId.map({ $0 <= runId }) ?? true else { return }
            found.lastRunId = runId
            for index in found.workflow.steps.indices {
                found.workflow.steps[index].status = statuses[found.workflow.steps[index].name] ?? .pending
            }
            stored[workflowId] = found
        }
    }

    public func recordStepStatuses(workflowId: String, runId: String, _ statuses: [String: StepStatus]) async throws(OrchestratorError) {
        state.withLock { stored in
            guard var found = stored[workflowId], found.lastRunId == runId else { return }
            for index in found.workflow.steps.indices {
                if let status = statuses[found.workflow.steps[index].name] { found.workflow.steps[index].status = status }
            }
            stored[workflowId] = found
        }
    }

    /// One guarded change of one workflow: `body` throws when its guard
    /// fails, and nothing is written; otherwise the version goes up by one.
    private func change(
        _ name: String, _ revision: WorkflowRevision, _ body: (inout Workflow) throws(OrchestratorError) -> Void
    ) throws(OrchestratorError) -> Workflow {
        try state.withLock { stored throws(OrchestratorError) -> Workflow in
            guard var found = Self.find(stored, .name(name)) else { throw OrchestratorError.notFound("workflow", name) }
            guard found.workflow.version == revision.basedOn else {
                throw OrchestratorError.versionConflict(name, expected: revision.basedOn, current: found.workflow.version)
            }
            let id = found.workflow.id
            try body(&found.workflow)
            if found.workflow.name != name, stored.values.contains(where: { $0.workflow.name == found.workflow.name }) {
                throw Self.nameTaken(found.workflow.name)
            }
            found.workflow.version += 1
            found.workflow.updatedAt = Date().milliseconds
            found.workflow.updatedBy = revision.by
            stored[id] = found
            return found.workflow
        }
    }

    private static func find(_ stored: [String: Stored], _ key: WorkflowKey) -> Stored? {
        switch key {
        case .id(let id): stored[id]
        case .name(let name): stored.values.first { $0.workflow.name == name }
        }
    }

    private static func nameTaken(_ name: String) -> OrchestratorError {
        OrchestratorError.conflict("a workflow named '\(name)' already exists", details: ["name": name])
    }
}
