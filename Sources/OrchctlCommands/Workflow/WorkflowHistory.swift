import ArgumentParser
import OrchestratorModel
import OrchestratorProtocol

struct WorkflowHistory: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "history",
        abstract: "List a workflow's versions, newest first: who changed what, and when.",
        discussion: """
            Every change to a workflow keeps the definition it replaced, unchangeable. See one \
            with 'orchctl workflow get NAME --version N', compare two with 'orchctl workflow \
            diff NAME N M', run one with 'orchctl run start NAME --version N'.

            Examples:
              orchctl workflow history vlan-rollout
              orchctl -o json workflow history vlan-rollout --limit 5
            """
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var workflow: WorkflowName
    @Option(parsing: .unconditional, help: "Versions per page (1-1000).") var limit: Int = 100
    @Option(parsing: .unconditional, help: ArgumentHelp("Versions older than this one (the 'next' cursor of the previous page).", valueName: "VERSION"))
    var after: Int?

    func validate() throws {
        guard (1...1000).contains(limit) else { throw ValidationError("--limit must be between 1 and 1000") }
        if let after, after < 2 { throw ValidationError("--after must be a version of 2 or more") }
    }

    func run() throws {
        try reporting {
            let page = try global.call(RPCMethods.workflowHistory, WorkflowHistoryParams(name: workflow.name, limit: limit, after: after))
            global.emit(page) { page in
                var table = Table("VERSION", "UPDATED", "BY", "NAME", "CHANGES")
                for entry in page.items {
                    table.add(
                        String(entry.version), Render.text(entry.updatedAt), entry.updatedBy.map { "uid \($0)" } ?? "-", entry.name,
                        entry.changes.isEmpty ? "-" : entry.changes.joined(separator: "; "))
                }
                var out = table.render()
                if let next = page.next { out += Render.more("workflow history", [workflow.name], limit: limit, after: String(next)) }
                return out
            }
        }
    }
}

struct WorkflowDiffCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diff",
        abstract: "Show what changed in a workflow between two versions, step by step.",
        discussion: """
            FROM and TO are versions (see 'orchctl workflow history'); TO defaults to the \
            current one. Steps are matched by name; a step that only got a new name shows as \
            renamed. The exit status is 0 whether or not anything differs; to ask whether a file \
            would change the stored workflow, use 'orchctl apply -f FILE --dry-run'.

            Lines: '+' added step, '-' removed step, '~' changed step (its fields below, \
            old → new), '>' renamed step.

            Examples:
              orchctl workflow diff vlan-rollout 3 4
              orchctl workflow diff vlan-rollout 1
              orchctl -o json workflow diff vlan-rollout 3 4
            """
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var workflow: WorkflowName
    @Argument(help: "The older version.") var from: Int
    @Argument(help: "The newer version (default: the current one).") var to: Int?

    func validate() throws {
        guard from >= 1, (to ?? 1) >= 1 else { throw ValidationError("versions start at 1") }
    }

    func run() throws {
        try reporting {
            let diff = try global.call(RPCMethods.workflowDiff, WorkflowDiffParams(name: workflow.name, from: from, to: to))
            global.emit(diff, table: Render.diff)
        }
    }
}

extension Render {
    /// A diff for a terminal: one line per change, a changed step's fields indented below it.
    static func diff(_ diff: WorkflowDiff) -> String {
        let target = diff.to.map { "version \($0)" } ?? "the file"
        var out = "workflow \(diff.workflow): version \(diff.from) → \(target)\n"
        if diff.isEmpty { return out + "  no differences\n" }
        for field in diff.fields { out += "  \(field.field): \(shown(field.from)) → \(shown(field.to))\n" }
        for step in diff.steps {
            switch step.change {
            case .added: out += "+ step \(step.step)\n"
            case .removed: out += "- step \(step.step)\n"
            case .renamed: out += "> step \(step.step) (renamed from \(step.renamedFrom ?? "?"))\n"
            case .changed:
                out += "~ step \(step.step)\n"
                for field in step.fields { out += "    \(field.field): \(shown(field.from)) → \(shown(field.to))\n" }
            }
        }
        return out
    }

    private static func shown(_ value: String?) -> String {
        guard let value else { return "(none)" }
        return value.isEmpty ? "\"\"" : value
    }
}
