/// The methods the daemon serves, by wire name.
public enum Method: String, Sendable, CaseIterable {
    case workflowCreate = "workflow.create"
    case workflowGet = "workflow.get"
    case workflowList = "workflow.list"
    case workflowUpdate = "workflow.update"
    case workflowDelete = "workflow.delete"
    case workflowHistory = "workflow.history"
    case workflowDiff = "workflow.diff"
    case stepAdd = "step.add"
    case stepGet = "step.get"
    case stepList = "step.list"
    case stepUpdate = "step.update"
    case stepDelete = "step.delete"
    case runStart = "run.start"
    case runGet = "run.get"
    case runList = "run.list"
    case runCancel = "run.cancel"
    case runResume = "run.resume"
    case runWatch = "run.watch"
    case runFollow = "run.follow"
    case runResolve = "run.resolve"
    case runTarget = "run.target"
    case runApprove = "run.approve"
    case runReject = "run.reject"
    case scheduleCreate = "schedule.create"
    case scheduleGet = "schedule.get"
    case scheduleList = "schedule.list"
    case scheduleUpdate = "schedule.update"
    case scheduleDelete = "schedule.delete"
    case windowCreate = "window.create"
    case windowGet = "window.get"
    case windowList = "window.list"
    case windowUpdate = "window.update"
    case windowDelete = "window.delete"
    case targetCreate = "target.create"
    case targetGet = "target.get"
    case targetList = "target.list"
    case targetUpdate = "target.update"
    case targetDelete = "target.delete"
    case targetImport = "target.import"
    case secretSet = "secret.set"
    case secretList = "secret.list"
    case secretDelete = "secret.delete"
    case daemonStatus = "daemon.status"
    case metricsGet = "metrics.get"

    /// A mutation whose handler decides who may call it: an approval step
    /// may name a group of approvers who are not admins.
    public var authorizesItself: Bool { self == .runApprove || self == .runReject }

    /// The notification `run.watch` streams.
    public static let runEventNotification = "run.event"
    /// The notifications `run.follow` streams: a line, and lines not shown.
    public static let runOutputNotification = "run.output"
    public static let runOutputGapNotification = "run.output_gap"

    /// Only root and the admin group may call it, and it is audited: it
    /// changes state, or it tells about secrets.
    public var restricted: Bool { mutates || self == .secretList }

    /// Whether the method changes state: only root and the admin group may call it.
    public var mutates: Bool {
        switch self {
        case .workflowCreate, .workflowUpdate, .workflowDelete, .stepAdd, .stepUpdate, .stepDelete, .runStart, .runCancel, .runResume,
             .runApprove, .runReject, .scheduleCreate, .scheduleUpdate, .scheduleDelete, .windowCreate, .windowUpdate, .windowDelete,
             .targetCreate, .targetUpdate, .targetDelete, .targetImport, .secretSet, .secretDelete: true
        // Names of secrets and who set them are for admins too (see `restricted`).
        case .secretList: false
        case .workflowGet, .workflowList, .workflowHistory, .workflowDiff, .scheduleGet, .scheduleList, .windowGet, .windowList, .stepGet, .stepList, .runGet, .runList, .runWatch, .runFollow, .runResolve, .runTarget, .targetGet, .targetList, .daemonStatus, .metricsGet: false
        }
    }
}
