import EngineSimulation
import Foundation

let kindNames = FaultKinds.names.map { $0.0 }.joined(separator: ",")
let usage = """
    USAGE: orchestrator-simulate [--seeds FIRST-LAST | --seed N] [--faults LIST] [--trace]

    Runs the engine's deterministic simulation: for each seed, two or three
    engines share an in-memory database while faults are injected, then the
    invariants are checked (no step twice, no fenced write, nothing
    acknowledged lost, every run ends). The same seed replays exactly.

    OPTIONS:
      --seeds FIRST-LAST  the seeds to run (default 1-2000)
      --seed N            one seed; prints its last events even when it passes
      --faults LIST       comma-separated fault kinds (default crash,lost-reply,outage);
                          all: \(kindNames)
      --trace             print the last events of every failing seed (default on for --seed)

    EXIT STATUS: 0 no breach, 1 a breach (the failing seeds are printed), 64 usage error.

    """

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("orchestrator-simulate: \(message)\n\n\(usage)".utf8))
    exit(64)
}

var seeds: ClosedRange<UInt64> = 1...2000
var faults = FaultKinds.survived
var single = false
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
    case "--trace":
        break
    default:
        fail("unexpected argument '\(argument)'")
    }
}

let started = ContinuousClock.now
print("simulate: seeds \(seeds.lowerBound)-\(seeds.upperBound) (\(seeds.count)), faults: \(faults.description)")
let summary = SimulationBatch(seeds: seeds, faults: faults).run { report in
    if single {
        for event in report.lastEvents { print("  \(event)") }
    }
    if !report.breaches.isEmpty {
        print(SimulationBatch.describe(report, faults: faults), terminator: "")
    }
}
let elapsed = ContinuousClock.now - started
print("simulate: \(summary.seeds) seeds, \(summary.runs) runs, \(summary.steps) step executions, \(summary.faults) faults, \(summary.failures.count) failing seeds (\(elapsed.components.seconds) s)")
exit(summary.failures.isEmpty ? 0 : 1)
