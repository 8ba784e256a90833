import OrchestratorProtocol

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
