import Foundation
import Testing
import OrchestratorProtocol

/// Every seed and every input the fuzzer ever crashed on (Fuzz/regressions,
/// written there by scripts/fuzz) goes through the same path as in the fuzzer.
@Suite struct FuzzRegressionTests {
    static let fuzzDirectory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fuzz")

    static var inputs: [URL] {
        ["seeds", "regressions"].flatMap { folder in
            (try? FileManager.default.contentsOfDirectory(
                at: fuzzDirectory.appendingPathComponent(folder), includingPropertiesForKeys: nil)) ?? []
        }.filter { !$0.lastPathComponent.hasPrefix(".") }
    }

    @Test func theSeedCorpusIsThere() {
        #expect(Self.inputs.count >= 10)
    }

    @Test(arguments: inputs)
    func replayedInputsPassTheHarness(_ file: URL) throws {
        FuzzHarness.exercise(try Data(contentsOf: file))
    }
}
