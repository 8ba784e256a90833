import Foundation
import NIOConcurrencyHelpers

public struct EngineSettings: Sendable {
    /// Identifies this daemon in run leases. Stable across restarts (host and
    /// socket path), so a restarted daemon takes its own runs back at once;
    /// distinct for two daemons sharing a database.
    public var ownerId: String
    public var maxParallelSteps: Int
    public var lease: Duration
    /// Between SIGTERM and SIGKILL when a step times out or is cancelled.
    public var killGrace: Duration
    /// How often the database is asked for runs to take over.
    public var claimInterval: Duration
    public var workingDirectory: String
    /// orchestrator-step-gate, which holds each step until it is recorded.
    public var stepGate: String
    /// Ended runs older than this are removed (nil: kept for ever).
    public var runRetention: Duration?
    /// The users a step's `runAs` may name (`run-as-users`); none by default.
    public var runAsUsers: Set<String> = []
    /// Runs this daemon executes at once. Runs beyond it stay queued in
    /// MongoDB, unleased, where another daemon may take them: holding a lease
    /// on a run that only waits for a step slot would cost renewals and
    /// starve the other daemons.
    public var maximumActiveRuns: Int { max(2 * maxParallelSteps, 4) }
    /// How many runs that only wait (a window, an approval) may be held
    /// here besides the active ones.
    public var maximumWaitingRuns: Int { 8 * maximumActiveRuns }
    /// How long after a lease expired another daemon waits before taking
    /// the run over: its owner stops the run's steps once it has heard no
    /// renewal for a whole lease, and they are gone within the kill grace.
    public var takeoverGrace: TimeInterval { killGrace.seconds + 2 }

    public init(
        ownerId: String, maxParallelSteps: Int = 8, lease: Duration = .seconds(30), killGrace: Duration = .seconds(5),
        claimInterval: Duration = .seconds(2), workingDirectory: String = FileManager.default.currentDirectoryPath,
        stepGate: String, runRetention: Duration? = nil
    ) {
        self.runRetention = runRetention
        self.ownerId = ownerId
        self.maxParallelSteps = maxParallelSteps
        self.lease = lease
        self.killGrace = killGrace
        self.claimInterval = claimInterval
        self.workingDirectory = workingDirectory
        self.stepGate = stepGate
    }

    public static let stepGateName = "orchestrator-step-gate"

    /// Where orchestrator-step-gate is for the daemon `executable`: installed
    /// in `<prefix>/libexec/orchestrator/`, or next to it in a build tree.
    /// Nil when neither exists.
    public static func stepGate(besides executable: String) -> String? {
        let directory = URL(fileURLWithPath: executable).resolvingSymlinksInPath().deletingLastPathComponent()
        let candidates = [
            directory.deletingLastPathComponent().appendingPathComponent("libexec/orchestrator/\(stepGateName)").path,
            directory.appendingPathComponent(stepGateName).path,
        ]
        return candidates.first { access($0, X_OK) == 0 }
    }

    /// The environment every step starts from, before its own `env` and the
    /// ORCH_* variables. Documented in docs/protocol.md.
    static let baseEnvironment: [String: String] = [
        "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "LANG": "C.UTF-8",
        "HOME": ProcessInfo.processInfo.environment["HOME"] ?? "/",
    ]
}

/// The step slots (maxParallelSteps across all runs). An executor that
/// finds none free does not wait here, where it would hear nothing else: it
/// is woken (a `.tick` in its mailbox) when a slot is released, and asks again.
/// A lock, not an actor: a step's end gives its slot back from the thread
/// that saw the process end, with no task to schedule for it.
final class StepSlots: Sendable {
    private struct State {
        var available: Int
        var waiting: [Mailbox] = []
    }
    private let state: NIOLockedValueBox<State>

    init(_ count: Int) {
        state = NIOLockedValueBox(State(available: count))
    }

    /// Takes a slot if one is free; else wakes `mailbox` once one is released.
    func tryAcquire(orWake mailbox: Mailbox) -> Bool {
        state.withLockedValue { state in
            guard state.available > 0 else {
                if !state.waiting.contains(where: { $0 === mailbox }) { state.waiting.append(mailbox) }
                return false
            }
            state.available -= 1
            return true
        }
    }

    /// Takes a slot if one is free, with nobody to wake otherwise.
    func tryAcquire() -> Bool {
        state.withLockedValue { state in
            guard state.available > 0 else { return false }
            state.available -= 1
            return true
        }
    }

    /// Wakes every waiting executor: one that no longer wants a slot, or
    /// that another beats to it, must not keep the rest asleep.
    func release() {
        let waiting = state.withLockedValue { state -> [Mailbox] in
            state.available += 1
            defer { state.waiting.removeAll() }
            return state.waiting
        }
        for mailbox in waiting { mailbox.post(.tick) }
    }
}
