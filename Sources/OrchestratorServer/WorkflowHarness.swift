import OrchestratorModel
import OrchestratorProtocol
import OrchestratorServices

/// The `workflow.*` and `step.*` methods: typed params (read by the method
/// table, `RPCMethods`) to service calls, their errors to the wire's.
struct WorkflowHarness: Sendable {
    let service: WorkflowService

    func create(_ draft: WorkflowDraft, _ c: CallContext) async throws(RPCError) -> Workflow {
        try await domain { () throws(OrchestratorError) in try await service.create(draft) }
    }

    func get(_ key: WorkflowKey, _ c: CallContext) async throws(RPCError) -> Workflow {
        try await domain { () throws(OrchestratorError) in try await service.get(key) }
    }

    func list(_ p: WorkflowListParams, _ c: CallContext) async throws(RPCError) -> Page<Workflow> {
        try await domain { () throws(OrchestratorError) in try await service.list(limit: p.limit, after: p.after) }
    }

    func update(_ p: WorkflowUpdateParams, _ c: CallContext) async throws(RPCError) -> Workflow {
        try await domain { () throws(OrchestratorError) in try await service.update(p.name, p.changes) }
    }

    func delete(_ p: WorkflowDeleteParams, _ c: CallContext) async throws(RPCError) -> Deleted {
        try await domain { () throws(OrchestratorError) in try await service.delete(p.name) }
        return Deleted()
    }

    func addStep(_ p: StepAddParams, _ c: CallContext) async throws(RPCError) -> Workflow {
        try await domain { () throws(OrchestratorError) in try await service.addStep(p.step, to: p.workflow) }
    }

    func getStep(_ key: StepKey, _ c: CallContext) async throws(RPCError) -> Step {
        try await domain { () throws(OrchestratorError) in try await service.step(key.name, of: key.workflow) }
    }

    func listSteps(_ p: StepListParams, _ c: CallContext) async throws(RPCError) -> StepList {
        StepList(items: try await domain { () throws(OrchestratorError) in try await service.steps(of: p.workflow) })
    }

    func updateStep(_ p: StepUpdateParams, _ c: CallContext) async throws(RPCError) -> Workflow {
        try await domain { () throws(OrchestratorError) in try await service.updateStep(p.name, of: p.workflow, p.changes) }
    }

    func deleteStep(_ key: StepKey, _ c: CallContext) async throws(RPCError) -> Workflow {
        try await domain { () throws(OrchestratorError) in try await service.deleteStep(key.name, of: key.workflow) }
    }
}
