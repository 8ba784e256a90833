import Foundation
import MongoKit
import OrchestratorProtocol
import Testing
import TestSupport

/// Two live daemons never share a daemon id (it names a run's owner: with
/// one id each would take the other's runs for its own); a daemon that
/// crashed or stopped gets its id back at once.
@Suite struct DaemonIdentityTests {
    @Test func aSecondLiveDaemonWithTheSameIdRefusesToStartAndSaysWhy() async throws {
        try await withTemporaryDirectory { dir in
            let database = TestEnvironment.uniqueDatabaseName("ident")
            let (a, b) = try DaemonProcess.pair(in: dir, database: database, arguments: ["--daemon-id", "cloned-vm", "--lease-seconds", "5"])
            try await a.start()
            try await b.start(waitUntilServing: false)
            #expect(await b.waitForExit(timeout: .seconds(60)) == 1, "log of b: \(b.log())")
            #expect(b.log().contains("another daemon is running with daemon id 'cloned-vm'"), "log of b: \(b.log())")
            #expect(b.log().contains("pid \(a.pid ?? 0)"))
            #expect(try await a.connect().call("daemon.status")["mongodb"] == "ok")
            await a.stop()
        }
    }

    /// A long lease: were the id not given back, the restart would wait it out and the start would time out.
    @Test(arguments: [SIGKILL, SIGTERM])
    func aDaemonThatStoppedGetsItsIdBackAtOnce(signal: Int32) async throws {
        try await DaemonProcess.with(arguments: ["--daemon-id", "restarted", "--lease-seconds", "300"]) { daemon in
            await daemon.stop(signal: signal)
            try await daemon.start()
            #expect(try await daemon.connect().call("daemon.status")["mongodb"] == "ok")
        }
    }

    /// Another process takes this daemon's id (a clone thought it dead): the
    /// daemon stops its steps at once, not after its stop timeout, since the
    /// other may now run the same runs' steps.
    @Test func aDaemonWhoseIdIsTakenStopsItsStepsAtOnce() async throws {
        try await withTemporaryDirectory { dir in
            let daemon = DaemonProcess(
                directory: dir, mongoURI: try TestEnvironment.mongoURI(), arguments: ["--lease-seconds", "3", "--stop-timeout-seconds", "120"])
            try await daemon.start()
            let marks = dir.appendingPathComponent("marks")
            let c = try daemon.connect()
            try await c.createWorkflow("long", [
                shellStep("long", "trap 'echo stopped >> \"\(marks.path)\"; exit 143' TERM; echo started >> '\(marks.path)'; sleep 300 & wait"),
            ])
            _ = try await c.startRun("long")
            #expect(await eventually { fileLines(marks) == ["started"] })
            let started = ContinuousClock.now
            try await withPool(database: daemon.database) { pool in
                _ = try await pool.withClient { client throws(MongoError) in
                    try client.collection("daemons").updateMany([:], ["$set": ["instance": "a-clone", "host": "elsewhere", "pid": 4242]])
                }
            }
            #expect(await daemon.waitForExit(timeout: .seconds(90)) == 0, "log: \(daemon.log())")
            #expect(ContinuousClock.now - started < .seconds(60), "it waited for its stop timeout")
            #expect(fileLines(marks) == ["started", "stopped"])
            #expect(daemon.log().contains("held by host elsewhere"), "log: \(daemon.log())")
        }
    }
}
