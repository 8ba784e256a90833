import EngineSimulation
import Foundation

let kindNames = FaultKinds.names.map { $0.0 }.joined(separator: ",")
let usage = """
    USAGE: orchestrator-simulate [--seeds FIRST-LAST | --seed N] [--faults LIST] [--events N]
           orchestrator-simulate --scenario NAME

    Runs the engine's deterministic simulation: for each seed, two or three
    engines share an in-memory database while faults are injected, then the
    invariants are checked (no step twice, no fenced write, nothing
    acknowledged lost, every run ends). The same seed replays exactly.

    OPTIONS:
      --seeds FIRST-LAST  the seeds to run (default 1-2000)
      --seed N            one seed; prints its last events even when it passes
      --faults LIST       comma-separated fault kinds (default: all of them);
                          all: \(kindNames)
      --scenario NAME     plays a scenario an operator reported (\(ReportedScenario.allCases.map(\.rawValue).joined(separator: ", ")))
                          and says whether it breaches an invariant
      --events N          how many of its last events a failing seed shows (default 50;
                          with --seed, every event unless given)

    EXIT STATUS: 0 no breach, 1 a breach (the failing seeds are printed), 64 usage error.

    """

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("orchestrator-simulate: \(message)\n\n\(usage)".utf8))
    exit(64)
}

var seeds: ClosedRange<UInt64> = 1...2000
var faults = FaultKinds.survived
var single = false
var events: Int?
var arguments = CommandLine.arguments.dropFirst()
while let argument = arguments.popFirst() {
    switch argument {
    case "--help", "-h":
        print(usage, terminator: "")
        exit(0)
    case "--seeds":
        let parts = (arguments.popFirst() ?? "").split(separator: "-").compactMap { UInt64($0) }
        guard parts.count == 2, parts[0] <= parts[1] else { fail("--seeds takes FIRST-LAST, e.g. 1-2000") }
        seeds = parts[0]...parts[1]
    case "--seed":
        guard let seed = arguments.popFirst().flatMap({ UInt64($0) }) else { fail("--seed takes a number") }
        seeds = seed...seed
        single = true
    case "--faults":
        var chosen = FaultKinds()
        for name in (arguments.popFirst() ?? "").split(separator: ",") {
            guard let kind = FaultKinds.names.first(where: { $0.0 == name })?.1 else { fail("unknown fault kind '\(name)'") }
            chosen.insert(kind)
        }
        faults = chosen
    case "--scenario":
        let name = arguments.popFirst() ?? ""
        guard let scenario = ReportedScenario(rawValue: name) else {
            fail("unknown scenario '\(name)'; reported: \(ReportedScenario.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let report = scenario.reproduce()
        for event in report.lastEvents { print("  \(event)") }
        print(report.breaches.isEmpty ? "\(name): no breach" : "\(name): \(report.breaches.joined(separator: "; "))")
        exit(report.breaches.isEmpty ? 0 : 1)
    case "--events":
        guard let count = arguments.popFirst().flatMap({ Int($0) }), count > 0 else { fail("--events takes a positive number") }
        events = count
    default:
        fail("unexpected argument '\(argument)'")
    }
}

let started = ContinuousClock.now
print("simulate: seeds \(seeds.lowerBound)-\(seeds.upperBound) (\(seeds.count)), faults: \(faults.description)")
let summary = SimulationBatch(seeds: seeds, faults: faults, traceLength: events ?? (single ? 1_000_000 : 50)).run { report in
    if single {
        for event in report.lastEvents { print("  \(event)") }
    }
    if !report.breaches.isEmpty && !single {
        print(SimulationBatch.describe(report, faults: faults), terminator: "")
    } else if !report.breaches.isEmpty {
        for breach in report.breaches { print("breach: \(breach)") }
    }
}
let elapsed = ContinuousClock.now - started
print("simulate: \(summary.seeds) seeds, \(summary.runs) runs, \(summary.steps) step executions, \(summary.faults) faults, \(summary.failures.count) failing seeds (\(elapsed.components.seconds) s)")
exit(summary.failures.isEmpty ? 0 : 1)
