import EngineSimulation
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

    @Test func everySeedKeepsTheInvariantsThroughCrashesOutagesLostRepliesDrainsAndStalls() {
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

    @Test(arguments: ReportedScenario.allCases.filter(\.isFixed))
    func aReportedScenarioThatIsFixedBreachesNothing(_ scenario: ReportedScenario) {
        let report = scenario.reproduce()
        #expect(report.breaches.isEmpty, "\(scenario.rawValue): \(report.breaches)")
        #expect(report.steps >= 1)
    }

    /// Issue 14 fixes it; then this test fails and the scenario is marked fixed.
    @Test(arguments: ReportedScenario.allCases.filter { !$0.isFixed })
    func aReportedScenarioThatIsStillOpenIsStillFound(_ scenario: ReportedScenario) {
        let report = scenario.reproduce()
        #expect(report.breaches.contains { $0.hasPrefix("step ran twice at once") }, "\(scenario.rawValue): \(report.breaches)")
    }

    @Test func skewedClocksStillBreakTheLeasesAndTheSimulationSaysHow() {
        let summary = SimulationBatch(seeds: 1...100, faults: [.skew]).run()
        #expect(!summary.failures.isEmpty)
        let described = summary.failures.first.map { SimulationBatch.describe($0, faults: [.skew]) } ?? ""
        #expect(described.contains("replay: scripts/simulate --seed"))
        #expect(described.contains("last events:"))
    }
}
