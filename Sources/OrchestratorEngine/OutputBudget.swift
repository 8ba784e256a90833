import OrchestratorModel

/// How much of a step's output its run's record keeps: each stream's tail
/// (OutputCapture) and, for the whole run, no more than
/// `Limits.runOutputBytes` (steps that print a lot would otherwise push
/// the run's document past MongoDB's limit, and its end could never be
/// recorded). Once the budget is spent, later steps keep a note instead.
public enum OutputBudget {
    /// `record` (of the step at `index`) with its output cut to what the
    /// run's budget has left, given the other steps' records.
    public static func fit(_ record: RunStep, at index: Int, among steps: [RunStep]) -> RunStep {
        let others = steps.indices.reduce(0) { sum, i in i == index ? sum : sum + steps[i].stdout.utf8.count + steps[i].stderr.utf8.count }
        let left = max(0, Limits.runOutputBytes - others)
        guard record.stdout.utf8.count + record.stderr.utf8.count > left else { return record }
        var fitted = record
        // Each stream gets half of what is left, and stdout what stderr does not need.
        let stderrShare = min(record.stderr.utf8.count, left / 2)
        fitted.stderr = tail(of: record.stderr, bytes: stderrShare)
        fitted.stdout = tail(of: record.stdout, bytes: left - stderrShare)
        return fitted
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
