import Foundation
import NIOConcurrencyHelpers
import OrchestratorModel
import OrchestratorStorage

/// Writes a run's step statuses into its workflow in the background: the
/// latest status per step wins, everything pending goes in one write.
final class WorkflowStatusWriter: Sendable {
    private let workflows: any WorkflowStore
    private let workflowId: String
    private let runId: String
    private let pending = NIOLockedValueBox<[String: StepStatus]>([:])
    private let doorbell = Doorbell()
    private let clock: any EngineClock
    private let finished = Latch()
    /// Opens once the last write is done.
    private let done = Latch()

    /// False for a fleet's member: the fleet run is the workflow's latest
    /// run, and it shows what its targets did when it ends (a thousand
    /// members writing their own would only be refused).
    private let enabled: Bool

    /// Whether the run is still to be made its workflow's latest (every
    /// step shown `pending`) before anything it shows: a run started with
    /// room here is, by this writer and not on its way to its first step.
    private let unmarked: NIOLockedValueBox<Bool>
    /// Opens with the first status to show (written to the run by then):
    /// the mark waits for it, up to `minimumInterval`, so that it does not
    /// compete with the run's first write for the database.
    private let firstShown = Latch()
    /// Shared by the daemon's writers: what a newer run's writer marked
    /// makes this run's writes moot.
    private let marks: LatestMarks

    init(
        workflows: any WorkflowStore, workflowId: String, runId: String, clock: any EngineClock, enabled: Bool = true, marksLatest: Bool = false,
        marks: LatestMarks = LatestMarks()
    ) {
        self.workflows = workflows
        self.marks = marks
        self.workflowId = workflowId
        self.runId = runId
        self.clock = clock
        self.enabled = enabled
        self.unmarked = NIOLockedValueBox(enabled && marksLatest)
    }

    func show(_ step: String, _ status: StepStatus) {
        guard enabled else { return }
        pending.withLockedValue { $0[step] = status }
        firstShown.open()
        doorbell.ring()
    }

    func finish() {
        firstShown.open()
        finished.open()
        doorbell.close()
    }

    /// At most one write a second per run, and at most a tenth of the
    /// time: the shown statuses are a view (`run.get`/`run.watch` are the
    /// live ones), and each write rewrites the workflow's whole document in
    /// the same database the run's own record is waiting on. Measured on
    /// SecantusDB: a 200-step sequential run took 155 ms per step with a
    /// write after every step, 94 ms with four a second; a 1,000-step run
    /// took 49 ms per step with one a second (the workflow's document is
    /// large), 13 ms with none.
    static let minimumInterval = Duration.seconds(1)
    static let shareOfTime = 10

    /// Until `finish()`, then one last write of whatever is pending, which
    /// waits out a short outage.
    func run() async {
        marks.join(workflowId)
        defer { marks.leave(workflowId) }
        if unmarked.withLockedValue({ $0 }) {
            await clock.sleep(for: Self.minimumInterval, orUntil: firstShown)
            doorbell.ring()
        }
        for await _ in doorbell.rings {
            let started = clock.uptime()
            _ = await flush()
            // The run's end does not wait out the pause: its last write goes at once.
            await clock.sleep(for: max(Self.minimumInterval, (clock.uptime() - started) * Self.shareOfTime), orUntil: finished)
        }
        // A few tries (about 6 s): the statuses are a view, and the run's end waits for them.
        var delay = Duration.milliseconds(200)
        while await !flush(), delay <= .milliseconds(3200) {
            await clock.sleep(for: delay)
            delay *= 2
        }
        done.open()
    }

    /// The run is about to be recorded as ended: its steps' last statuses
    /// (`last`, and whatever is pending) are written first, so that whoever
    /// reads the run as ended finds its workflow's statuses final.
    func finishWriting(_ last: [(String, StepStatus)]) async {
        pending.withLockedValue { statuses in
            for (step, status) in last { statuses[step] = status }
        }
        finish()
        await done.wait()
    }

    /// False when MongoDB was away (what was not written is kept, unless a
    /// newer status replaced it); a write refused for good is dropped.
    private func flush() async -> Bool {
        // The mark goes with the first statuses, in one write.
        let marking = unmarked.withLockedValue { $0 } && !marks.isSuperseded(workflowId, runId)
        let batch = pending.withLockedValue { statuses -> [String: StepStatus] in
            defer { statuses.removeAll() }
            return statuses
        }
        do {
            if marking {
                try await workflows.markLatestRun(workflowId: workflowId, runId: runId, showing: batch)
                marks.marked(workflowId, runId)
            } else if !batch.isEmpty, !marks.isSuperseded(workflowId, runId) {
                // (Superseded: a newer run is its workflow's latest, and the write would be refused by its filter.)
                try await workflows.recordStepStatuses(workflowId: workflowId, runId: runId, batch)
            }
        } catch where error.isTransient {
            pending.withLockedValue { statuses in statuses.merge(batch) { newer, _ in newer } }
            return false
        } catch {}
        unmarked.withLockedValue { $0 = false }
        return true
    }
}
