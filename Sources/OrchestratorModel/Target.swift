import Foundation

/// A device or host a fleet run works on: its labels select it, its vars
/// are what its steps see (`ORCH_TARGET_<VAR>`, `{{target.VAR}}`).
public struct Target: Sendable, Equatable {
    public var id: String
    public var name: String
    /// Selection keys. A value may list several values separated by commas
    /// (`group: "ams,leaf"`): a selector matches any one of them.
    public var labels: [String: String]
    public var vars: [String: String]
    public var createdAt: Date
    public var updatedAt: Date

    public init(id: String, name: String, labels: [String: String] = [:], vars: [String: String] = [:], createdAt: Date, updatedAt: Date) {
        self.id = id
        self.name = name
        self.labels = labels
        self.vars = vars
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }

    /// What defines it (without its id and times).
    public var draft: TargetDraft { TargetDraft(name: name, labels: labels, vars: vars) }
}

/// What `target.create` receives, and what an imported inventory host becomes.
public struct TargetDraft: Sendable, Equatable {
    public var name: String
    public var labels: [String: String]
    public var vars: [String: String]

    public init(name: String, labels: [String: String] = [:], vars: [String: String] = [:]) {
        self.name = name
        self.labels = labels
        self.vars = vars
    }

    public func problems(at field: String = "") -> [FieldError] {
        let prefix = field.isEmpty ? "" : "\(field)."
        var v = Validator()
        v.name(name, "\(prefix)name")
        v.merge(TargetRules.labelProblems(labels.mapValues { Optional($0) }, at: "\(prefix)labels"))
        v.merge(TargetRules.varProblems(vars.mapValues { Optional($0) }, at: "\(prefix)vars"))
        return v.errors
    }

    public func validate() throws(OrchestratorError) {
        var v = Validator()
        v.merge(problems())
        try v.check()
    }
}

/// What `target.update` changes. Labels and vars are merged as in a JSON
/// merge patch (RFC 7396): a key with a value sets it, a key with null
/// removes it, keys not named are kept.
public struct TargetChanges: Sendable, Equatable {
    public var name: String?
    public var labels: [String: String?]
    public var vars: [String: String?]

    public init(name: String? = nil, labels: [String: String?] = [:], vars: [String: String?] = [:]) {
        self.name = name
        self.labels = labels
        self.vars = vars
    }

    public var isEmpty: Bool { name == nil && labels.isEmpty && vars.isEmpty }

    public func validate() throws(OrchestratorError) {
        var v = Validator()
        if let name { v.name(name, "newName") }
        v.merge(TargetRules.labelProblems(labels, at: "labels"))
        v.merge(TargetRules.varProblems(vars, at: "vars"))
        v.require(!isEmpty, "fields", "nothing to change: give at least one of newName, labels, vars")
        try v.check()
    }

    /// The target with these changes applied.
    public func applied(to target: Target) -> Target {
        var t = target
        if let name { t.name = name }
        for (key, value) in labels { t.labels[key] = value }
        for (key, value) in vars { t.vars[key] = value }
        return t
    }
}

/// Which targets a fleet run (or a listing) works on: by name, or by labels
/// (every label given must match; a comma-listed value matches any item).
public enum TargetSelector: Sendable, Equatable, CustomStringConvertible {
    case names([String])
    case labels([String: String])

    public func matches(_ target: Target) -> Bool {
        switch self {
        case .names(let names): names.contains(target.name)
        case .labels(let wanted): TargetRules.labelPairs(target.labels).isSuperset(of: TargetRules.labelPairs(wanted))
        }
    }

    public var description: String {
        switch self {
        case .names(let names): names.joined(separator: ",")
        case .labels(let labels): labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
        }
    }

    public func problems(at field: String) -> [FieldError] {
        var v = Validator()
        switch self {
        case .names(let names):
            v.require(!names.isEmpty, "\(field).names", "must name at least one target")
            v.require(names.count <= Limits.targetsPerRun, "\(field).names", "at most \(Limits.targetsPerRun) targets")
            for (index, name) in names.enumerated() { v.name(name, "\(field).names[\(index)]") }
            let duplicates = Dictionary(grouping: names, by: { $0 }).filter { $0.value.count > 1 }.keys.sorted()
            v.require(duplicates.isEmpty, "\(field).names", "names \(duplicates.joined(separator: ", ")) more than once")
        case .labels(let labels):
            v.require(!labels.isEmpty, "\(field).labels", "must give at least one label")
            v.merge(TargetRules.labelProblems(labels.mapValues { Optional($0) }, at: "\(field).labels"))
        }
        return v.errors
    }
}

/// The rules of labels and vars, and the environment a target gives a step.
public enum TargetRules {
    public static let maximumLabels = 64
    public static let maximumVars = 128
    public static let labelValueLength = 1024
    public static let varNameLength = 64

