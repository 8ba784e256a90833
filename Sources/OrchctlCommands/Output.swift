import Foundation
import OrchestratorModel
import OrchestratorProtocol

/// Column-aligned text tables for people.
struct Table {
    var headers: [String]
    var rows: [[String]] = []

    init(_ headers: String...) {
        self.headers = headers
    }

    mutating func add(_ cells: String...) {
        rows.append(cells)
    }

    func render() -> String {
        let all = [headers] + rows
        let widths = headers.indices.map { column in all.map { $0.indices.contains(column) ? Colour.width($0[column]) : 0 }.max() ?? 0 }
        return all.map { row in
            row.enumerated().map { index, cell in
                index == row.count - 1 ? cell : cell + String(repeating: " ", count: max(widths[index] - Colour.width(cell), 0))
            }.joined(separator: "  ")
        }.joined(separator: "\n") + "\n"
    }
}

/// Key: value lines with aligned values.
func fields(_ pairs: [(String, String)]) -> String {
    let width = pairs.map(\.0.count).max() ?? 0
    return pairs.map { "\(($0.0 + ":").padding(toLength: width + 1, withPad: " ", startingAt: 0)) \($0.1)" }.joined(separator: "\n") + "\n"
}

enum Render {
    /// The command that shows the next page: the same command with the same
    /// filters (`words`, each quoted for a shell), `--limit` unless the
    /// default, and `--after` the page's `next`.
    static func more(_ command: String, _ words: [String] = [], limit: Int, after next: String) -> String {
        let rest = words + (limit == 100 ? [] : ["--limit", String(limit)]) + ["--after", next]
        return "More: orchctl \(command) " + rest.map(shellQuoted).joined(separator: " ") + "\n"
    }

    static func text(_ value: String?) -> String { value ?? "-" }
    static func text(_ value: Int?) -> String { value.map(String.init) ?? "-" }
    /// As the wire writes it: RFC 3339, to the millisecond.
    static func text(_ value: Date?) -> String { value.map(RFC3339.format) ?? "-" }
    static func text(_ value: Bool) -> String { value ? "yes" : "no" }
    /// A time as the wire writes it, and how long ago: `2026-12-02T15:20:01.042Z (3m ago)`.
    static func when(_ value: Date?) -> String { value.map { "\(RFC3339.format($0)) (\(Times.ago($0)))" } ?? "-" }

    /// An argv as a shell would show it, quoting what needs it.
    static func command(_ action: Action) -> String {
        action.exec.map(shellQuoted).joined(separator: " ")
    }

    static func shellQuoted(_ word: String) -> String { ShellWord.quoted(word) }

    static func steps(_ steps: [Step]) -> String {
        var table = Table("ORDER", "NAME", "STATUS", "TIMEOUT", "RETRIES", "FLAGS", "COMMAND")
        for step in steps {
            var flags: [String] = []
            if step.continueOnFailure { flags.append("continue-on-failure") }
            if step.idempotent { flags.append("idempotent") }
            if !step.locks.isEmpty { flags.append("locks=" + step.locks.joined(separator: ",")) }
            if !step.secrets.isEmpty { flags.append("secrets=" + step.secrets.joined(separator: ",")) }
            if let runAs = step.runAs { flags.append("as=" + runAs.user + (runAs.group.map { ":" + $0 } ?? "")) }
            table.add(
                text(step.executionOrder), step.name, step.status.rawValue,
                step.timeoutSeconds.map { "\($0)s" } ?? "-", text(step.retries),
                flags.isEmpty ? "-" : flags.joined(separator: ","), command(step.action))
        }
        return table.render()
    }

    static func workflow(_ w: Workflow) -> String {
        var out = fields([
            ("Name", w.name), ("Id", w.id), ("Description", w.description),
            ("Version", text(w.version)), ("Created", text(w.createdAt)),
            ("Updated", text(w.updatedAt) + (w.updatedBy.map { " by uid \($0)" } ?? "")),
        ] + (w.locks.isEmpty ? [] : [("Locks", w.locks.joined(separator: " "))])
          + parameters(w)
          + (w.secretParams.isEmpty ? [] : [("Secret params", w.secretParams.joined(separator: " ") + " (masked; give them with -p)")]))
        out += "\n" + (w.steps.isEmpty ? "No steps yet: add one with 'orchctl step add \(w.name) NAME --order N -- CMD'.\n" : steps(w.steps))
        return out
    }

    /// What a run must be given, as `-p NAME=VALUE` (the secret ones on their own line).
    private static func parameters(_ w: Workflow) -> [(String, String)] {
        let needed = Parameters.referenced(steps: w.steps, locks: w.locks).filter { !w.secretParams.contains($0) }
        return needed.isEmpty ? [] : [("Parameters", needed.joined(separator: " ") + " (its {{params.*}}: each run needs -p NAME=VALUE)")]
    }

    static func step(_ s: Step) -> String {
        var pairs: [(String, String)] = [
            ("Name", s.name), ("Description", s.description), ("Order", text(s.executionOrder)),
            ("Status", s.status.rawValue), ("Command", command(s.action)),
        ]
        if !s.action.env.isEmpty {
            pairs.append(("Environment", s.action.env.keys.sorted().map { "\($0)=\(text(s.action.env[$0]))" }.joined(separator: " ")))
        }
        if let cwd = s.action.cwd { pairs.append(("Directory", cwd)) }
        pairs += [
            ("Timeout", s.timeoutSeconds.map { "\($0)s" } ?? "none"), ("Retries", text(s.retries)),
            ("Retry delay", "\(s.retryDelaySeconds)s"), ("Continue on failure", text(s.continueOnFailure)),
            ("Idempotent", text(s.idempotent)), ("Locks", s.locks.isEmpty ? "none" : s.locks.joined(separator: " ")),
            ("Secrets", s.secrets.isEmpty ? "none" : s.secrets.map { "\($0) ($\(SecretRules.environmentName($0)))" }.joined(separator: " ")),
            ("Runs as", s.runAs.map { $0.user + ($0.group.map { ", group \($0)" } ?? "") } ?? "the daemon's user"),
        ]
        return fields(pairs)
    }
}
