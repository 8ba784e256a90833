/// Collects every problem with an input instead of stopping at the first,
/// so an operator fixes a workflow file in one pass.
public struct Validator: Sendable {
    public private(set) var errors: [FieldError] = []

    public init() {}

    public mutating func require(_ condition: Bool, _ field: String, _ message: @autoclosure () -> String) {
        if !condition { errors.append(FieldError(field: field, message: message())) }
    }

    public mutating func name(_ value: String, _ field: String) {
        require(NameRule.isValid(value), field, "'\(value.prefix(80))' \(NameRule.explanation)")
    }

    public mutating func description(_ value: String, _ field: String) {
        require(value.count <= Limits.descriptionLength, field, "must be at most \(Limits.descriptionLength) characters")
    }

    /// Names one environment variable would hold (`a-b` and `a_b` both
    /// `…_A_B`): a step would see only one of their values.
    public mutating func distinctVariables(_ names: some Sequence<String>, as variable: (String) -> String, at field: String) {
        for (variable, names) in Dictionary(grouping: names, by: variable).sorted(by: { $0.key < $1.key }) where names.count > 1 {
            let sorted = names.sorted()
            require(false, "\(field).\(sorted[0])",
                    "\(sorted.map { "'\($0)'" }.joined(separator: " and ")) would all be \(variable) in the steps' environment; rename all but one")
        }
    }

    public mutating func merge(_ other: [FieldError]) {
        errors.append(contentsOf: other)
    }

    /// Throws `validationFailed` carrying every collected problem, if any.
    public func check() throws(OrchestratorError) {
        if !errors.isEmpty { throw OrchestratorError.validation(errors) }
    }
}

extension Action {
    public func problems(at field: String) -> [FieldError] {
        var v = Validator()
        v.require(!exec.isEmpty, "\(field).exec", "must name a program to run (a non-empty argv)")
        v.require(exec.count <= Limits.argvCount, "\(field).exec", "must have at most \(Limits.argvCount) arguments")
        if let program = exec.first {
            v.require(!program.isEmpty, "\(field).exec[0]", "the program must not be empty")
        }
        for (index, argument) in exec.enumerated() {
            v.require(argument.utf8.count <= Limits.argumentLength, "\(field).exec[\(index)]", "must be at most \(Limits.argumentLength) bytes")
            v.require(!argument.utf8.contains(0), "\(field).exec[\(index)]", "must not contain a NUL byte")
        }
        v.require(env.count <= Limits.envCount, "\(field).env", "must have at most \(Limits.envCount) variables")
        for (key, value) in env.sorted(by: { $0.key < $1.key }) {
            v.require(Self.isEnvironmentName(key), "\(field).env.\(key)", "variable names are letters, digits and '_', not starting with a digit")
            v.require(value.utf8.count <= Limits.envValueLength, "\(field).env.\(key)", "must be at most \(Limits.envValueLength) bytes")
            v.require(!value.utf8.contains(0), "\(field).env.\(key)", "must not contain a NUL byte")
        }
        if let cwd {
            v.require(cwd.hasPrefix("/"), "\(field).cwd", "must be an absolute path")
            v.require(cwd.utf8.count <= Limits.cwdLength, "\(field).cwd", "must be at most \(Limits.cwdLength) bytes")
        }
        return v.errors
    }

    static func isEnvironmentName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard let first = bytes.first, bytes.count <= 256 else { return false }
        func isLetter(_ b: UInt8) -> Bool { (65...90).contains(b) || (97...122).contains(b) || b == 95 }
        return isLetter(first) && bytes.allSatisfy { isLetter($0) || (48...57).contains($0) }
    }
}

extension Step {
    public func problems(at field: String) -> [FieldError] {
        var v = Validator()
        v.name(name, "\(field).name")
        v.description(description, "\(field).description")
        v.merge(StepChanges.orderProblems(executionOrder, "\(field).executionOrder"))
        if let approval {
            // It runs nothing and holds nothing: people decide, not a command.
            v.require(action.exec.isEmpty && action.env.isEmpty && action.cwd == nil, "\(field).action", "an approval step runs no action: leave out action (or approval)")
            v.require(locks.isEmpty, "\(field).locks", "an approval step takes no locks")
            v.require(timeoutSeconds == nil, "\(field).timeoutSeconds", "an approval step times out by approval.timeoutSeconds")
            v.require(retries == 0, "\(field).retries", "an approval step is not retried: a rejection or timeout fails it")
            v.require(rollback == nil, "\(field).rollback", "an approval step changes nothing, so it has nothing to roll back")
            v.merge(approval.problems(at: "\(field).approval"))
        } else {
            v.merge(action.problems(at: "\(field).action"))
        }
        if let rollback, approval == nil { v.merge(rollback.problems(at: "\(field).rollback")) }
        v.merge(StepChanges.timeoutProblems(timeoutSeconds, "\(field).timeoutSeconds"))
        v.merge(StepChanges.retriesProblems(retries, "\(field).retries"))
        v.merge(StepChanges.retryDelayProblems(retryDelaySeconds, "\(field).retryDelaySeconds"))
        v.merge(LockRules.problems(locks, at: "\(field).locks"))
        v.merge(SecretRules.problems(of: self, at: field))
        if let runAs { v.merge(runAs.problems(at: "\(field).runAs")) }
        if approval != nil {
            v.require(secrets.isEmpty && runAs == nil, "\(field).approval", "an approval step runs nothing: it takes no secrets and no runAs")
        }
        return v.errors
    }
}

extension Array where Element == Step {
    /// Every problem of a whole step list: each step, their count, duplicate names.
    public func problems(at field: String) -> [FieldError] {
        var v = Validator()
        v.require(count <= Limits.stepsPerWorkflow, field, "a workflow holds at most \(Limits.stepsPerWorkflow) steps")
        var seen: Set<String> = []
        for (index, step) in enumerated() {
            v.merge(step.problems(at: "\(field)[\(index)]"))
            if !seen.insert(step.name).inserted {
                v.require(false, "\(field)[\(index)].name", "duplicate step name '\(step.name)'")
            }
        }
        return v.errors
    }
}

/// Lock names, as written (before `{{params.…}}` and `{{target.…}}` are
/// filled in) and as a run holds them.
public enum LockRules {
    public static let maximumLocks = 16
    public static let maximumLength = 256
    /// After the placeholders are filled in: a lock is a key in the database's index.
    public static let maximumResolvedLength = 512

    public static func problems(_ locks: [String], at field: String) -> [FieldError] {
        var v = Validator()
        v.require(locks.count <= maximumLocks, field, "at most \(maximumLocks) locks")
        for (index, lock) in locks.enumerated() {
            v.require(!lock.isEmpty && lock.utf8.count <= maximumLength, "\(field)[\(index)]", "must be 1 to \(maximumLength) bytes")
            v.require(lock.unicodeScalars.allSatisfy { $0.properties.generalCategory != .control && $0.properties.generalCategory != .format },
                      "\(field)[\(index)]", "must be printable characters")
        }
        let duplicates = Dictionary(grouping: locks, by: { $0 }).filter { $0.value.count > 1 }.keys.sorted()
        v.require(duplicates.isEmpty, field, "\(duplicates.map { "'\($0)'" }.joined(separator: ", ")) more than once")
        return v.errors
    }
}
