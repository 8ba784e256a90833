import Foundation

/// How a change to a workflow is guarded and attributed: it applies only to
/// version `basedOn` (so the snapshot kept of that version is exactly what
/// the change replaced), and `by` is the caller's uid.
public struct WorkflowRevision: Sendable, Equatable {
    public var basedOn: Int
    public var by: UInt32?

    public init(basedOn: Int, by: UInt32?) {
        self.basedOn = basedOn
        self.by = by
    }
}

/// One version in a workflow's history, newest first in `workflow.history`:
/// who made it, when, and what it changed from the version before.
public struct WorkflowHistoryEntry: Sendable, Equatable {
    public var version: Int
    public var name: String
    public var updatedAt: Date
    public var updatedBy: UInt32?
    /// One line per change, e.g. "added step verify"; empty for version 1.
    public var changes: [String]

    public init(version: Int, name: String, updatedAt: Date, updatedBy: UInt32?, changes: [String]) {
        self.version = version
        self.name = name
        self.updatedAt = updatedAt
        self.updatedBy = updatedBy
        self.changes = changes
    }
}

/// One field that differs: its value before and after, as an operator would
/// write it (an argv shell-quoted, env as KEY=VALUE), nil where absent.
public struct FieldChange: Sendable, Equatable {
    public var field: String
    public var from: String?
    public var to: String?

    public init(field: String, from: String?, to: String?) {
        self.field = field
        self.from = from
        self.to = to
    }
}

/// What happened to one step between two versions.
public struct StepDiff: Sendable, Equatable {
    public enum Change: String, Sendable, CaseIterable {
        case added, removed, changed
        /// The same step under a new name (every other field equal).
        case renamed
    }

    public var step: String
    public var change: Change
    /// For `renamed`: the step's old name.
    public var renamedFrom: String?
    /// For `changed`: the fields that differ.
    public var fields: [FieldChange]

    public init(step: String, change: Change, renamedFrom: String? = nil, fields: [FieldChange] = []) {
        self.step = step
        self.change = change
        self.renamedFrom = renamedFrom
        self.fields = fields
    }
}

/// A step-by-step difference between two definitions of a workflow. `to`
/// is nil when the newer side is a draft (`apply --dry-run`).
public struct WorkflowDiff: Sendable, Equatable {
    public var workflow: String
    public var from: Int
    public var to: Int?
    /// Workflow-level fields: name, description, locks.
    public var fields: [FieldChange]
    public var steps: [StepDiff]

    public init(workflow: String, from: Int, to: Int?, fields: [FieldChange], steps: [StepDiff]) {
        self.workflow = workflow
        self.from = from
        self.to = to
        self.fields = fields
        self.steps = steps
    }

    public var isEmpty: Bool { fields.isEmpty && steps.isEmpty }

