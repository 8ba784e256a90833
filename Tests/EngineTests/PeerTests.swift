import Foundation
import OrchestratorProtocol
import Testing
import TestSupport

/// Two daemons on one database, tried as an operator would: a SIGTERM drain
/// beside a peer, and a peer whose clock is a minute off (Debian's
/// `faketime`). No step runs twice, and no healthy run changes hands.
@Suite struct PeerTests {
    /// A step that notes its start and end with its pid and runs `seconds`.
    private func markedStep(_ name: String, _ marks: URL, seconds: Int) -> JSONValue {
        shellStep(name, order: 0, "echo \"start $$\" >> '\(marks.path)'; sleep \(seconds); echo \"end $$\" >> '\(marks.path)'", idempotent: true)
    }

    /// The case: lease 6 s, stop timeout 20 s, a 15 s idempotent step, SIGTERM to the daemon running it.
    @Test func aDrainBesideAPeerKeepsItsRunAndTheStepRunsOnce() async throws {
        try await withTemporaryDirectory { dir in
            let (a, b) = try DaemonProcess.pair(in: dir, database: TestEnvironment.uniqueDatabaseName("drainpeer"), arguments: ["--lease-seconds", "6", "--stop-timeout-seconds", "20"])
            try await a.start()
            try await b.start()
            let marks = dir.appendingPathComponent("marks")
            let c = try a.connect()
            try await c.createWorkflow("long", [markedStep("long", marks, seconds: 15)])
            let id = try await c.startRun("long")
            #expect(await eventually { fileLines(marks).count == 1 })
            a.send(signal: SIGTERM)
            #expect(await a.waitForExit(timeout: .seconds(60)) == 0, "log of a: \(a.log())")

            let (_, run) = try await b.connect().watch(id)
            #expect(run["status"] == "succeeded", "run: \(run)")
            #expect(run.step("long")?["attempts"] == 1)
            #expect(fileLines(marks).filter { $0.hasPrefix("start") }.count == 1, "marks: \(fileLines(marks))")
            #expect(!b.log().contains("took over run"), "log of b: \(b.log())")
            await b.stop()
        }
    }

    /// Each daemon runs a run of its own for three leases while the other
    /// looks for work: neither takes the other's run, and each step runs once.
    private func neitherTakesTheOthersRun(_ dir: URL, _ pair: [(DaemonProcess, String)]) async throws {
        for (owner, name) in pair {
            let marks = dir.appendingPathComponent("marks-\(name)")
            let c = try owner.connect()
            try await c.createWorkflow(name, [markedStep("work", marks, seconds: 12)])
            let id = try await c.startRun(name)
            let (_, run) = try await c.watch(id)
            #expect(run["status"] == "succeeded", "\(name): \(run)")
            #expect(run.step("work")?["attempts"] == 1, "\(name): \(run)")
            #expect(fileLines(marks).filter { $0.hasPrefix("start") }.count == 1, "\(name) marks: \(fileLines(marks))")
        }
        for (daemon, name) in pair {
            #expect(!daemon.log().contains("took over run"), "log of \(name): \(daemon.log())")
        }
    }

    @Test func aPeerAMinuteAheadNeitherTakesHealthyRunsNorLosesItsOwn() async throws {
        try await withTemporaryDirectory { dir in
            let (healthy, ahead) = try DaemonProcess.pair(in: dir, database: TestEnvironment.uniqueDatabaseName("ahead"), arguments: ["--lease-seconds", "6"])
            try await healthy.start()
            try await ahead.startAhead(by: 60)
            try await neitherTakesTheOthersRun(dir, [(healthy, "on-healthy"), (ahead, "on-ahead")])
            await ahead.stopAhead()
            await healthy.stop()
        }
    }
}