    /// Label keys: lower-case letters, digits, '_' and '-', starting with a
    /// letter or digit (no '.': a key is a field path in the database).
    public static func isLabelKey(_ key: String) -> Bool {
        let bytes = Array(key.utf8)
        guard let first = bytes.first, bytes.count <= NameRule.maximumLength, isLowerAlnum(first) else { return false }
        return bytes.allSatisfy { isLowerAlnum($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") }
    }

    /// One item of a label's value: letters, digits, '.', '_', '-'.
    public static func isLabelItem(_ item: Substring) -> Bool {
        !item.isEmpty && item.utf8.count <= NameRule.maximumLength && item.utf8.allSatisfy {
            isLowerAlnum($0) || (65...90).contains($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-")
        }
    }

    /// Var names are identifiers, as Ansible's are: letters, digits and '_',
    /// not starting with a digit. `name` is the target's own name in
    /// `{{target.name}}`, so no var may take it.
    public static func isVarName(_ name: String) -> Bool {
        name.utf8.count <= varNameLength && Action.isEnvironmentName(name) && name != "name"
    }

    /// `ansible_host` → `ORCH_TARGET_ANSIBLE_HOST`.
    public static func environmentName(_ variable: String) -> String { "ORCH_TARGET_" + variable.uppercased() }

    /// `{site: "ams", group: "a,b"}` → `["group=a", "group=b", "site=ams"]`:
    /// what a selector is matched against (the database indexes the same).
    public static func labelPairs(_ labels: [String: String]) -> Set<String> {
        var pairs: Set<String> = []
        for (key, value) in labels {
            for item in value.split(separator: ",", omittingEmptySubsequences: true) { pairs.insert("\(key)=\(item)") }
        }
        return pairs
    }

    /// Every problem of a set of labels; a nil value (a removal) is only checked for its key.
    public static func labelProblems(_ labels: [String: String?], at field: String) -> [FieldError] {
        var v = Validator()
        v.require(labels.count <= maximumLabels, field, "at most \(maximumLabels) labels")
        for (key, value) in labels.sorted(by: { $0.key < $1.key }) {
            v.require(isLabelKey(key), "\(field).\(key)", "label keys are 1-63 characters of a-z, 0-9, '_', '-', starting with a letter or digit")
            guard let value else { continue }
            v.require(value.utf8.count <= labelValueLength, "\(field).\(key)", "must be at most \(labelValueLength) bytes")
            let items = value.split(separator: ",", omittingEmptySubsequences: false)
            v.require(items.allSatisfy(isLabelItem), "\(field).\(key)",
                      "'\(value.prefix(80))' must be one value or several separated by commas, each 1-63 characters of letters, digits, '.', '_', '-'")
        }
        return v.errors
    }

    /// Every problem of a set of vars, including two names one environment variable would hold.
    public static func varProblems(_ vars: [String: String?], at field: String) -> [FieldError] {
        var v = Validator()
        v.require(vars.count <= maximumVars, field, "at most \(maximumVars) vars")
        for (name, value) in vars.sorted(by: { $0.key < $1.key }) {
            if name == "name" {
                v.require(false, "\(field).name", "'name' is reserved: {{target.name}} is the target's own name")
                continue
            }
            v.require(isVarName(name), "\(field).\(name)", "var names are letters, digits and '_', not starting with a digit, at most \(varNameLength) characters")
            guard let value else { continue }
            v.require(value.utf8.count <= Limits.envValueLength, "\(field).\(name)", "must be at most \(Limits.envValueLength) bytes")
            v.require(!value.utf8.contains(0), "\(field).\(name)", "must not contain a NUL byte")
        }
        v.distinctVariables(vars.keys.filter(isVarName), as: environmentName, at: field)
        return v.errors
    }

    private static func isLowerAlnum(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }
}

/// What `target.import` did, or would do with `dryRun`: targets created,
/// targets whose labels or vars changed (before and after), and names of
/// those already as the inventory says. Targets the inventory does not
/// name are left alone.
public struct TargetImport: Sendable, Equatable {
    public struct Update: Sendable, Equatable {
        public var before: TargetDraft
        public var after: TargetDraft

        public init(before: TargetDraft, after: TargetDraft) {
            self.before = before
            self.after = after
        }

        /// The merge patch that turns `before` into `after`.
        public var changes: TargetChanges {
            func patch(_ old: [String: String], _ new: [String: String]) -> [String: String?] {
                var out: [String: String?] = [:]
                for (key, value) in new where old[key] != value { out[key] = .some(value) }
                for key in old.keys where new[key] == nil { out[key] = .some(nil) }
                return out
            }
            return TargetChanges(labels: patch(before.labels, after.labels), vars: patch(before.vars, after.vars))
        }
    }

    public var dryRun: Bool
    public var created: [TargetDraft]
    public var updated: [Update]
    public var unchanged: [String]

    public init(dryRun: Bool, created: [TargetDraft] = [], updated: [Update] = [], unchanged: [String] = []) {
        self.dryRun = dryRun
        self.created = created
        self.updated = updated
        self.unchanged = unchanged
    }
}