    /// The difference from `old` to `new`. Steps are matched by name; a
    /// removed and an added step that differ only in name are a rename.
    /// Steps come in the new definition's order, removed ones last.
    public init(from old: Workflow, to new: Workflow, toVersion: Int?) {
        var steps: [StepDiff] = []
        let oldByName = Dictionary(old.steps.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        let newNames = Set(new.steps.map(\.name))
        var removed = old.orderedSteps.filter { !newNames.contains($0.name) }
        for step in new.orderedSteps {
            if let before = oldByName[step.name] {
                let fields = Self.fieldChanges(before, step)
                if !fields.isEmpty { steps.append(StepDiff(step: step.name, change: .changed, fields: fields)) }
            } else if let index = removed.firstIndex(where: { Self.definition($0, named: step.name) == Self.definition(step, named: step.name) }) {
                steps.append(StepDiff(step: step.name, change: .renamed, renamedFrom: removed[index].name))
                removed.remove(at: index)
            } else {
                steps.append(StepDiff(step: step.name, change: .added))
            }
        }
        steps += removed.map { StepDiff(step: $0.name, change: .removed) }
        var fields: [FieldChange] = []
        Self.compare("name", old.name, new.name, into: &fields)
        Self.compare("description", old.description, new.description, into: &fields)
        Self.compare("locks", Self.list(old.locks), Self.list(new.locks), into: &fields)
        Self.compare("window", old.window, new.window, into: &fields)
        Self.compare("secretParams", Self.list(old.secretParams), Self.list(new.secretParams), into: &fields)
        self.init(workflow: new.name, from: old.version, to: toVersion, fields: fields, steps: steps)
    }

    /// One line per change, for history and a terminal.
    public var summary: [String] {
        fields.map { "\($0.field): \(Self.shown($0.from)) → \(Self.shown($0.to))" } + steps.map { diff in
            switch diff.change {
            case .added: "added step \(diff.step)"
            case .removed: "removed step \(diff.step)"
            case .renamed: "renamed step \(diff.renamedFrom ?? "?") → \(diff.step)"
            case .changed: "changed step \(diff.step) (\(diff.fields.map(\.field).joined(separator: ", ")))"
            }
        }
    }

    private static func shown(_ value: String?) -> String {
        guard let value else { return "(none)" }
        return value.isEmpty ? "\"\"" : value
    }

    private static func definition(_ step: Step, named name: String) -> Step {
        var s = step
        s.name = name
        s.status = .pending
        return s
    }

    private static func fieldChanges(_ old: Step, _ new: Step) -> [FieldChange] {
        var fields: [FieldChange] = []
        compare("description", old.description, new.description, into: &fields)
        compare("executionOrder", String(old.executionOrder), String(new.executionOrder), into: &fields)
        compare("action.exec", old.action.exec.map(shellWord).joined(separator: " "), new.action.exec.map(shellWord).joined(separator: " "), into: &fields)
        compare("action.env", env(old.action.env), env(new.action.env), into: &fields)
        compare("action.cwd", old.action.cwd, new.action.cwd, into: &fields)
        compare("timeoutSeconds", old.timeoutSeconds.map(String.init), new.timeoutSeconds.map(String.init), into: &fields)
        compare("retries", String(old.retries), String(new.retries), into: &fields)
        compare("retryDelaySeconds", String(old.retryDelaySeconds), String(new.retryDelaySeconds), into: &fields)
        compare("continueOnFailure", String(old.continueOnFailure), String(new.continueOnFailure), into: &fields)
        compare("idempotent", String(old.idempotent), String(new.idempotent), into: &fields)
        compare("locks", list(old.locks), list(new.locks), into: &fields)
        compare("rollback.exec", old.rollback.map { $0.exec.map(shellWord).joined(separator: " ") }, new.rollback.map { $0.exec.map(shellWord).joined(separator: " ") }, into: &fields)
        compare("rollback.env", old.rollback.flatMap { env($0.env) }, new.rollback.flatMap { env($0.env) }, into: &fields)
        compare("rollback.cwd", old.rollback?.cwd, new.rollback?.cwd, into: &fields)
        compare("approval", old.approval.map(describe), new.approval.map(describe), into: &fields)
        compare("secrets", list(old.secrets), list(new.secrets), into: &fields)
        compare("runAs", old.runAs.map { $0.user + ($0.group.map { ":" + $0 } ?? "") }, new.runAs.map { $0.user + ($0.group.map { ":" + $0 } ?? "") }, into: &fields)
        return fields
    }

    private static func compare(_ field: String, _ old: String?, _ new: String?, into fields: inout [FieldChange]) {
        if old != new { fields.append(FieldChange(field: field, from: old, to: new)) }
    }

    private static func describe(_ approval: Approval) -> String {
        "\(approval.approvers) of \(approval.group.map { "group \($0)" } ?? "admins")\(approval.notStarter ? ", not the starter" : "")"
            + (approval.timeoutSeconds.map { ", timeout \($0)s" } ?? "")
    }

    private static func list(_ values: [String]) -> String? {
        values.isEmpty ? nil : values.joined(separator: ", ")
    }

    private static func env(_ env: [String: String]) -> String? {
        env.isEmpty ? nil : env.sorted { $0.key < $1.key }.map { "\($0.key)=\(shellWord($0.value))" }.joined(separator: " ")
    }

    private static func shellWord(_ word: String) -> String { ShellWord.quoted(word) }
}

/// A word as an operator would type it to a shell: unquoted when plain,
/// else in single quotes; newlines shown as `\n` so a script stays on one line.
public enum ShellWord {
    public static func quoted(_ word: String) -> String {
        let word = word.replacingOccurrences(of: "\n", with: "\\n")
        if !word.isEmpty, word.allSatisfy({ $0.isLetter || $0.isNumber || "-_./:=@%+,{}".contains($0) }) { return word }
        return "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}

extension OrchestratorError {
    /// A change based on a version that is no longer the stored one.
    public static func versionConflict(_ name: String, expected: Int, current: Int) -> OrchestratorError {
        .conflict(
            "workflow '\(name)' is at version \(current), not the expected \(expected)",
            details: ["expectedVersion": String(expected), "currentVersion": String(current)])
    }

    public var isVersionConflict: Bool { kind == .conflict && details["expectedVersion"] != nil }
}
