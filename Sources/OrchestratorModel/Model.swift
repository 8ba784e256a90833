import Foundation

/// What a step runs: an argv executed without a shell, its environment and
/// working directory.
public struct Action: Sendable, Equatable {
    public var exec: [String]
    public var env: [String: String]
    public var cwd: String?

    public init(exec: [String], env: [String: String] = [:], cwd: String? = nil) {
        self.exec = exec
        self.env = env
        self.cwd = cwd
    }
}

public enum StepStatus: String, Sendable, CaseIterable {
    /// `waiting`: its turn came, but a lock it needs is held by another run (or step).
    case pending, waiting, running, succeeded, failed
    case timedOut = "timed_out"
    case skipped, cancelled, interrupted
    /// An approval step whose turn came: people decide (run.approve / run.reject).
    case waitingApproval = "waiting_approval"
    /// The run failed after this step succeeded: its rollback action runs, has run, or failed.
    case rollingBack = "rolling_back"
    case rolledBack = "rolled_back"
    case rollbackFailed = "rollback_failed"
}

public enum RunStatus: String, Sendable, CaseIterable {
    case queued, running, succeeded, failed, cancelled

    /// The status as a sentence says it: "run X \(phrase)".
    public var phrase: String {
        switch self {
        case .queued, .running: "is \(rawValue)"
        case .succeeded, .failed: "has \(rawValue)"
        case .cancelled: "was cancelled"
        }
    }
}

extension Step {
    /// The step as its rollback runs: the rollback's command (told by
    /// `ORCH_ROLLBACK=1` that it undoes), the step's timeout and locks, no retries.
    public var undoing: Step? {
        guard var action = rollback else { return nil }
        action.env["ORCH_ROLLBACK"] = "1"
        var undo = self
        undo.action = action
        undo.retries = 0
        undo.rollback = nil
        return undo
    }
}

/// A step as it is embedded in its workflow.
public struct Step: Sendable, Equatable {
    public var name: String
    public var description: String
    public var executionOrder: Int
    public var action: Action
    public var timeoutSeconds: Int?
    public var retries: Int
    public var retryDelaySeconds: Int
    public var continueOnFailure: Bool
    public var idempotent: Bool
    /// Held while the step runs: no other run's step holding one of them
    /// starts meanwhile (templated: `device:{{target.name}}`).
    public var locks: [String]
    /// Set for a step that waits for people instead of running an action (its action is empty).
    public var approval: Approval?
    /// What undoes the step: run, in reverse order with the others', for
    /// the steps that succeeded when their run fails.
    public var rollback: Action?
    /// Secrets put in its environment as `ORCH_SECRET_<NAME>` (and its rollback's).
    public var secrets: [String]
    /// The user its process (and its rollback's) runs as; nil: the daemon's.
    public var runAs: RunAs?
    /// The step's status in the workflow's most recent run.
    public var status: StepStatus

    public init(
        name: String, description: String = "", executionOrder: Int, action: Action,
        timeoutSeconds: Int? = nil, retries: Int = 0, retryDelaySeconds: Int = 1,
        continueOnFailure: Bool = false, idempotent: Bool = false, locks: [String] = [], approval: Approval? = nil, rollback: Action? = nil,
        secrets: [String] = [], runAs: RunAs? = nil, status: StepStatus = .pending
    ) {
        self.secrets = secrets
        self.runAs = runAs
        self.rollback = rollback
        self.approval = approval
        self.locks = locks
        self.name = name
        self.description = description
        self.executionOrder = executionOrder
        self.action = action
        self.timeoutSeconds = timeoutSeconds
        self.retries = retries
        self.retryDelaySeconds = retryDelaySeconds
        self.continueOnFailure = continueOnFailure
        self.idempotent = idempotent
        self.status = status
    }
}

public struct Workflow: Sendable, Equatable {
    public var id: String
    public var name: String
    public var description: String
    public var steps: [Step]
    /// Held from before its first step until the run ends (templated).
    public var locks: [String]
    /// Its runs start steps only inside this maintenance window.
    public var window: String?
    public var version: Int
    public var createdAt: Date
    public var updatedAt: Date
    /// The uid of the caller who made this version (nil in records older than versions).
    public var updatedBy: UInt32?
    /// Parameters whose values are masked wherever they would be shown or
    /// stored, and kept only in the memory of the daemon running the run.
    public var secretParams: [String]

    public init(
        id: String, name: String, description: String, steps: [Step], locks: [String] = [], version: Int, createdAt: Date, updatedAt: Date,
        updatedBy: UInt32? = nil, window: String? = nil, secretParams: [String] = []
    ) {
        self.secretParams = secretParams
        self.window = window
        self.updatedBy = updatedBy
        self.locks = locks
        self.id = id
        self.name = name
        self.description = description
        self.steps = steps
        self.version = version
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }

    /// The definition alone: what a version keeps and a diff compares (no shown statuses).
    public var definition: Workflow {
        var w = self
        for index in w.steps.indices { w.steps[index].status = .pending }
        return w
    }

    /// Steps in the order the spec lists them: executionOrder, then name.
    public var orderedSteps: [Step] {
        steps.sorted { ($0.executionOrder, $0.name) < ($1.executionOrder, $1.name) }
    }
}

/// How a workflow is addressed: by its name or by its id.
public enum WorkflowKey: Sendable, Equatable, CustomStringConvertible {
    case name(String)
    case id(String)

    public var description: String {
        switch self {
        case .name(let name): name
        case .id(let id): id
        }
    }
}

/// A page of a listing; `next` is the cursor to pass as `after`, nil at the end.
public struct Page<Item: Sendable>: Sendable {
    public var items: [Item]
    public var next: String?

    public init(items: [Item], next: String?) {
        self.items = items
        self.next = next
    }
}
