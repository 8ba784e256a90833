import Foundation

/// Who asked for a run, from the socket's peer credentials.
public struct Requester: Sendable, Equatable {
    public var uid: UInt32
    public var gid: UInt32
    public var pid: Int32

    public init(uid: UInt32, gid: UInt32, pid: Int32) {
        self.uid = uid
        self.gid = gid
        self.pid = pid
    }
}

/// One step's record within a run.
public struct RunStep: Sendable, Equatable {
    public var name: String
    public var executionOrder: Int
    public var status: StepStatus
    public var attempts: Int
    public var exitCode: Int?
    public var startedAt: Date?
    public var finishedAt: Date?
    public var error: String?
    /// The last 64 KiB of each stream of the latest attempt.
    public var stdout: String
    public var stderr: String
    /// Where the latest attempt runs or ran, so a restarted daemon on the same
    /// host can make sure it is gone before running the step again.
    public var process: StepProcess?
    /// A pending step waiting for its next attempt: not before then (kept
    /// in the record, so a restart or a take-over waits too).
    public var retryAt: Date?
    /// A `waiting` step: the lock it waits for and the run holding it.
    public var waitingFor: LockWait?
    /// An approval step: the decisions on its latest attempt (recorded here
    /// when it ends; while it waits, `run.get` adds those made so far).
    public var decisions: [ApprovalDecision]
    /// Its rollback, once the run's failure set it going (the step's own
    /// fields keep what the step itself did).
    public var rollback: RollbackRecord?

    public init(
        name: String, executionOrder: Int, status: StepStatus = .pending, attempts: Int = 0, exitCode: Int? = nil,
        startedAt: Date? = nil, finishedAt: Date? = nil, error: String? = nil, stdout: String = "", stderr: String = "",
        process: StepProcess? = nil, retryAt: Date? = nil, waitingFor: LockWait? = nil, decisions: [ApprovalDecision] = [],
        rollback: RollbackRecord? = nil
    ) {
        self.rollback = rollback
        self.decisions = decisions
        self.waitingFor = waitingFor
        self.retryAt = retryAt
        self.name = name
        self.executionOrder = executionOrder
        self.status = status
        self.attempts = attempts
        self.exitCode = exitCode
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.error = error
        self.stdout = stdout
        self.stderr = stderr
        self.process = process
    }
}

/// A step's rollback: when it ran, how it ended, the tail of what it printed.
public struct RollbackRecord: Sendable, Equatable {
    public var startedAt: Date?
    public var finishedAt: Date?
    public var exitCode: Int?
    public var error: String?
    public var stdout: String
    public var stderr: String

    public init(startedAt: Date? = nil, finishedAt: Date? = nil, exitCode: Int? = nil, error: String? = nil, stdout: String = "", stderr: String = "") {
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.exitCode = exitCode
        self.error = error
        self.stdout = stdout
        self.stderr = stderr
    }
}

/// How a failed run's rollback stands: `running` while one runs,
/// `failed` once one failed (the rest are not rolled back), else `succeeded`.
public enum RollbackStatus: String, Sendable, CaseIterable {
    case running, succeeded, failed
}

extension Run {
    /// Nil when no rollback started (the run did not fail, or nothing it did has a rollback).
    public var rollbackStatus: RollbackStatus? {
        let touched = steps.filter { $0.rollback != nil }
        guard !touched.isEmpty else { return nil }
        if touched.contains(where: { $0.status == .rollingBack }) { return .running }
        if touched.contains(where: { $0.status == .rollbackFailed }) { return .failed }
        return .succeeded
    }
}

/// Identifies a step's process group beyond its pid, which the kernel reuses.
public struct StepProcess: Sendable, Equatable {
    public var host: String
    public var pid: Int32
    /// The process's start time in clock ticks since boot (/proc/PID/stat field 22).
    public var startTicks: UInt64

    public init(host: String, pid: Int32, startTicks: UInt64) {
        self.host = host
        self.pid = pid
        self.startTicks = startTicks
    }
}

/// A step transition as `run.watch` streams it.
public struct RunEvent: Sendable, Equatable {
    public var sequence: Int
    public var step: String?
    /// In a fleet run's own events: the target the event is about, or the batch that started.
    public var target: String?
    public var batch: Int?
    public var status: String
    public var at: Date
    public var attempt: Int?
    public var exitCode: Int?
    public var message: String?

