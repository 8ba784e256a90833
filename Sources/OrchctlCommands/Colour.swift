import Foundation
import OrchestratorModel

/// Colour for people at a terminal only: never in a pipe or a file, never
/// with `NO_COLOR` set to anything (no-color.org), never on a dumb terminal.
/// Four escape codes and a check of the standard output: not worth a
/// dependency (and a library's global switch would not know that orchctl
/// only ever colours what goes to its standard output).
enum Colour {
    static let enabled: Bool = {
        let environment = ProcessInfo.processInfo.environment
        return isatty(STDOUT_FILENO) == 1 && (environment["NO_COLOR"] ?? "").isEmpty && environment["TERM"] != "dumb"
    }()

    /// A status word (or its symbol) in the colour of how it went: green done, red failed, yellow going on.
    static func status(_ text: String, _ status: String) -> String {
        guard enabled, let code = code(for: status) else { return text }
        return "\u{1B}[\(code)m\(text)\u{1B}[0m"
    }

    private static func code(for status: String) -> Int? {
        switch status {
        case "succeeded", "rolled_back": 32
        case "failed", "timed_out", "interrupted", "rollback_failed", "cancelled": 31
        case "running", "waiting", "waiting_approval", "rolling_back", "queued": 33
        default: nil
        }
    }

    /// How wide `text` shows: escape sequences take no room.
    static func width(_ text: String) -> Int {
        guard text.contains("\u{1B}") else { return text.count }
        return text.replacingOccurrences(of: "\u{1B}\\[[0-9;]*m", with: "", options: .regularExpression).count
    }
}
