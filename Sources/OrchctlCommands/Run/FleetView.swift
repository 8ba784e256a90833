import Foundation
import OrchestratorModel

/// How orchctl shows a fleet run: counts per status, the batches, and a
/// matrix of targets by steps.
enum FleetView {
    static func counts(_ fleet: Fleet) -> String {
        let byStatus = Dictionary(grouping: fleet.targets, by: \.status)
        return TargetStatus.allCases.compactMap { status in byStatus[status].map { "\($0.count) \(status.rawValue)" } }.joined(separator: ", ")
    }

    /// The batch in progress: the first with a target not finished.
    static func currentBatch(_ fleet: Fleet) -> Int? {
        fleet.targets.first { $0.status == .running || $0.status == .pending }?.batch
    }

    static func progressBar(_ fleet: Fleet, width: Int = 30) -> String {
        let done = fleet.targets.filter { ![.pending, .running].contains($0.status) }.count
        let total = max(fleet.targets.count, 1)
        let filled = done * width / total
        return "[" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled) + "] \(done)/\(fleet.targets.count)"
    }

    static func symbol(_ status: StepStatus?) -> String {
        switch status {
        case .succeeded?: "✔"
        case .failed?, .timedOut?, .interrupted?: "✘"
        case .running?: "▶"
        case .skipped?, .cancelled?: "–"
        case .pending?, nil: "·"
        case .waiting?: "⏸"
        case .waitingApproval?: "✋"
        case .rollingBack?: "↺"
        case .rolledBack?: "↩"
        case .rollbackFailed?: "✘"
        }
    }

    /// One row per target (at most `limit`: those running, failed, then the
    /// rest in batch order), one column per step.
    static func matrix(_ fleet: Fleet, definition: [Step], limit: Int = .max) -> String {
        let steps = definition.sorted { ($0.executionOrder, $0.name) < ($1.executionOrder, $1.name) }.map(\.name)
        var shown = fleet.targets
        if shown.count > limit {
            let priority: [TargetStatus: Int] = [.running: 0, .failed: 1, .cancelled: 2, .pending: 3, .succeeded: 4, .skipped: 5]
            shown = Array(shown.sorted { (priority[$0.status] ?? 9, $0.batch, $0.name) < (priority[$1.status] ?? 9, $1.batch, $1.name) }.prefix(limit))
                .sorted { ($0.batch, $0.name) < ($1.batch, $1.name) }
        }
        var table = Table("TARGET", "BATCH", "STATUS", "STEPS (" + steps.joined(separator: " ") + ")")
        for target in shown {
            table.add(target.name, String(target.batch), target.status.rawValue, steps.map { symbol(target.steps[$0]) }.joined(separator: " "))
        }
        var out = table.render()
        if shown.count < fleet.targets.count { out += "(\(fleet.targets.count - shown.count) more targets not shown)\n" }
        return out
    }

    static func summary(_ fleet: Fleet, definition: [Step], runId: String) -> String {
        var out = fields([
            ("Targets", "\(fleet.targets.count) (\(fleet.selector)): \(counts(fleet))"),
            ("Batches", "\(fleet.batchCount) (batch size \(fleet.batchSize))\(currentBatch(fleet).map { ", batch \($0) in progress" } ?? "")"),
            ("Failure budget", "\(fleet.maxFailPercentage)% of the targets finished so far"),
        ])
        out += "\n" + matrix(fleet, definition: definition)
        if fleet.targets.contains(where: { $0.status == .failed }) {
            out += "\nWhy a target failed: orchctl run target \(runId) TARGET; its output: orchctl run logs \(runId) --target TARGET\n"
        }
        return out
    }
}

/// What `--watch` redraws on a terminal.
protocol LiveDisplay: AnyObject {
    func apply(_ event: RunEvent)
    func apply(final run: Run)
    func redraw()
}

extension ProgressDisplay: LiveDisplay {}

/// The live view of a fleet run: a progress bar, counts per status, the
/// batch in progress and the targets × steps matrix (at most `rows`
/// targets: running and failed first), redrawn in place. Events say when
/// something ended; the matrix is read again (`run.get`, on a connection
/// of its own) at most once a second.
final class FleetProgressDisplay: LiveDisplay {
    private var run: Run
    private let refresh: () -> Run?
    private var lastRefresh = Date.distantPast
    private var drawnLines = 0
    private var lastEvent = ""
    private let rows: Int

    init(run: Run, rows: Int = 20, refresh: @escaping () -> Run?) {
        self.run = run
        self.rows = rows
        self.refresh = refresh
    }

    func apply(_ event: RunEvent) {
        lastEvent = ProgressDisplay.line(for: event)
        if event.step == nil, event.target == nil, let status = RunStatus(rawValue: event.status) { run.status = status }
    }

    func apply(final run: Run) {
        self.run = run
        lastRefresh = Date()
    }

    func redraw() {
        if Date().timeIntervalSince(lastRefresh) >= 1, let fresh = refresh() {
            run = fresh
            lastRefresh = Date()
        }
        guard let fleet = run.fleet else { return }
        var lines = [
            "fleet run \(run.id) (\(run.workflowName)): \(run.status.rawValue)",
            "  \(FleetView.progressBar(fleet))  \(FleetView.counts(fleet))",
            "  batch \(FleetView.currentBatch(fleet).map(String.init) ?? "-") of \(fleet.batchCount)  last: \(lastEvent)",
        ]
        lines += FleetView.matrix(fleet, definition: run.definition, limit: rows).split(separator: "\n").map { "  " + $0 }
        var out = drawnLines > 0 ? "\u{1B}[\(drawnLines)A" : ""
        for line in lines { out += "\u{1B}[2K" + line + "\n" }
        // A shorter view than the last leaves no stale lines below it.
        for _ in lines.count..<max(drawnLines, lines.count) { out += "\u{1B}[2K\n" }
        drawnLines = max(drawnLines, lines.count)
        fflush(nil)
        FileHandle.standardOutput.write(Data(out.utf8))
    }
}
