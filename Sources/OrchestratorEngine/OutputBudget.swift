import OrchestratorModel

/// How much of a step's output its run's record keeps: each stream's tail
/// (OutputCapture) and, for the whole run, no more than
/// `Limits.runOutputBytes` (steps that print a lot would otherwise push
/// the run's document past MongoDB's limit, and its end could never be
/// recorded). Once the budget is spent, later steps keep a note instead.
public enum OutputBudget {
    /// `record` (of the step at `index`) with its output cut to what the
    /// run's budget has left, given the other steps' records.
    /// A rollback's output counts as the step's: its own output is fitted
    /// first, its rollback's into what is left after that.
    public static func fit(_ record: RunStep, at index: Int, among steps: [RunStep]) -> RunStep {
        // Nothing to cut (and no need to add up the run's other steps, at every step).
        guard size(of: record) > 0 else { return record }
        let others = steps.indices.reduce(0) { sum, i in i == index ? sum : sum + size(of: steps[i]) }
        let left = max(0, Limits.runOutputBytes - others)
        guard size(of: record) > left else { return record }
        var fitted = record
        (fitted.stdout, fitted.stderr) = fit(stdout: record.stdout, stderr: record.stderr, into: left)
        if var rollback = record.rollback {
            let rest = max(0, left - fitted.stdout.utf8.count - fitted.stderr.utf8.count)
            (rollback.stdout, rollback.stderr) = fit(stdout: rollback.stdout, stderr: rollback.stderr, into: rest)
            fitted.rollback = rollback
        }
        return fitted
    }

    private static func size(of record: RunStep) -> Int {
        record.stdout.utf8.count + record.stderr.utf8.count + (record.rollback.map { $0.stdout.utf8.count + $0.stderr.utf8.count } ?? 0)
    }

    /// Each stream gets half of what is left, and stdout what stderr does not need.
    private static func fit(stdout: String, stderr: String, into left: Int) -> (String, String) {
        guard stdout.utf8.count + stderr.utf8.count > left else { return (stdout, stderr) }
        let stderrShare = min(stderr.utf8.count, left / 2)
        return (tail(of: stdout, bytes: left - stderrShare), tail(of: stderr, bytes: stderrShare))
    }

    /// The last `bytes` bytes of `text` (whole characters), after a note
    /// saying the rest is in the journal when anything was cut.
    static func tail(of text: String, bytes: Int) -> String {
        guard text.utf8.count > bytes else { return text }
        var kept = text.utf8.suffix(max(0, bytes))
        while let first = kept.first, first & 0xC0 == 0x80 { kept = kept.dropFirst() }
        return notice + String(decoding: kept, as: UTF8.self)
    }

    public static let notice =
        "[orchestrator: earlier output not kept in the run (a run keeps at most \(Limits.runOutputBytes / 1024 / 1024) MiB of its steps' output); the journal has all of it]\n"
}
