import OrchestratorModel

/// A method with the types of its params and of its result. The wire name
/// and whether it mutates come from its `Method` case, so the enum and this
/// table cannot disagree.
public struct RPCMethod<Params: RPCParams, Result: RPCResult>: Sendable {
    public let method: Method

    init(_ method: Method) {
        self.method = method
    }

    public var name: String { method.rawValue }
    public var mutates: Bool { method.mutates }

    /// Server side: a handler over the domain types as one over the wire.
    /// Params are read with their precise -32602 errors before `body` runs;
    /// its result is written with the model's encoders. E.g.
    /// `routes[.runGet] = RPCMethods.runGet.handler(runs.get)`.
    public func handler<Context>(
        _ body: @escaping @Sendable (Params, Context) async throws(RPCError) -> Result
    ) -> @Sendable (ParamReader, Context) async throws(RPCError) -> JSONValue {
        { (reader: ParamReader, context: Context) async throws(RPCError) -> JSONValue in
            // Every problem of names and types at once, not one per try.
            try await body(ParamReader.readingAll(reader.values) { (all) throws(RPCError) in try Params(params: all) }, context).resultJSON
        }
    }
}

/// A notification the daemon sends, with the type of its params.
public struct RPCNotification<Params: RPCNotificationParams>: Sendable {
    public let name: String

    init(_ name: String) {
        self.name = name
    }
}

/// Every method the daemon serves, typed: the one table of the protocol.
public enum RPCMethods {
    public static let workflowCreate = RPCMethod<WorkflowDraft, Workflow>(.workflowCreate)
    /// With `version`, the workflow as it was then.
    public static let workflowGet = RPCMethod<WorkflowGetParams, Workflow>(.workflowGet)
    public static let workflowList = RPCMethod<WorkflowListParams, Page<Workflow>>(.workflowList)
    public static let workflowUpdate = RPCMethod<WorkflowUpdateParams, Workflow>(.workflowUpdate)
    public static let workflowDelete = RPCMethod<WorkflowDeleteParams, Deleted>(.workflowDelete)
    /// Newest first, each version with who made it, when and what it changed.
    public static let workflowHistory = RPCMethod<WorkflowHistoryParams, Page<WorkflowHistoryEntry>>(.workflowHistory)
    public static let workflowDiff = RPCMethod<WorkflowDiffParams, WorkflowDiff>(.workflowDiff)
    public static let stepAdd = RPCMethod<StepAddParams, Workflow>(.stepAdd)
    public static let stepGet = RPCMethod<StepKey, Step>(.stepGet)
    public static let stepList = RPCMethod<StepListParams, StepList>(.stepList)
    public static let stepUpdate = RPCMethod<StepUpdateParams, Workflow>(.stepUpdate)
    public static let stepDelete = RPCMethod<StepKey, Workflow>(.stepDelete)
    public static let runStart = RPCMethod<RunStartParams, Run>(.runStart)
    public static let runGet = RPCMethod<RunKey, Run>(.runGet)
    /// Items are summaries: no definition, events or step outputs.
    public static let runList = RPCMethod<RunListParams, Page<Run>>(.runList)
    public static let runCancel = RPCMethod<RunKey, Run>(.runCancel)
    /// With `params`, the values of the run's secret parameters.
    public static let runResume = RPCMethod<RunResumeParams, Run>(.runResume)
    /// Streams `RPCNotifications.runEvent` until the run ends, then answers with it.
    public static let runWatch = RPCMethod<RunWatchParams, Run>(.runWatch)
    /// Streams `RPCNotifications.runOutput` (and `runOutputGap`) until the run ends, then answers with it.
    public static let runFollow = RPCMethod<RunFollowParams, Run>(.runFollow)
    /// The run a short reference names (the start of an id, or `last`).
    public static let runResolve = RPCMethod<RunResolveParams, Run>(.runResolve)
    public static let targetCreate = RPCMethod<TargetDraft, Target>(.targetCreate)
    public static let targetGet = RPCMethod<TargetKey, Target>(.targetGet)
    public static let targetList = RPCMethod<TargetListParams, Page<Target>>(.targetList)
    public static let targetUpdate = RPCMethod<TargetUpdateParams, Target>(.targetUpdate)
    public static let targetDelete = RPCMethod<TargetKey, Deleted>(.targetDelete)
    /// With `dryRun`, says what it would do and changes nothing.
    public static let targetImport = RPCMethod<TargetImportParams, TargetImport>(.targetImport)
    /// One target's run of a fleet run, in full.
    public static let runTarget = RPCMethod<RunTargetParams, Run>(.runTarget)
    public static let daemonStatus = RPCMethod<NoParams, DaemonStatus>(.daemonStatus)
    /// This daemon's figures in Prometheus's text format.
    public static let metricsGet = RPCMethod<NoParams, MetricsText>(.metricsGet)
    /// Creates or replaces; the result never holds the value.
    public static let secretSet = RPCMethod<SecretSetParams, SecretRecord>(.secretSet)
    public static let secretList = RPCMethod<WorkflowListParams, Page<SecretRecord>>(.secretList)
    public static let secretDelete = RPCMethod<NameParams, Deleted>(.secretDelete)
    /// A decision on an approval step; answers with the run, the decision in its step.
    public static let runApprove = RPCMethod<RunDecisionParams, Run>(.runApprove)
    public static let runReject = RPCMethod<RunDecisionParams, Run>(.runReject)
    public static let scheduleCreate = RPCMethod<ScheduleDraft, ScheduleView>(.scheduleCreate)
    /// With the next fire times.
    public static let scheduleGet = RPCMethod<NameParams, ScheduleView>(.scheduleGet)
    public static let scheduleList = RPCMethod<NamedListParams, Page<ScheduleView>>(.scheduleList)
    public static let scheduleUpdate = RPCMethod<ScheduleUpdateParams, ScheduleView>(.scheduleUpdate)
    public static let scheduleDelete = RPCMethod<NameParams, Deleted>(.scheduleDelete)
    public static let windowCreate = RPCMethod<WindowDraft, MaintenanceWindow>(.windowCreate)
    public static let windowGet = RPCMethod<NameParams, MaintenanceWindow>(.windowGet)
    public static let windowList = RPCMethod<NamedListParams, Page<MaintenanceWindow>>(.windowList)
    public static let windowUpdate = RPCMethod<WindowUpdateParams, MaintenanceWindow>(.windowUpdate)
    public static let windowDelete = RPCMethod<NameParams, Deleted>(.windowDelete)
}

