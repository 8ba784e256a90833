import Foundation
import OrchestratorModel
import OrchestratorProtocol

/// The live view of a run for a terminal: one line per step with its
/// status, attempt and elapsed time, redrawn in place.
final class ProgressDisplay {
    private struct Row {
        var name: String
        var status = StepStatus.pending
        var attempt = 0
        var startedAt: Date?
        var finishedAt: Date?
        /// Why it failed: its exit code, or what the daemon said.
        var why = ""
    }

    private var rows: [Row]
    /// What the run is doing, as its events say it (`resumed` is not a RunStatus).
    private var runStatus: String
    private let runId: String
    private let workflow: String
    private var drawnLines = 0

    init(run: Run) {
        runId = run.id
        workflow = run.workflowName
        runStatus = run.status.rawValue
        rows = run.steps.map { step in
            Row(name: step.name, status: step.status, attempt: step.attempts, startedAt: step.startedAt, finishedAt: step.finishedAt,
                why: Self.why(status: step.status, exitCode: step.exitCode, error: step.error))
        }
    }

    func apply(_ event: RunEvent) {
        guard event.step != nil else {
            runStatus = event.status
            return
        }
        // A step event whose status this orchctl does not know changes nothing.
        guard let index = rows.firstIndex(where: { $0.name == event.step }), let status = event.stepStatus else { return }
        rows[index].status = status
        if let attempt = event.attempt { rows[index].attempt = attempt }
        if status == .running {
            rows[index].startedAt = event.at
            rows[index].finishedAt = nil
        } else {
            rows[index].finishedAt = event.at
        }
        rows[index].why = Self.why(status: status, exitCode: event.exitCode, error: event.message)
    }

    func apply(final run: Run) {
        runStatus = run.status.rawValue
        for step in run.steps {
            guard let index = rows.firstIndex(where: { $0.name == step.name }) else { continue }
            rows[index].status = step.status
            rows[index].why = Self.why(status: step.status, exitCode: step.exitCode, error: step.error)
        }
        failedSteps = run.steps.filter { $0.status.isFailure }.map(\.name)
    }

    /// Steps that failed, once the run has ended: the view says where their output is.
    private var failedSteps: [String] = []

    /// What a failed step's row says after its status; nothing for others.
    static func why(status: StepStatus, exitCode: Int?, error: String?) -> String {
        guard status.isFailure else { return "" }
        // The daemon's reason names the exit status when there is one ("exited with status 1"); the bare code otherwise.
        let text = error.flatMap { $0.split(separator: "\n").first.map(String.init) } ?? exitCode.map { "exit \($0)" } ?? ""
        return text.count > 100 ? String(text.prefix(99)) + "…" : text
    }

    func redraw() {
        var out = ""
        if drawnLines > 0 { out += "\u{1B}[\(drawnLines)A" }
        var lines = ["run \(runId) (\(workflow)): \(Colour.status(runStatus, runStatus))"]
        for row in rows {
            let elapsed = row.startedAt.map { start in
                let seconds = (row.finishedAt ?? Date()).timeIntervalSince(start)
                return String(format: "%.1fs", max(seconds, 0))
            } ?? ""
            let attempt = row.attempt > 1 ? " (attempt \(row.attempt))" : ""
            let why = row.why.isEmpty ? "" : "  \(row.why)"
            let status = row.status.rawValue
            lines.append("  \(Colour.status(Self.symbol(row.status), status)) \(row.name.padding(toLength: 28, withPad: " ", startingAt: 0)) \(Colour.status(status, status))\(attempt) \(elapsed)\(why)")
        }
        for step in failedSteps { lines.append("  output of \(step): orchctl run logs \(runId) \(step)") }
        for line in lines { out += "\u{1B}[2K" + line + "\n" }
        drawnLines = lines.count
        fflush(nil)  // whatever print() buffered comes first
        FileHandle.standardOutput.write(Data(out.utf8))
    }

    private static func symbol(_ status: StepStatus) -> String {
        switch status {
        case .succeeded: "✔"
        case .failed, .timedOut, .interrupted: "✘"
        case .running: "▶"
        case .skipped, .cancelled: "–"
        case .pending: "·"
        case .waiting: "⏸"
        case .waitingApproval: "✋"
        case .rollingBack: "↺"
        case .rolledBack: "↩"
        case .rollbackFailed: "✘"
        }
    }

    /// One plain line per event, for logs and pipes.
    static func line(for event: RunEvent) -> String {
        let subject = event.step ?? event.target.map { "target \($0)" } ?? event.batch.map { "batch \($0)" } ?? "(run)"
        var text = "\(Render.text(event.at))  \(subject)  \(event.status)"
        if let attempt = event.attempt { text += " attempt=\(attempt)" }
        if let code = event.exitCode { text += " exit=\(code)" }
        if let message = event.message { text += " \(message)" }
        return text
    }
}
