import Foundation

/// How many targets a fleet run's batch holds: a count, or a percentage of
/// the targets (rounded up, at least one).
public enum BatchSize: Sendable, Equatable, CustomStringConvertible {
    case count(Int)
    case percent(Int)

    /// `"10"`, `"25%"`.
    public init?(_ text: String) {
        if text.hasSuffix("%") {
            guard let value = Int(text.dropLast()) else { return nil }
            self = .percent(value)
        } else {
            guard let value = Int(text) else { return nil }
            self = .count(value)
        }
    }

    public var description: String {
        switch self {
        case .count(let n): String(n)
        case .percent(let p): "\(p)%"
        }
    }

    /// Targets per batch among `total`.
    public func size(of total: Int) -> Int {
        switch self {
        case .count(let n): max(1, min(n, total))
        case .percent(let p): max(1, (total * p + 99) / 100)
        }
    }

    public func problems(at field: String) -> [FieldError] {
        switch self {
        case .count(let n): n >= 1 ? [] : [FieldError(field: field, message: "must be 1 or more targets, or a percentage such as \"25%\"")]
        case .percent(let p): (1...100).contains(p) ? [] : [FieldError(field: field, message: "a percentage must be between 1% and 100%")]
        }
    }
}

/// A target as a fleet run took it at its start: later edits of the target
/// never change a run in flight, as edits of a workflow do not.
public struct FleetTarget: Sendable, Equatable {
    public var name: String
    public var labels: [String: String]
    public var vars: [String: String]
    /// 1 for the first batch.
    public var batch: Int
    /// The id of the run that works on this target (made when its batch starts).
    public var runId: String
    /// Not stored: what its run shows when the fleet run is read (`run.get`).
    public var status: TargetStatus = .pending
    /// Not stored: its steps' statuses, by step name, when the fleet run is read.
    public var steps: [String: StepStatus] = [:]

    public init(name: String, labels: [String: String] = [:], vars: [String: String] = [:], batch: Int, runId: String) {
        self.name = name
        self.labels = labels
        self.vars = vars
        self.batch = batch
        self.runId = runId
    }
}

/// What a fleet run works on and how: its targets in batches, and how many
/// may fail before no further batch starts.
public struct Fleet: Sendable, Equatable {
    public var selector: TargetSelector
    public var batchSize: BatchSize
    /// When more than this share of the targets finished so far failed, no new batch starts.
    public var maxFailPercentage: Int
    /// In batch order, by name within a batch (left out of listings).
    public var targets: [FleetTarget]
    /// How many targets and batches: kept apart from `targets`, so listings show them too.
    public var targetCount: Int
    public var batchCount: Int

    public init(selector: TargetSelector, batchSize: BatchSize, maxFailPercentage: Int, targets: [FleetTarget], targetCount: Int? = nil, batchCount: Int? = nil) {
        self.selector = selector
        self.batchSize = batchSize
        self.maxFailPercentage = maxFailPercentage
        self.targets = targets
        self.targetCount = targetCount ?? targets.count
        self.batchCount = batchCount ?? targets.map(\.batch).max() ?? 0
    }

    /// Targets by name, each in batch `index / size + 1`.
    public static func plan(_ targets: [Target], batchSize: BatchSize, runIds: () -> String) -> [FleetTarget] {
        let sorted = targets.sorted { $0.name < $1.name }
        let size = batchSize.size(of: sorted.count)
        return sorted.enumerated().map { index, target in
            FleetTarget(name: target.name, labels: target.labels, vars: target.vars, batch: index / size + 1, runId: runIds())
        }
    }
}

/// A fleet member's place: the fleet run it belongs to and its target.
public struct FleetMembership: Sendable, Equatable {
    public var fleetRunId: String
    public var target: FleetTarget
    /// How many times the fleet run had been resumed when this member was
    /// made: with the member's own resumptions, what says whether a resume
    /// of the fleet has reached it yet (see FleetExecutor).
    public var fleetResumesAtStart: Int

    public init(fleetRunId: String, target: FleetTarget, fleetResumesAtStart: Int = 0) {
        self.fleetRunId = fleetRunId
        self.target = target
        self.fleetResumesAtStart = fleetResumesAtStart
    }
}