    public init(
        sequence: Int, step: String?, status: String, at: Date, attempt: Int? = nil, exitCode: Int? = nil, message: String? = nil,
        target: String? = nil, batch: Int? = nil
    ) {
        self.sequence = sequence
        self.step = step
        self.target = target
        self.batch = batch
        self.status = status
        self.at = at
        self.attempt = attempt
        self.exitCode = exitCode
        self.message = message
    }
}

public struct Run: Sendable, Equatable {
    public var id: String
    public var workflowId: String
    public var workflowName: String
    public var workflowVersion: Int
    /// The workflow's steps when the run was started; later edits never change it.
    public var definition: [Step]
    public var params: [String: String]
    public var status: RunStatus
    public var steps: [RunStep]
    public var requestedBy: Requester
    public var createdAt: Date
    public var startedAt: Date?
    public var finishedAt: Date?
    public var cancelRequested: Bool
    public var events: [RunEvent]
    /// The `run.start` request that made it (the client's, or the run's own
    /// id): a repeat of that request within a day returns this run.
    public var requestId: String?
    /// A fleet run: its targets and batches. It runs no step itself; each
    /// target's steps run in a run of their own, its member.
    public var fleet: Fleet?
    /// A member of a fleet run: the run of one target's steps.
    public var membership: FleetMembership?
    /// The workflow's locks at the start (templates, as written).
    public var locks: [String]
    /// The maintenance window it is bound to, as it was at the start: no
    /// step starts outside it (the first waits for it to open).
    public var window: MaintenanceWindow?
    /// The schedule that started it, if one did.
    public var schedule: String?
    /// Not stored: set by `run.get` while the run waits for its window.
    public var windowWait: WindowWait?
    /// The secrets its steps use (names only: values are read as steps start).
    public var secrets: [String]
    /// Its parameters whose values are `***` in `params`: the values live
    /// only in the memory of the daemon it was started or resumed on.
    public var secretParams: [String]
    /// The daemon (owner id) whose memory holds the secret parameters' values.
    public var keeper: String?

    public init(
        id: String, workflowId: String, workflowName: String, workflowVersion: Int, definition: [Step],
        params: [String: String], status: RunStatus, steps: [RunStep], requestedBy: Requester, createdAt: Date,
        startedAt: Date? = nil, finishedAt: Date? = nil, cancelRequested: Bool = false, events: [RunEvent] = [],
        requestId: String? = nil, fleet: Fleet? = nil, membership: FleetMembership? = nil, locks: [String] = [],
        window: MaintenanceWindow? = nil, schedule: String? = nil, secrets: [String] = [], secretParams: [String] = [], keeper: String? = nil
    ) {
        self.secrets = secrets
        self.secretParams = secretParams
        self.keeper = keeper
        self.window = window
        self.schedule = schedule
        self.locks = locks
        self.requestId = requestId
        self.fleet = fleet
        self.membership = membership
        self.id = id
        self.workflowId = workflowId
        self.workflowName = workflowName
        self.workflowVersion = workflowVersion
        self.definition = definition
        self.params = params
        self.status = status
        self.steps = steps
        self.requestedBy = requestedBy
        self.createdAt = createdAt
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.cancelRequested = cancelRequested
        self.events = events
    }

    public func step(_ name: String) -> RunStep? { steps.first { $0.name == name } }
    public func definition(_ name: String) -> Step? { definition.first { $0.name == name } }
}

extension RunStatus {
    public var isTerminal: Bool { self == .succeeded || self == .failed || self == .cancelled }
    public var isActive: Bool { !isTerminal }
}

extension StepStatus {
    /// A status the step will not leave in this run (unless resumed).
    public var isFinal: Bool {
        switch self {
        case .succeeded, .failed, .timedOut, .skipped, .cancelled, .interrupted, .rolledBack, .rollbackFailed: true
        case .pending, .waiting, .running, .waitingApproval, .rollingBack: false
        }
    }

    /// A process of the step runs: its action, or its rollback.
    public var isExecuting: Bool { self == .running || self == .rollingBack }

    public var isFailure: Bool { self == .failed || self == .timedOut || self == .interrupted }

    /// Not started yet: pending, or waiting for a lock.
    public var isNotStarted: Bool { self == .pending || self == .waiting }

    /// What a cancel cancels and a failure skips: steps not started, and
    /// approvals still waiting (nobody needs to decide on a run that is over).
    public var isUnneeded: Bool { isNotStarted || self == .waitingApproval }
}

