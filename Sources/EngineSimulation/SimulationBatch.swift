import Foundation

/// Many seeds, one after another, with a summary and every failing seed.
public struct SimulationBatch: Sendable {
    public var seeds: ClosedRange<UInt64>
    public var faults: FaultKinds
    /// How many of its last events a failing seed's report shows.
    public var traceLength: Int

    public init(seeds: ClosedRange<UInt64>, faults: FaultKinds = .survived, traceLength: Int = 50) {
        self.seeds = seeds
        self.faults = faults
        self.traceLength = traceLength
    }

    public struct Summary: Sendable {
        public var seeds = 0
        public var runs = 0
        public var steps = 0
        public var faults = 0
        public var failures: [SimulationReport] = []
    }

    /// Runs every seed; `progress` sees each report as it comes.
    public func run(progress: (SimulationReport) -> Void = { _ in }) -> Summary {
        var summary = Summary()
        for seed in seeds {
            let report = Simulation(seed: seed, faults: faults, traceLength: traceLength).run()
            summary.seeds += 1
            summary.runs += report.runs
            summary.steps += report.steps
            summary.faults += report.faults
            if !report.breaches.isEmpty { summary.failures.append(report) }
            progress(report)
        }
        return summary
    }

    /// How a failing seed is told: the invariant, the last events, and how to replay it.
    public static func describe(_ report: SimulationReport, faults: FaultKinds) -> String {
        var text = "seed \(report.seed): \(report.breaches.count) breach\(report.breaches.count == 1 ? "" : "es")\n"
        for breach in report.breaches.prefix(5) { text += "  \(breach)\n" }
        text += "  last events:\n"
        for event in report.lastEvents { text += "    \(event)\n" }
        text += "  replay: scripts/simulate --seed \(report.seed) --faults \(faults.description)\n"
        return text
    }
}
