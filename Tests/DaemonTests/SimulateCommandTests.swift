import Foundation
import Testing
import TestSupport

/// orchestrator-simulate as a developer uses it: bad arguments get a usage
/// error that says what is wrong; one seed replays with every event.
@Suite struct SimulateCommandTests {
    func simulate(_ arguments: [String]) async throws -> CommandResult {
        try await runCommand(try Binaries.path("orchestrator-simulate"), arguments)
    }

    @Test func badArgumentsAreUsageErrorsThatSayWhy() async throws {
        let reversed = try await simulate(["--seeds", "9-1"])
        #expect(reversed.status == 64)
        #expect(reversed.stderr.contains("--seeds takes FIRST-LAST"))
        let unknownFault = try await simulate(["--faults", "crash,meteor"])
        #expect(unknownFault.status == 64)
        #expect(unknownFault.stderr.contains("unknown fault kind 'meteor'"))
        let unknownScenario = try await simulate(["--scenario", "nope"])
        #expect(unknownScenario.status == 64)
        #expect(unknownScenario.stderr.contains("skewed-peer"))
        let stray = try await simulate(["--sead", "1"])
        #expect(stray.status == 64)
        #expect(stray.stderr.contains("unexpected argument '--sead'"))
    }

    @Test func oneSeedPrintsEveryEventAndPasses() async throws {
        let result = try await simulate(["--seed", "3"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("d1#1 starts"))
        #expect(result.stdout.contains("1 seeds") && result.stdout.contains("0 failing seeds"))
    }
}