public enum RPCNotifications {
    public static let runEvent = RPCNotification<RunEventNotification>(Method.runEventNotification)
    public static let runOutput = RPCNotification<RunOutputNotification>(Method.runOutputNotification)
    public static let runOutputGap = RPCNotification<RunOutputGapNotification>(Method.runOutputGapNotification)
}

/// A table entry with its types erased: what code that handles every method
/// alike (the table's tests, a generic dispatcher) works with.
public protocol AnyRPCMethod: Sendable {
    var method: Method { get }
    func decodeParams(_ reader: ParamReader) throws(RPCError) -> any RPCParams
    func decodeResult(_ json: JSONValue) throws(ResultDecodingError) -> any RPCResult
}

extension RPCMethod: AnyRPCMethod {
    public func decodeParams(_ reader: ParamReader) throws(RPCError) -> any RPCParams {
        try Params(params: reader)
    }

    public func decodeResult(_ json: JSONValue) throws(ResultDecodingError) -> any RPCResult {
        try Result(resultJSON: json)
    }
}

extension Method {
    /// This method's entry in `RPCMethods`. The switch is exhaustive, so a
    /// new case does not compile until it has its types.
    public var typed: any AnyRPCMethod {
        switch self {
        case .workflowCreate: RPCMethods.workflowCreate
        case .workflowGet: RPCMethods.workflowGet
        case .workflowList: RPCMethods.workflowList
        case .workflowUpdate: RPCMethods.workflowUpdate
        case .workflowDelete: RPCMethods.workflowDelete
        case .scheduleCreate: RPCMethods.scheduleCreate
        case .scheduleGet: RPCMethods.scheduleGet
        case .scheduleList: RPCMethods.scheduleList
        case .scheduleUpdate: RPCMethods.scheduleUpdate
        case .scheduleDelete: RPCMethods.scheduleDelete
        case .windowCreate: RPCMethods.windowCreate
        case .windowGet: RPCMethods.windowGet
        case .windowList: RPCMethods.windowList
        case .windowUpdate: RPCMethods.windowUpdate
        case .windowDelete: RPCMethods.windowDelete
        case .runApprove: RPCMethods.runApprove
        case .runReject: RPCMethods.runReject
        case .workflowHistory: RPCMethods.workflowHistory
        case .workflowDiff: RPCMethods.workflowDiff
        case .stepAdd: RPCMethods.stepAdd
        case .stepGet: RPCMethods.stepGet
        case .stepList: RPCMethods.stepList
        case .stepUpdate: RPCMethods.stepUpdate
        case .stepDelete: RPCMethods.stepDelete
        case .runStart: RPCMethods.runStart
        case .runGet: RPCMethods.runGet
        case .runList: RPCMethods.runList
        case .runCancel: RPCMethods.runCancel
        case .runResume: RPCMethods.runResume
        case .runWatch: RPCMethods.runWatch
        case .runFollow: RPCMethods.runFollow
        case .runResolve: RPCMethods.runResolve
        case .runTarget: RPCMethods.runTarget
        case .targetCreate: RPCMethods.targetCreate
        case .targetGet: RPCMethods.targetGet
        case .targetList: RPCMethods.targetList
        case .targetUpdate: RPCMethods.targetUpdate
        case .targetDelete: RPCMethods.targetDelete
        case .targetImport: RPCMethods.targetImport
        case .daemonStatus: RPCMethods.daemonStatus
        case .metricsGet: RPCMethods.metricsGet
        case .secretSet: RPCMethods.secretSet
        case .secretList: RPCMethods.secretList
        case .secretDelete: RPCMethods.secretDelete
        }
    }
}
