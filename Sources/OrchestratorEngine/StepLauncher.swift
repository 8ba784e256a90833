import Foundation
import OrchestratorModel

/// What to run for one attempt of a step.
public struct ProcessSpec: Sendable {
    public var program: String
    public var arguments: [String]
    public var environment: [String: String]
    public var workingDirectory: String?
    /// orchestrator-step-gate, started in the step's place until it is let go.
    public var gate: String
    public var timeout: Duration?
    /// Between SIGTERM and SIGKILL, on timeout and on cancel.
    public var killGrace: Duration
    /// The user (and group) the gate becomes before it runs the program.
    public var runAs: RunAs? = nil
    /// Values never to be shown: replaced by `***` in the output kept and logged.
    public var masks: [String] = []
}

/// How an attempt ended.
public struct ProcessOutcome: Sendable {
    public enum Ending: Sendable, Equatable {
        case exited(Int32)
        case signalled(Int32)
        /// The program could not be started (no such file, not executable, bad cwd).
        case notStarted(String)
    }

    public var ending: Ending
    public var timedOut: Bool
    public var terminated: Bool
    public var stdout: String
    public var stderr: String
    public var droppedLogLines: Int

    public init(ending: Ending, timedOut: Bool = false, terminated: Bool = false, stdout: String = "", stderr: String = "", droppedLogLines: Int = 0) {
        self.ending = ending
        self.timedOut = timedOut
        self.terminated = terminated
        self.stdout = stdout
        self.stderr = stderr
        self.droppedLogLines = droppedLogLines
    }
}

/// Starts steps' processes: the real ones (`ProcessLauncher`), or a
/// simulation's. A process is started held at its gate, so that its identity
/// can be recorded before it runs anything.
public protocol StepLauncher: Sendable {
    /// Starts the process held at its gate: exactly one of `begin()` or
    /// `abandon()` must follow.
    func prepare(_ spec: ProcessSpec, onLine: @escaping @Sendable (_ stream: String, _ line: String) -> Void) -> PreparedStep
    /// Kills what is left of a step's process from an earlier life of the
    /// daemon, if it is still there; true when something was killed.
    func killLeftover(_ process: StepProcess) async -> Bool
}

public enum PreparedStep: Sendable {
    case held(any StepHandle)
    /// Not even started (no such directory, no pipes, no processes left): an outcome like any failed attempt.
    case failed(ProcessOutcome)
}

/// One attempt's process, from its gate to its end.
public protocol StepHandle: Sendable {
    /// What identifies it across a restart of the daemon (recorded with the step).
    var identity: StepProcess { get }
    /// Lets it run its program; its timeout starts now.
    func begin()
    /// It exits at its gate without running anything.
    func abandon()
    /// SIGTERM to its process group now, SIGKILL after the grace period.
    func terminate()
    /// Calls `body` once with how it ended (after `begin()` or `abandon()`),
    /// on whichever thread sees the end (at once if it has ended already).
    /// At most one per process. `body` must not block: it hands the outcome on.
    func whenEnded(_ body: @escaping @Sendable (ProcessOutcome) -> Void)
}

extension StepHandle {
    /// How it ended (after `begin()` or `abandon()`).
    func wait() async -> ProcessOutcome {
        await withCheckedContinuation { ended in whenEnded { ended.resume(returning: $0) } }
    }
}

/// Real processes: posix_spawn, the step gate, a supervising thread each.
public struct ProcessLauncher: StepLauncher {
    public init() {}

    public func prepare(_ spec: ProcessSpec, onLine: @escaping @Sendable (String, String) -> Void) -> PreparedStep {
        RunningProcess.prepare(spec, onLine: onLine)
    }

    public func killLeftover(_ process: StepProcess) async -> Bool {
        await ProcessIdentity.killLeftover(process)
    }
}