/// A target's status in its fleet run, as `run.get` shows it.
public enum TargetStatus: String, Sendable, CaseIterable {
    /// Its batch has not started (or its run is queued).
    case pending, running, succeeded, failed, cancelled
    /// Never started: the failure budget stopped the fleet first.
    case skipped

    /// From its run's status, or from the fleet's when it has no run.
    public init(member: RunStatus?, fleet: RunStatus) {
        switch member {
        case .queued?: self = fleet.isTerminal ? (fleet == .cancelled ? .cancelled : .skipped) : .pending
        case .running?: self = .running
        case .succeeded?: self = .succeeded
        case .failed?: self = .failed
        case .cancelled?: self = .cancelled
        case nil: self = fleet.isTerminal ? (fleet == .cancelled ? .cancelled : .skipped) : .pending
        }
    }
}

/// The rules of a fleet run as a pure function of its members' statuses:
/// which batch runs, which members are made or cancelled, and when the fleet
/// is over. The fleet's executor asks after every change; tests ask
/// without a database.
public enum FleetPlanner {
    public struct Decision: Sendable, Equatable {
        /// Targets whose run is to be made now (their batch started).
        public var create: [FleetTarget] = []
        /// Members still active that are to be cancelled.
        public var cancel: [String] = []
        /// The batch in progress (1-based), if one is.
        public var batch: Int?
        /// Set when the failure budget stopped the fleet: why.
        public var budgetExceeded: String?
        /// Set when no member is active and none will start.
        public var outcome: RunStatus?

        public init() {}
    }

    /// Batches go in order; a batch starts when the previous one has
    /// finished and the failed share of the targets finished so far is
    /// within `maxFailPercentage`. A cancelled member counts as failed. The
    /// fleet succeeds only when every target succeeded.
    public static func decide(_ fleet: Fleet, members: [String: RunStatus], cancelRequested: Bool) -> Decision {
        var decision = Decision()
        let active = fleet.targets.filter { members[$0.runId]?.isActive ?? false }.map(\.runId)
        if cancelRequested {
            decision.cancel = active
            if active.isEmpty { decision.outcome = .cancelled }
            return decision
        }
        let finished = fleet.targets.filter { members[$0.runId]?.isTerminal ?? false }
        let failed = finished.filter { members[$0.runId] != .succeeded }
        for batch in 1...max(1, fleet.batchCount) {
            let targets = fleet.targets.filter { $0.batch == batch }
            let unstarted = targets.filter { members[$0.runId] == nil }
            if unstarted.isEmpty {
                if targets.contains(where: { members[$0.runId]?.isActive ?? false }) {
                    decision.batch = batch
                    return decision
                }
                continue
            }
            let started = targets.count > unstarted.count
            if !started, !finished.isEmpty, failed.count * 100 > fleet.maxFailPercentage * finished.count {
                decision.budgetExceeded = "\(failed.count) of \(finished.count) targets finished so far failed "
                    + "(\(failed.count * 100 / finished.count)%, more than the \(fleet.maxFailPercentage)% allowed): no further batch starts"
                if active.isEmpty { decision.outcome = .failed }
                return decision
            }
            decision.batch = batch
            decision.create = unstarted
            return decision
        }
        if !active.isEmpty { return decision }
        decision.outcome = failed.isEmpty && finished.count == fleet.targets.count ? .succeeded : .failed
        return decision
    }

    /// What the workflow shows for each step after a fleet run: `succeeded`
    /// only when every target's run that had it did, otherwise its worst
    /// status among them (a failure before a cancellation before a step not
    /// reached). Steps no target ran are left out.
    public static func shownStatuses(members: [Run]) -> [String: StepStatus] {
        let severity: [StepStatus] = [.rollbackFailed, .failed, .timedOut, .interrupted, .cancelled, .rollingBack, .running, .waitingApproval, .waiting, .pending, .skipped, .rolledBack, .succeeded]
        var seen: [String: Set<StepStatus>] = [:]
        for member in members {
            for step in member.steps { seen[step.name, default: []].insert(step.status) }
        }
        return seen.compactMapValues { statuses in severity.first(where: statuses.contains) }
    }
}
