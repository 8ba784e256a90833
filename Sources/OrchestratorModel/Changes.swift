/// What `workflow.create` receives.
public struct WorkflowDraft: Sendable, Equatable {
    public var name: String
    public var description: String
    public var steps: [Step]
    public var locks: [String]
    public var window: String?
    public var secretParams: [String]

    public init(name: String, description: String = "", steps: [Step] = [], locks: [String] = [], window: String? = nil, secretParams: [String] = []) {
        self.secretParams = secretParams
        self.window = window
        self.name = name
        self.description = description
        self.steps = steps
        self.locks = locks
    }

    public func validate() throws(OrchestratorError) {
        var v = Validator()
        v.name(name, "name")
        v.description(description, "description")
        v.merge(steps.problems(at: "steps"))
        v.merge(LockRules.problems(locks, at: "locks"))
        if let window { v.name(window, "window") }
        v.merge(SecretRules.problems(secretParams: secretParams, locks: locks, steps: steps))
        try v.check()
    }
}

/// The fields `workflow.update` replaces; nil leaves a field as it is.
public struct WorkflowChanges: Sendable, Equatable {
    public var name: String?
    public var description: String?
    public var steps: [Step]?
    public var locks: [String]?
    /// `.some(nil)` unbinds the workflow from its window.
    public var window: String??
    public var secretParams: [String]?
    /// When set, the update applies only if the stored version still matches.
    public var expectedVersion: Int?

    public init(
        name: String? = nil, description: String? = nil, steps: [Step]? = nil, locks: [String]? = nil, window: String?? = nil,
        secretParams: [String]? = nil, expectedVersion: Int? = nil
    ) {
        self.secretParams = secretParams
        self.window = window
        self.name = name
        self.description = description
        self.steps = steps
        self.locks = locks
        self.expectedVersion = expectedVersion
    }

    public var isEmpty: Bool { name == nil && description == nil && steps == nil && locks == nil && window == nil && secretParams == nil }

    public func validate() throws(OrchestratorError) {
        var v = Validator()
        if let name { v.name(name, "name") }
        if let description { v.description(description, "description") }
        if let steps { v.merge(steps.problems(at: "steps")) }
        if let locks { v.merge(LockRules.problems(locks, at: "locks")) }
        if case .some(.some(let window)) = window { v.name(window, "window") }
        if let secretParams { v.merge(SecretRules.problems(secretParams: secretParams, locks: locks ?? [], steps: steps ?? [])) }
        if let expectedVersion { v.require(expectedVersion >= 1, "expectedVersion", "must be 1 or more") }
        v.require(!isEmpty, "fields", "nothing to change: give at least one of name, description, steps, locks, window, secretParams")
        try v.check()
    }
}

/// The fields `step.update` replaces; nil leaves a field as it is.
/// `timeoutSeconds` is doubly optional: `.some(nil)` removes the timeout.
public struct StepChanges: Sendable, Equatable {
    public var name: String?
    public var description: String?
    public var executionOrder: Int?
    public var action: Action?
    public var timeoutSeconds: Int??
    public var retries: Int?
    public var retryDelaySeconds: Int?
    public var continueOnFailure: Bool?
    public var idempotent: Bool?
    public var locks: [String]?
    public var secrets: [String]?
    /// `.some(nil)`: the step runs as the daemon's user again.
    public var runAs: RunAs??

    public init(
        name: String? = nil, description: String? = nil, executionOrder: Int? = nil, action: Action? = nil,
        timeoutSeconds: Int?? = nil, retries: Int? = nil, retryDelaySeconds: Int? = nil,
        continueOnFailure: Bool? = nil, idempotent: Bool? = nil, locks: [String]? = nil, secrets: [String]? = nil, runAs: RunAs?? = nil
    ) {
        self.secrets = secrets
        self.runAs = runAs
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
    }

    public var isEmpty: Bool { self == StepChanges() }

    public func validate() throws(OrchestratorError) {
        var v = Validator()
        if let name { v.name(name, "step.name") }
        if let description { v.description(description, "step.description") }
        if let executionOrder { v.merge(Self.orderProblems(executionOrder, "step.executionOrder")) }
        if let action { v.merge(action.problems(at: "step.action")) }
        if let timeoutSeconds { v.merge(Self.timeoutProblems(timeoutSeconds, "step.timeoutSeconds")) }
        if let retries { v.merge(Self.retriesProblems(retries, "step.retries")) }
        if let retryDelaySeconds { v.merge(Self.retryDelayProblems(retryDelaySeconds, "step.retryDelaySeconds")) }
        if let locks { v.merge(LockRules.problems(locks, at: "step.locks")) }
        v.require(!isEmpty, "step", "nothing to change: give at least one step field")
        try v.check()
    }

    /// The step with these changes applied.
    public func applied(to step: Step) -> Step {
        var s = step
        if let name { s.name = name }
        if let description { s.description = description }
        if let executionOrder { s.executionOrder = executionOrder }
        if let action { s.action = action }
        if let timeoutSeconds { s.timeoutSeconds = timeoutSeconds }
        if let retries { s.retries = retries }
        if let retryDelaySeconds { s.retryDelaySeconds = retryDelaySeconds }
        if let continueOnFailure { s.continueOnFailure = continueOnFailure }
        if let idempotent { s.idempotent = idempotent }
        if let locks { s.locks = locks }
        if let secrets { s.secrets = secrets }
        if let runAs { s.runAs = runAs }
        return s
    }

    static func orderProblems(_ value: Int, _ field: String) -> [FieldError] {
        (0...Limits.executionOrder).contains(value) ? [] : [FieldError(field: field, message: "must be between 0 and \(Limits.executionOrder)")]
    }

    static func timeoutProblems(_ value: Int?, _ field: String) -> [FieldError] {
        guard let value else { return [] }
        return (1...Limits.timeoutSeconds).contains(value) ? [] : [FieldError(field: field, message: "must be a positive number of seconds, at most \(Limits.timeoutSeconds)")]
    }

    static func retriesProblems(_ value: Int, _ field: String) -> [FieldError] {
        Limits.retries.contains(value) ? [] : [FieldError(field: field, message: "must be between \(Limits.retries.lowerBound) and \(Limits.retries.upperBound)")]
    }

    static func retryDelayProblems(_ value: Int, _ field: String) -> [FieldError] {
        Limits.retryDelaySeconds.contains(value) ? [] : [FieldError(field: field, message: "must be between \(Limits.retryDelaySeconds.lowerBound) and \(Limits.retryDelaySeconds.upperBound) seconds")]
    }
}
