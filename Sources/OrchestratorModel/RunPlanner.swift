/// The scheduling rules of a run as a pure function: which steps may start,
/// which are skipped or cancelled, and when the run is over. The engine
/// asks after every transition; tests ask without processes or a database.
public enum RunPlanner {
    public struct Decision: Sendable, Equatable {
        /// Pending steps whose turn it is (the engine bounds how many run at once).
        public var start: [String] = []
        /// Steps that will not run because an earlier failure ended the run.
        public var skip: [String] = []
        /// Steps that will not run because the run was cancelled.
        public var cancel: [String] = []
        /// Set when no step is running and none will start.
        public var outcome: RunStatus?
        /// The run failed: the step whose rollback runs now (one at a time).
        public var rollback: [String] = []

        public init(start: [String] = [], skip: [String] = [], cancel: [String] = [], outcome: RunStatus? = nil, rollback: [String] = []) {
            self.rollback = rollback
            self.start = start
            self.skip = skip
            self.cancel = cancel
            self.outcome = outcome
        }
    }

    /// Steps run in ascending executionOrder; equal orders form a group. A
    /// group starts when every step of the previous group succeeded or failed
    /// with continueOnFailure. When a step fails for good, the running steps
    /// of its group finish, everything not started is skipped, the run fails.
    /// A `pending` step may have failed before: it waits for its next attempt.
    /// The run succeeds only when every step succeeded; a failure tolerated
    /// by continueOnFailure lets later groups run but leaves the run failed.
    public static func decide(definition: [Step], states: [String: StepStatus], cancelRequested: Bool) -> Decision {
        Plan(definition).decide(states: states, cancelRequested: cancelRequested)
    }

    /// A run's definition in its groups, sorted once, as indices into the
    /// definition: the engine asks after every transition, and sorting
    /// (and copying) a run's steps each time cost more than everything else
    /// a step does (scripts/profile-steps).
    public struct Plan: Sendable {
        public let definition: [Step]
        /// Indices into `definition`, by ascending executionOrder, each group by name.
        let groups: [[Int]]

        public init(_ definition: [Step]) {
            self.definition = definition
            groups = Dictionary(grouping: definition.indices, by: { definition[$0].executionOrder })
                .sorted { $0.key < $1.key }
                .map { $0.value.sorted { definition[$0].name < definition[$1].name } }
        }

        public func decide(states: [String: StepStatus], cancelRequested: Bool) -> Decision {
            decide(cancelRequested: cancelRequested) { states[definition[$0].name] ?? .pending }
        }

        /// `status(i)`: the status of `definition[i]`.
        public func decide(cancelRequested: Bool, status: (Int) -> StepStatus) -> Decision {
            let all = definition.indices
            let names = { (indices: [Int]) in indices.map { definition[$0].name } }
            // Asked only where a run may end: every decision scanned all its
            // steps for this before, though most return from an early group.
            func anyRunning() -> Bool { all.contains { status($0).isExecuting } }

            if cancelRequested {
                return Decision(cancel: names(all.filter { status($0).isUnneeded }), outcome: anyRunning() ? nil : .cancelled)
            }

            var decision = Decision()
            for (index, group) in groups.enumerated() {
                let blocking = group.contains { status($0).isFailure && !definition[$0].continueOnFailure }
                if blocking {
                    let later = groups[(index + 1)...].joined()
                    decision.skip = names((group + later).filter { status($0).isUnneeded })
                    if !anyRunning() { (decision.outcome, decision.rollback) = failure(status) }
                    return decision
                }
                guard group.contains(where: { !status($0).isFinal }) else { continue }
                decision.start = names(group.filter { status($0).isNotStarted })
                return decision
            }
            // A failure that continueOnFailure let the run get past still counts:
            // a run is `succeeded` only when every one of its steps succeeded.
            if all.allSatisfy({ status($0) == .succeeded }) {
                decision.outcome = .succeeded
            } else {
                (decision.outcome, decision.rollback) = failure(status)
            }
            return decision
        }

        /// A run that failed first undoes what succeeded: the rollbacks of its
        /// succeeded steps run one at a time, the last step first (reverse
        /// executionOrder, then reverse name). A rollback that fails stops
        /// the rest (what it left is for a person to judge). Then it is `failed`.
        func failure(_ status: (Int) -> StepStatus) -> (RunStatus?, [String]) {
            if definition.indices.contains(where: { status($0) == .rollbackFailed }) { return (.failed, []) }
            let next = definition.indices
                .filter { definition[$0].rollback != nil && status($0) == .succeeded }
                .max { (definition[$0].executionOrder, definition[$0].name) < (definition[$1].executionOrder, definition[$1].name) }
            guard let next else { return (.failed, []) }
            return (nil, [definition[next].name])
        }
    }
}
