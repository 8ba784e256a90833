/// One line a step printed, as the daemon executing it read it (secrets
/// masked): what `run.follow` streams while the step runs.
public struct OutputLine: Sendable, Equatable {
    /// The run whose step printed it (in a fleet, the target's member).
    public var runId: String
    /// In a fleet run, the member's target.
    public var target: String?
    public var step: String
    public var attempt: Int
    /// `stdout` or `stderr`.
    public var stream: String
    public var text: String

    public init(runId: String, target: String? = nil, step: String, attempt: Int, stream: String, text: String) {
        self.runId = runId
        self.target = target
        self.step = step
        self.attempt = attempt
        self.stream = stream
        self.text = text
    }
}
