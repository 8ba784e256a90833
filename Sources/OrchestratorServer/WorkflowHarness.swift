import OrchestratorModel
import OrchestratorProtocol
import OrchestratorStore

/// The `workflow.*` and `step.*` methods: params to domain inputs, the
/// store call, the result back to JSON.
struct WorkflowHarness: Sendable {
    let store: any WorkflowStore
    let runs: any RunStore

    func create(_ p: ParamReader, _ c: CallContext) async throws(RPCError) -> JSONValue {
        let draft = try WorkflowDraft(params: p)
        return try await domain { () throws(OrchestratorError) in try await store.createWorkflow(draft) }.json
    }

    func get(_ p: ParamReader, _ c: CallContext) async throws(RPCError) -> JSONValue {
        try p.allowOnly(["name", "id"])
        let key: WorkflowKey
        switch (try p.optionalString("name"), try p.optionalString("id")) {
        case (let name?, nil): key = .name(name)
        case (nil, let id?): key = .id(id)
        default: throw .invalidParams("invalid params: give exactly one of 'name' or 'id'")
        }
        return try await domain { () throws(OrchestratorError) in try await store.workflow(key) }.json
    }

    func list(_ p: ParamReader, _ c: CallContext) async throws(RPCError) -> JSONValue {
        try p.allowOnly(["limit", "after"])
        let limit = try p.optionalInt("limit") ?? Limits.defaultPageSize
        let after = try p.optionalString("after")
        let page = try await domain { () throws(OrchestratorError) in try await store.listWorkflows(limit: limit, after: after) }
        return ["items": .array(page.items.map(\.json)), "next": JSONValue(page.next)]
    }

    func update(_ p: ParamReader, _ c: CallContext) async throws(RPCError) -> JSONValue {
        let name = try p.string("name")
        let changes = try WorkflowChanges(params: p)
        return try await domain { () throws(OrchestratorError) in try await store.updateWorkflow(named: name, changes) }.json
    }

    func delete(_ p: ParamReader, _ c: CallContext) async throws(RPCError) -> JSONValue {
        try p.allowOnly(["name"])
        let name = try p.string("name")
        try await domain { () throws(OrchestratorError) in
            let workflow = try await store.workflow(.name(name))
            if try await runs.hasActiveRun(workflowId: workflow.id) {
                throw OrchestratorError.conflict("workflow '\(name)' has a run in progress; cancel it or wait for it to end", details: ["name": name])
            }
            try await store.deleteWorkflow(named: name)
        }
        return ["deleted": true]
    }

    func addStep(_ p: ParamReader, _ c: CallContext) async throws(RPCError) -> JSONValue {
        try p.allowOnly(["workflow", "step"])
        let workflow = try p.string("workflow")
        let step = try Step(params: p.object("step"))
        return try await domain { () throws(OrchestratorError) in try await store.addStep(step, toWorkflow: workflow) }.json
    }

    func getStep(_ p: ParamReader, _ c: CallContext) async throws(RPCError) -> JSONValue {
        try p.allowOnly(["workflow", "name"])
        let (workflow, name) = (try p.string("workflow"), try p.string("name"))
        return try await domain { () throws(OrchestratorError) in try await store.step(named: name, inWorkflow: workflow) }.json
    }

    func listSteps(_ p: ParamReader, _ c: CallContext) async throws(RPCError) -> JSONValue {
        try p.allowOnly(["workflow"])
        let workflow = try p.string("workflow")
        let steps = try await domain { () throws(OrchestratorError) in try await store.steps(inWorkflow: workflow) }
        return ["items": .array(steps.map(\.json))]
    }

    /// `name` addresses the step; `newName` renames it; the other step fields replace.
    func updateStep(_ p: ParamReader, _ c: CallContext) async throws(RPCError) -> JSONValue {
        let (workflow, name) = (try p.string("workflow"), try p.string("name"))
        var fields = p.values
        fields["workflow"] = nil
        fields["name"] = fields.removeValue(forKey: "newName")
        let changes = try StepChanges(params: ParamReader(fields))
        return try await domain { () throws(OrchestratorError) in try await store.updateStep(named: name, inWorkflow: workflow, changes) }.json
    }

    func deleteStep(_ p: ParamReader, _ c: CallContext) async throws(RPCError) -> JSONValue {
        try p.allowOnly(["workflow", "name"])
        let (workflow, name) = (try p.string("workflow"), try p.string("name"))
        return try await domain { () throws(OrchestratorError) in try await store.deleteStep(named: name, fromWorkflow: workflow) }.json
    }
}

extension RPCDispatcher {
    /// The route table, built in one place.
    static func routes(workflows: WorkflowHarness, runs: RunHarness, status: StatusHarness) -> [String: Route] {
        var routes: [Method: RPCHandler] = [:]
        routes[.workflowCreate] = workflows.create
        routes[.workflowGet] = workflows.get
        routes[.workflowList] = workflows.list
        routes[.workflowUpdate] = workflows.update
        routes[.workflowDelete] = workflows.delete
        routes[.stepAdd] = workflows.addStep
        routes[.stepGet] = workflows.getStep
        routes[.stepList] = workflows.listSteps
        routes[.stepUpdate] = workflows.updateStep
        routes[.stepDelete] = workflows.deleteStep
        routes[.runStart] = runs.start
        routes[.runGet] = runs.get
        routes[.runList] = runs.list
        routes[.runCancel] = runs.cancel
        routes[.runResume] = runs.resume
        routes[.runWatch] = runs.watch
        routes[.daemonStatus] = status.status
        return Dictionary(uniqueKeysWithValues: routes.map { ($0.key.rawValue, Route(mutates: $0.key.mutates, $0.value)) })
    }
}
