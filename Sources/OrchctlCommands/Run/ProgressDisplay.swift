import Foundation
import OrchestratorProtocol

/// The live view of a run for a terminal: one line per step with its
/// status, attempt and elapsed time, redrawn in place.
final class ProgressDisplay {
    private struct Row {
        var name: String
        var status = "pending"
        var attempt = 0
        var startedAt: Date?
        var finishedAt: Date?
    }

    private var rows: [Row]
    private var runStatus: String
    private let runId: String
    private let workflow: String
    private var drawnLines = 0

    init(run: JSONValue) {
        runId = Render.text(run["id"])
        workflow = Render.text(run["workflowName"])
        runStatus = Render.text(run["status"])
        rows = (run["steps"]?.arrayValue ?? []).map { step in
            Row(name: Render.text(step["name"]), status: Render.text(step["status"]), attempt: step["attempts"]?.intValue ?? 0,
                startedAt: step["startedAt"]?.stringValue.flatMap(RFC3339.parse), finishedAt: step["finishedAt"]?.stringValue.flatMap(RFC3339.parse))
        }
    }

    func apply(_ event: JSONValue) {
        let at = event["at"]?.stringValue.flatMap(RFC3339.parse)
        guard let step = event["step"]?.stringValue else {
            runStatus = Render.text(event["status"])
            return
        }
        guard let index = rows.firstIndex(where: { $0.name == step }) else { return }
        rows[index].status = Render.text(event["status"])
        if let attempt = event["attempt"]?.intValue { rows[index].attempt = attempt }
        if rows[index].status == "running" {
            rows[index].startedAt = at
            rows[index].finishedAt = nil
        } else {
            rows[index].finishedAt = at
        }
    }

    func apply(final run: JSONValue) {
        runStatus = Render.text(run["status"])
        for step in run["steps"]?.arrayValue ?? [] {
            guard let index = rows.firstIndex(where: { $0.name == Render.text(step["name"]) }) else { continue }
            rows[index].status = Render.text(step["status"])
        }
    }

    func redraw() {
        var out = ""
        if drawnLines > 0 { out += "\u{1B}[\(drawnLines)A" }
        var lines = ["run \(runId) (\(workflow)): \(runStatus)"]
        for row in rows {
            let elapsed = row.startedAt.map { start in
                let seconds = (row.finishedAt ?? Date()).timeIntervalSince(start)
                return String(format: "%.1fs", max(seconds, 0))
            } ?? ""
            let attempt = row.attempt > 1 ? " (attempt \(row.attempt))" : ""
            lines.append("  \(Self.symbol(row.status)) \(row.name.padding(toLength: 28, withPad: " ", startingAt: 0)) \(row.status)\(attempt) \(elapsed)")
        }
        for line in lines { out += "\u{1B}[2K" + line + "\n" }
        drawnLines = lines.count
        fflush(nil)  // whatever print() buffered comes first
        FileHandle.standardOutput.write(Data(out.utf8))
    }

    private static func symbol(_ status: String) -> String {
        switch status {
        case "succeeded": "✔"
        case "failed", "timed_out", "interrupted": "✘"
        case "running": "▶"
        case "skipped", "cancelled": "–"
        default: "·"
        }
    }

    /// One plain line per event, for logs and pipes.
    static func line(for event: JSONValue) -> String {
        var text = "\(Render.text(event["at"]))  \(event["step"]?.stringValue ?? "(run)")  \(Render.text(event["status"]))"
        if let attempt = event["attempt"]?.intValue { text += " attempt=\(attempt)" }
        if let code = event["exitCode"]?.intValue { text += " exit=\(code)" }
        if let message = event["message"]?.stringValue { text += " \(message)" }
        return text
    }
}
