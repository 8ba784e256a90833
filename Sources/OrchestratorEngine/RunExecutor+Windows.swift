import Foundation
import OrchestratorModel
import OrchestratorStorage

/// Maintenance windows: a run bound to one (its snapshot, taken at
/// `run.start`) stays queued until the window is open, and starts no step
/// (nor an approval) once it has closed: those steps fail, saying so, and
/// the run fails and rolls back what it did (rollbacks may run outside the
/// window: they repair). The window is judged by this host's clock and
/// looked at again every second while the run waits, so a clock that
/// jumps (NTP) is followed.
extension RunExecutor {
    static let windowPollInterval = Duration.seconds(1)

    /// Starts a queued run, unless its window is closed: then it waits,
    /// saying so once. True once the run is running (or being cancelled).
    func startWhenItsWindowIsOpen() -> Bool {
        guard run.status == .queued else { return true }
        // A cancelled run that never started ends queued → cancelled.
        guard !cancelRequested else { return true }
        let now = clock.now()
        if let window = run.window, !window.isOpen(at: now) {
            let opens = window.nextOpening(after: now)
            let message = "waiting for maintenance window \(window.name) to open" + (opens.map { " at \(Self.text($0))" } ?? " (it never opens again)")
            if run.events.last?.message != message {
                logger.notice("\(message)", metadata: ["window": "\(window.name)"])
                stage(RunChange(events: [event(step: nil, status: StepStatus.waiting.rawValue, message: message)]))
            }
            mailbox.tick(after: Self.windowPollInterval, in: world)
            return false
        }
        logger.info("run started")
        stage(RunChange(status: .running, startedAt: now.milliseconds, events: [event(step: nil, status: RunStatus.running.rawValue)]))
        return true
    }

    /// Whether the run is bound to a window that is closed now.
    func windowClosed() -> Bool {
        guard let window = run.window else { return false }
        return !window.isOpen(at: clock.now())
    }

    /// Fails the steps about to start if the run's window has closed. True when it did.
    func refuseAfterTheWindowClosed(_ names: [String]) -> Bool {
        guard !names.isEmpty, let window = run.window else { return false }
        let now = clock.now()
        guard !window.isOpen(at: now) else { return false }
        let reopens = window.nextOpening(after: now).map { "; it opens again at \(Self.text($0))" } ?? ""
        let error = "not started: maintenance window \(window.name) closed\(reopens)"
        var change = RunChange()
        for name in names {
            guard let index = index(of: name) else { continue }
            var record = run.steps[index]
            record.status = .failed
            record.error = error
            record.finishedAt = now.milliseconds
            change.steps[index] = record
            change.events.append(event(step: name, status: StepStatus.failed.rawValue, message: error, sequenceOffset: change.events.count))
            logger.notice("step \(name) \(error)", metadata: ["step": "\(name)", "stepStatus": "failed", "window": "\(window.name)"])
        }
        stage(change)
        for (_, record) in change.steps { show(record.name, record.status) }
        return !change.isEmpty
    }

    private static func text(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter.string(from: date)
    }
}
