import Foundation
import MongoKit
import OrchestratorModel
import OrchestratorProtocol
import Testing
import TestSupport

/// Runs whose steps print a lot: every stored document stays under
/// MongoDB's 16 MiB limit and the run ends. (A write refused for good all
/// the same ends the run with a clear error: EngineScenarioTests plays it,
/// RunLogTests shows MongoDB's refusal is told apart from an outage.)
@Suite struct OutputBudgetTests {
    private static let documentLimit = 16 * 1024 * 1024

    /// The documents of the daemon's database that are over MongoDB's limit, named.
    private func oversized(in daemon: DaemonProcess) async throws -> [String] {
        let pool = try MongoPool(MongoConfiguration(uri: daemon.mongoURI, database: daemon.database))
        defer { Task { await pool.close() } }
        let documents = try await pool.everyDocument()
        #expect(!documents.isEmpty)
        return documents.filter { bsonSize($0.document) >= Self.documentLimit }.map { "\($0.collection): \(bsonSize($0.document)) bytes" }
    }

    @Test func aRunWhoseStepsPrintALotEndsAndEveryDocumentStaysUnderTheLimit() async throws {
        try await DaemonProcess.with { daemon in
            let c = try daemon.connect()
            // 150 steps, each printing 64 KiB that are not UTF-8 on stdout and on stderr.
            let loud = "head -c 65536 /dev/zero | tr '\\000' '\\377'; head -c 65536 /dev/zero | tr '\\000' '\\376' >&2"
            try await c.createWorkflow("loud", (0..<150).map { shellStep("s\($0)", order: $0, loud) })
            let id = try await c.startRun("loud")
            var run: JSONValue = .null
            #expect(await eventually(timeout: .seconds(300)) {
                run = (try? await daemon.connect().call("run.get", ["id": .string(id)])) ?? .null
                return run["status"]?.stringValue.flatMap(RunStatus.init(rawValue:))?.isTerminal == true
            }, "log: \(daemon.log().suffix(2000))")
            #expect(run["status"] == "succeeded")
            #expect(try await oversized(in: daemon) == [])

            let steps = run["steps"]?.arrayValue ?? []
            let kept = steps.reduce(0) { $0 + ($1["stdout"]?.stringValue?.utf8.count ?? 0) + ($1["stderr"]?.stringValue?.utf8.count ?? 0) }
            #expect(kept <= Limits.runOutputBytes + steps.count * 2 * 512, "kept \(kept) bytes of output")
            // The first steps keep their last 64 KiB (bytes that are not UTF-8 shown as U+FFFD) ...
            let first = run.step("s0")?["stdout"]?.stringValue ?? ""
            #expect(first.utf8.count <= Limits.stepOutputBytes && first.utf8.count > Limits.stepOutputBytes - 3)
            #expect(first.unicodeScalars.allSatisfy { $0 == "\u{FFFD}" })
            // ... and once the run's budget is spent, a step's record says where its output is.
            #expect(run.step("s149")?["stdout"]?.stringValue?.contains("the journal has all of it") == true)
        }
    }
}