/// Who, within a run, holds a lock: the whole run (from before its first
/// step until it ends), or one attempt of one step under one owner (while
/// that attempt runs). A run never waits for a lock it holds already: its
/// steps share what it holds. Every token is one executor's own: an
/// attempt's names the attempt and its owner, the whole run's names the
/// executor's incarnation (where the run's log stood when it was claimed,
/// which grows with every claim), so a daemon that lost the run, or whose
/// run ended and was resumed elsewhere, and gives a lock back late never
/// gives back what the run's new executor, or a later attempt, took.
public enum LockHolder: Hashable, Sendable {
    case run(incarnation: Int)
    case attempt(step: String, number: Int, owner: String)

    /// The whole run's token as daemons before incarnations wrote it: older than every incarnation.
    static let legacyRunToken = "@run"

    /// How the holder is stored in a lock's `holders`.
    public var token: String {
        switch self {
        case let .run(incarnation): "\(Self.legacyRunToken)#\(incarnation)"
        case let .attempt(step, number, owner): "\(step)#\(number)@\(owner)"
        }
    }

    /// Whether a stored token is a whole run's hold (no step name starts with `@`).
    public static func isRunHold(_ token: String) -> Bool { token.hasPrefix(legacyRunToken) }

    /// The incarnation of a whole run's token; nil for an attempt's.
    static func incarnation(of token: String) -> Int? {
        guard isRunHold(token) else { return nil }
        return Int(token.dropFirst(legacyRunToken.count + 1)) ?? Int.min
    }

    /// The step a stored token names; nil for the whole run.
    public static func step(of token: String) -> String? {
        guard !isRunHold(token), let hash = token.firstIndex(of: "#") else { return nil }
        return String(token[..<hash])
    }

    /// The attempt number a stored token names; nil for the whole run.
    public static func attempt(of token: String) -> Int? {
        guard !isRunHold(token), let hash = token.firstIndex(of: "#") else { return nil }
        return Int(token[token.index(after: hash)...].prefix { $0.isNumber })
    }

    /// The `waitingFor` of a step that finds `lock` held by `runId` through `tokens`.
    public static func wait(for lock: String, runId: String, tokens: [String]) -> LockWait {
        LockWait(lock: lock, runId: runId, step: tokens.contains(where: isRunHold) ? nil : tokens.first.flatMap(step(of:)))
    }
}

/// What of a run's locks to give back. Each case names holds by what the
/// sender knows was its own or older (an attempt up to the step's stored
/// attempt count, an incarnation up to the sender's), never by "all", so
/// one that arrives late frees nothing a later executor of the run took.
public enum LockRelease: Hashable, Sendable {
    /// What one holder holds.
    case holder(LockHolder)
    /// What an earlier executor left behind: the holds of attempts up to
    /// the run's stored attempt count of each step, except `keeping`
    /// (tokens), and the whole-run holds of incarnations before
    /// `incarnation`. The sender's own whole-run hold stays.
    case leftovers(upTo: [String: Int], keeping: Set<String>, incarnation: Int)
    /// The run ended under executor `incarnation`: every hold of attempts
    /// up to the stored attempt counts, those in `also` (attempts that
    /// never started), and the whole-run holds of that incarnation and
    /// earlier ones.
    case ended(upTo: [String: Int], incarnation: Int, also: Set<String>)

    /// Whether this release gives back the hold stored as `token`.
    public func drops(_ token: String) -> Bool {
        switch self {
        case let .holder(holder):
            return token == holder.token
        case let .leftovers(upTo, keeping, incarnation):
            guard !keeping.contains(token) else { return false }
            if let held = LockHolder.incarnation(of: token) { return held < incarnation }
            return Self.isStored(token, upTo: upTo)
        case let .ended(upTo, incarnation, also):
            if also.contains(token) { return true }
            if let held = LockHolder.incarnation(of: token) { return held <= incarnation }
            return Self.isStored(token, upTo: upTo)
        }
    }

    /// Whether the token is an attempt's up to its step's stored attempt count.
    private static func isStored(_ token: String, upTo attempts: [String: Int]) -> Bool {
        guard let step = LockHolder.step(of: token), let number = LockHolder.attempt(of: token) else { return false }
        return number <= attempts[step, default: 0]
    }

    /// Whether the run is over for this release: its promises (`next`) go too.
    public var endsTheRun: Bool {
        if case .ended = self { return true }
        return false
    }
}

/// What a `waiting` step waits for: a lock, and the run that holds it.
public struct LockWait: Sendable, Equatable {
    public var lock: String
    public var runId: String
    /// The holder's step, nil when the whole run holds it (not shown on the
    /// wire: what the engine's search for a circle of waits needs).
    public var step: String?

    public init(lock: String, runId: String, step: String? = nil) {
        self.lock = lock
        self.runId = runId
        self.step = step
    }
}
