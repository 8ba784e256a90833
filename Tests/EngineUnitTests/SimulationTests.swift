@testable import EngineSimulation
import Foundation
import Testing

/// The engine under deterministic simulation: several engines over one
/// in-memory database, faults injected by seed (docs/architecture.md).
@Suite struct SimulationTests {
    /// A few hundred here, beside the integration tests; scripts/test then
    /// runs 2,000 with the machine to itself (scripts/simulate runs any
    /// number). ORCH_SIM_SEEDS=FIRST-LAST runs others here.
    static var seeds: ClosedRange<UInt64> {
        let parts = (ProcessInfo.processInfo.environment["ORCH_SIM_SEEDS"] ?? "").split(separator: "-").compactMap { UInt64($0) }
        return parts.count == 2 && parts[0] <= parts[1] ? parts[0]...parts[1] : 2001...2300
    }

    @Test func everySeedKeepsTheInvariantsThroughCrashesOutagesLostRepliesDrainsStallsAndSkewedClocks() {
        let batch = SimulationBatch(seeds: Self.seeds, faults: .survived)
        let summary = batch.run()
        #expect(summary.seeds == Self.seeds.count)
        #expect(summary.runs > summary.seeds, "the seeds ran almost nothing: \(summary.runs) runs")
        #expect(summary.faults > summary.seeds, "the seeds injected almost no faults: \(summary.faults)")
        for failure in summary.failures.prefix(3) {
            Issue.record(Comment(rawValue: SimulationBatch.describe(failure, faults: .survived)))
        }
    }

    @Test func aSeedReplaysExactly() {
        for seed in [UInt64(7), 42, 1102] {
            let first = Simulation(seed: seed, faults: .all, traceLength: 100_000).run()
            let again = Simulation(seed: seed, faults: .all, traceLength: 100_000).run()
            #expect(first.lastEvents == again.lastEvents, "seed \(seed) did not replay")
            #expect(first.jobs == again.jobs)
            #expect(first.breaches == again.breaches)
            #expect(!first.breaches.contains { $0.hasPrefix("determinism") }, "\(first.breaches)")
            #expect(!first.lastEvents.isEmpty)
        }
    }

    @Test(arguments: ReportedScenario.allCases)
    func aReportedScenarioThatIsFixedBreachesNothing(_ scenario: ReportedScenario) {
        let report = scenario.reproduce()
        #expect(report.breaches.isEmpty, "\(scenario.rawValue): \(report.breaches)")
        #expect(report.steps >= 1)
    }

    @Test func aFailingSeedIsToldWithItsBreachesItsLastEventsAndHowToReplayIt() {
        let report = SimulationReport(
            seed: 1102, runs: 1, steps: 2, faults: 3, jobs: 4, breaches: ["step ran twice at once: step s1 of run 1"],
            lastEvents: ["   1.000 d1#1 starts"], finalRuns: [], executions: [])
        let told = SimulationBatch.describe(report, faults: [.crash, .skew])
        #expect(told.contains("seed 1102: 1 breach"))
        #expect(told.contains("step ran twice at once"))
        #expect(told.contains("   1.000 d1#1 starts"))
        #expect(told.contains("replay: scripts/simulate --seed 1102 --faults crash,skew"))
    }
}
