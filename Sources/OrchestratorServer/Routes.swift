import OrchestratorProtocol

extension RPCDispatcher {
    /// The route table, built in one place from the typed method table: each
    /// method's params are read (with their -32602 errors) and its result
    /// written by `RPCMethods`; the harnesses see only domain types.
    static func routes(
        workflows: WorkflowHarness, runs: RunHarness, targets: TargetHarness, schedules: ScheduleHarness, secrets: SecretHarness, status: StatusHarness
    ) -> [String: Route] {
        var routes: [Method: RPCHandler] = [:]
        routes[.workflowCreate] = RPCMethods.workflowCreate.handler(workflows.create)
        routes[.workflowGet] = RPCMethods.workflowGet.handler(workflows.get)
        routes[.workflowList] = RPCMethods.workflowList.handler(workflows.list)
        routes[.workflowUpdate] = RPCMethods.workflowUpdate.handler(workflows.update)
        routes[.workflowDelete] = RPCMethods.workflowDelete.handler(workflows.delete)
        routes[.workflowHistory] = RPCMethods.workflowHistory.handler(workflows.history)
        routes[.workflowDiff] = RPCMethods.workflowDiff.handler(workflows.diff)
        routes[.stepAdd] = RPCMethods.stepAdd.handler(workflows.addStep)
        routes[.stepGet] = RPCMethods.stepGet.handler(workflows.getStep)
        routes[.stepList] = RPCMethods.stepList.handler(workflows.listSteps)
        routes[.stepUpdate] = RPCMethods.stepUpdate.handler(workflows.updateStep)
        routes[.stepDelete] = RPCMethods.stepDelete.handler(workflows.deleteStep)
        routes[.runStart] = RPCMethods.runStart.handler(runs.start)
        routes[.runGet] = RPCMethods.runGet.handler(runs.get)
        routes[.runList] = RPCMethods.runList.handler(runs.list)
        routes[.runCancel] = RPCMethods.runCancel.handler(runs.cancel)
        routes[.runResume] = RPCMethods.runResume.handler(runs.resume)
        routes[.runWatch] = RPCMethods.runWatch.handler(runs.watch)
        routes[.runFollow] = RPCMethods.runFollow.handler(runs.follow)
        routes[.runResolve] = RPCMethods.runResolve.handler(runs.resolve)
        routes[.runTarget] = RPCMethods.runTarget.handler(runs.target)
        routes[.runApprove] = RPCMethods.runApprove.handler(runs.approve)
        routes[.runReject] = RPCMethods.runReject.handler(runs.reject)
        routes[.targetCreate] = RPCMethods.targetCreate.handler(targets.create)
        routes[.targetGet] = RPCMethods.targetGet.handler(targets.get)
        routes[.targetList] = RPCMethods.targetList.handler(targets.list)
        routes[.targetUpdate] = RPCMethods.targetUpdate.handler(targets.update)
        routes[.targetDelete] = RPCMethods.targetDelete.handler(targets.delete)
        routes[.targetImport] = RPCMethods.targetImport.handler(targets.importInventory)
        routes[.daemonStatus] = RPCMethods.daemonStatus.handler(status.status)
        routes[.metricsGet] = RPCMethods.metricsGet.handler(status.metrics)
        routes[.scheduleCreate] = RPCMethods.scheduleCreate.handler(schedules.create)
        routes[.scheduleGet] = RPCMethods.scheduleGet.handler(schedules.get)
        routes[.scheduleList] = RPCMethods.scheduleList.handler(schedules.list)
        routes[.scheduleUpdate] = RPCMethods.scheduleUpdate.handler(schedules.update)
        routes[.scheduleDelete] = RPCMethods.scheduleDelete.handler(schedules.delete)
        routes[.windowCreate] = RPCMethods.windowCreate.handler(schedules.createWindow)
        routes[.windowGet] = RPCMethods.windowGet.handler(schedules.window)
        routes[.windowList] = RPCMethods.windowList.handler(schedules.listWindows)
        routes[.windowUpdate] = RPCMethods.windowUpdate.handler(schedules.updateWindow)
        routes[.windowDelete] = RPCMethods.windowDelete.handler(schedules.deleteWindow)
        routes[.secretSet] = RPCMethods.secretSet.handler(secrets.set)
        routes[.secretList] = RPCMethods.secretList.handler(secrets.list)
        routes[.secretDelete] = RPCMethods.secretDelete.handler(secrets.delete)
        return Dictionary(uniqueKeysWithValues: routes.map {
            ($0.key.rawValue, Route(mutates: $0.key.restricted, authorizesItself: $0.key.authorizesItself, $0.value))
        })
    }
}
