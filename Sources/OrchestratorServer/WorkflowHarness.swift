import OrchestratorModel
import OrchestratorProtocol
import OrchestratorServices

/// The `workflow.*` and `step.*` methods: typed params (read by the method
/// table, `RPCMethods`) to service calls, their errors to the wire's.
struct WorkflowHarness: Sendable {
    let service: WorkflowService

    func create(_ draft: WorkflowDraft, _ c: CallContext) async throws(RPCError) -> Workflow {
        try await domain { () throws(OrchestratorError) in try await service.create(draft, by: c.peer.uid) }
    }

    func get(_ p: WorkflowGetParams, _ c: CallContext) async throws(RPCError) -> Workflow {
        try await domain { () throws(OrchestratorError) in try await service.get(p.key, version: p.version) }
    }

    func history(_ p: WorkflowHistoryParams, _ c: CallContext) async throws(RPCError) -> Page<WorkflowHistoryEntry> {
        try await domain { () throws(OrchestratorError) in try await service.history(p.name, limit: p.limit, before: p.after) }
    }

    func diff(_ p: WorkflowDiffParams, _ c: CallContext) async throws(RPCError) -> WorkflowDiff {
        try await domain { () throws(OrchestratorError) in try await service.diff(p.name, from: p.from, to: p.to, draft: p.definition) }
    }

    func list(_ p: WorkflowListParams, _ c: CallContext) async throws(RPCError) -> Page<Workflow> {
        try await domain { () throws(OrchestratorError) in try await service.list(limit: p.limit, after: p.after) }
    }

    func update(_ p: WorkflowUpdateParams, _ c: CallContext) async throws(RPCError) -> Workflow {
        try await domain { () throws(OrchestratorError) in try await service.update(p.name, p.changes, by: c.peer.uid) }
    }

    func delete(_ p: WorkflowDeleteParams, _ c: CallContext) async throws(RPCError) -> Deleted {
        try await domain { () throws(OrchestratorError) in try await service.delete(p.name) }
        return Deleted()
    }

    func addStep(_ p: StepAddParams, _ c: CallContext) async throws(RPCError) -> Workflow {
        try await domain { () throws(OrchestratorError) in try await service.addStep(p.step, to: p.workflow, by: c.peer.uid) }
    }

    func getStep(_ key: StepKey, _ c: CallContext) async throws(RPCError) -> Step {
        try await domain { () throws(OrchestratorError) in try await service.step(key.name, of: key.workflow) }
    }

    func listSteps(_ p: StepListParams, _ c: CallContext) async throws(RPCError) -> StepList {
        StepList(items: try await domain { () throws(OrchestratorError) in try await service.steps(of: p.workflow) })
    }

    func updateStep(_ p: StepUpdateParams, _ c: CallContext) async throws(RPCError) -> Workflow {
        try await domain { () throws(OrchestratorError) in try await service.updateStep(p.name, of: p.workflow, p.changes, by: c.peer.uid) }
    }

    func deleteStep(_ key: StepKey, _ c: CallContext) async throws(RPCError) -> Workflow {
        try await domain { () throws(OrchestratorError) in try await service.deleteStep(key.name, of: key.workflow, by: c.peer.uid) }
    }
}
