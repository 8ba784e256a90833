import OrchestratorModel
import OrchestratorProtocol
import OrchestratorServices

/// The `workflow.*` and `step.*` methods: params to domain inputs, the
/// service call, the result back to JSON.
struct WorkflowHarness: Sendable {
    let service: WorkflowService

    func create(_ p: ParamReader, _ c: CallContext) async throws(RPCError) -> JSONValue {
        let draft = try WorkflowDraft(params: p)
        return try await domain { () throws(OrchestratorError) in try await service.create(draft) }.json
    }

    func get(_ p: ParamReader, _ c: CallContext) async throws(RPCError) -> JSONValue {
        try p.allowOnly(["name", "id"])
        let key: WorkflowKey
        switch (try p.optionalString("name"), try p.optionalString("id")) {
        case (let name?, nil): key = .name(name)
        case (nil, let id?): key = .id(id)
        default: throw .invalidParams("invalid params: give exactly one of 'name' or 'id'")
        }
        return try await domain { () throws(OrchestratorError) in try await service.get(key) }.json
    }

    func list(_ p: ParamReader, _ c: CallContext) async throws(RPCError) -> JSONValue {
        try p.allowOnly(["limit", "after"])
        let limit = try p.optionalInt("limit") ?? Limits.defaultPageSize
        let after = try p.optionalString("after")
        let page = try await domain { () throws(OrchestratorError) in try await service.list(limit: limit, after: after) }
        return ["items": .array(page.items.map(\.json)), "next": JSONValue(page.next)]
    }

    func update(_ p: ParamReader, _ c: CallContext) async throws(RPCError) -> JSONValue {
        let name = try p.string("name")
        let changes = try WorkflowChanges(params: p)
        return try await domain { () throws(OrchestratorError) in try await service.update(name, changes) }.json
    }

    func delete(_ p: ParamReader, _ c: CallContext) async throws(RPCError) -> JSONValue {
        try p.allowOnly(["name"])
        let name = try p.string("name")
        try await domain { () throws(OrchestratorError) in try await service.delete(name) }
        return ["deleted": true]
    }

    func addStep(_ p: ParamReader, _ c: CallContext) async throws(RPCError) -> JSONValue {
        try p.allowOnly(["workflow", "step"])
        let workflow = try p.string("workflow")
        let step = try Step(params: p.object("step"))
        return try await domain { () throws(OrchestratorError) in try await service.addStep(step, to: workflow) }.json
    }

    func getStep(_ p: ParamReader, _ c: CallContext) async throws(RPCError) -> JSONValue {
        try p.allowOnly(["workflow", "name"])
        let (workflow, name) = (try p.string("workflow"), try p.string("name"))
        return try await domain { () throws(OrchestratorError) in try await service.step(name, of: workflow) }.json
    }

    func listSteps(_ p: ParamReader, _ c: CallContext) async throws(RPCError) -> JSONValue {
        try p.allowOnly(["workflow"])
        let workflow = try p.string("workflow")
        let steps = try await domain { () throws(OrchestratorError) in try await service.steps(of: workflow) }
        return ["items": .array(steps.map(\.json))]
    }

    /// `name` addresses the step; `newName` renames it; the other step fields replace.
    func updateStep(_ p: ParamReader, _ c: CallContext) async throws(RPCError) -> JSONValue {
        let (workflow, name) = (try p.string("workflow"), try p.string("name"))
        var fields = p.values
        fields["workflow"] = nil
        fields["name"] = fields.removeValue(forKey: "newName")
        let changes = try StepChanges(params: ParamReader(fields))
        return try await domain { () throws(OrchestratorError) in try await service.updateStep(name, of: workflow, changes) }.json
    }

    func deleteStep(_ p: ParamReader, _ c: CallContext) async throws(RPCError) -> JSONValue {
        try p.allowOnly(["workflow", "name"])
        let (workflow, name) = (try p.string("workflow"), try p.string("name"))
        return try await domain { () throws(OrchestratorError) in try await service.deleteStep(name, of: workflow) }.json
    }
}
