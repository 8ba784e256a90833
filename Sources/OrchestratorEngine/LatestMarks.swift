import NIOConcurrencyHelpers

/// The newest run each workflow is known to show, from the marks this
/// daemon's status writers made.
///
/// A workflow's latest run only moves forward: `markLatestRun` is
/// conditional on the ids' order, in every store. So once run R's mark is
/// written, an older run's mark and its statuses (written only while it is
/// the latest) would match nothing: its writer skips them and spares the
/// database the writes. Twenty runs of one workflow started at once made
/// sixty workflow updates, most of them refused by their filter.
final class LatestMarks: Sendable {
    private struct Known {
        var runId: String
        /// Writers of this workflow's runs at work: the entry goes with the last.
        var writers: Int
    }

    private let known = NIOLockedValueBox<[String: Known]>([:])

    /// A writer of one of `workflowId`'s runs begins; `leave` when it is done.
    func join(_ workflowId: String) {
        known.withLockedValue { known in
            known[workflowId, default: Known(runId: "", writers: 0)].writers += 1
        }
    }

    func leave(_ workflowId: String) {
        known.withLockedValue { known in
            guard let entry = known[workflowId] else { return }
            if entry.writers <= 1 { known[workflowId] = nil } else { known[workflowId]?.writers -= 1 }
        }
    }

    /// `runId`'s mark is written: its workflow shows it or a newer run.
    func marked(_ workflowId: String, _ runId: String) {
        known.withLockedValue { known in
            guard let entry = known[workflowId], entry.runId < runId else { return }
            known[workflowId]?.runId = runId
        }
    }

    /// Whether a newer run than `runId` is known to be its workflow's latest.
    func isSuperseded(_ workflowId: String, _ runId: String) -> Bool {
        known.withLockedValue { known in known[workflowId].map { runId < $0.runId } ?? false }
    }
}
