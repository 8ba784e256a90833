import Foundation
import OrchestratorProtocol
import Testing
import TestSupport

/// SIGTERM with steps still running at the stop timeout: the drain records
/// them itself and ends by its own deadline, whatever the database does.
@Suite struct DrainTests {
    /// A step that says when it starts and when it is stopped, and otherwise runs for 60 s.
    private func longStep(_ name: String, marks: URL, idempotent: Bool) -> JSONValue {
        shellStep(name, order: 0, "trap 'echo stopped >> \"\(marks.path)\"; exit 143' TERM; echo started >> '\(marks.path)'; echo started; sleep 60 & wait", idempotent: idempotent)
    }

    @Test func atTheStopTimeoutTheDrainRecordsItsRunningStepsInterruptedItself() async throws {
        try await withTemporaryDirectory { dir in
            let database = TestEnvironment.uniqueDatabaseName("drain")
            let (a, b) = try DaemonProcess.pair(in: dir, database: database, arguments: ["--stop-timeout-seconds", "1"], argumentsB: [])
            try await a.start()
            let marks = dir.appendingPathComponent("marks")
            let c = try a.connect()
            try await c.createWorkflow("push", [longStep("push", marks: marks, idempotent: false)])
            let id = try await c.startRun("push")
            #expect(await eventually { fileLines(marks) == ["started"] })
            a.send(signal: SIGTERM)
            #expect(await a.waitForExit(timeout: .seconds(60)) == 0, "log: \(a.log())")
            #expect(fileLines(marks) == ["started", "stopped"])
            #expect(a.log().contains("the stop timeout passed"), "log: \(a.log())")

            // Read by another daemon at once: nothing was left for anybody to recover.
            try await b.start()
            let run = try await b.connect().call("run.get", ["id": .string(id)])
            #expect(run["status"] == "failed", "run: \(run)")
            #expect(run.stepStatus("push") == "interrupted")
            // What it printed before it was stopped is kept (a recovery after a crash has nothing).
            #expect(run.step("push")?["stdout"] == "started\n")
            #expect(run["events"]?.arrayValue?.contains { $0["step"] == "push" && $0["status"] == "interrupted" } == true)
            await b.stop()
        }
    }

    /// SIGTERM while a `run.start`'s insert, which records the run's first
    /// step running, is on its way: the drain waits for it, the step does
    /// not start (it is recorded pending again, not interrupted), and the
    /// next start of the daemon runs it once.
    @Test func aDrainWhileARunIsBeingStoredPutsItsFirstStepBackAndTheNextStartRunsItOnce() async throws {
        let upstream = try #require(URLComponents(string: try TestEnvironment.mongoURI())?.port)
        let proxy = try FlakyProxy(to: upstream)
        defer { proxy.stop() }
        try await withTemporaryDirectory { dir in
            let daemon = DaemonProcess(directory: dir, mongoURI: "mongodb://127.0.0.1:\(proxy.port)/", arguments: ["--stop-timeout-seconds", "5"])
            try await daemon.start()
            let marks = dir.appendingPathComponent("marks")
            let c = try daemon.connect()
            try await c.createWorkflow("push", [shellStep("push", order: 0, "echo pushed >> '\(marks.path)'")])
            proxy.set(.holdCommands("insert", into: "runs"))
            let starting = Task { try? await c.call("run.start", ["workflow": "push"]) }
            try #require(await eventually { proxy.commands("insert", into: "runs") > 0 }, "the run's insert reaches the proxy")
            daemon.send(signal: SIGTERM)
            try #require(await eventually { daemon.log().contains("draining: 0 runs executing here, 1 being stored") }, "log: \(daemon.log())")
            proxy.set(.forward)
            #expect(await daemon.waitForExit(timeout: .seconds(60)) == 0, "log: \(daemon.log())")
            _ = await starting.value
            #expect(fileLines(marks) == [])

            try await daemon.start()
            let c2 = try daemon.connect()
            let id = try #require(try await c2.call("run.list", ["workflow": "push"])["items"]?.arrayValue?.first?["id"]?.stringValue)
            let (_, run) = try await c2.watch(id)
            #expect(run["status"] == "succeeded", "run: \(run)")
            #expect(run.step("push")?["attempts"] == 1)
            #expect(fileLines(marks) == ["pushed"])
            #expect(run["events"]?.arrayValue?.contains { $0["message"]?.stringValue?.contains("the daemon began to stop while the run was being stored") == true } == true)
            await daemon.stop()
        }
    }

    @Test func aDrainEndsByItsDeadlineWhenTheDatabaseIsGone() async throws {
        try await DatabaseServer.with { server in
            try await withTemporaryDirectory { dir in
                let daemon = DaemonProcess(
                    directory: dir, mongoURI: server.uri,
                    arguments: ["--stop-timeout-seconds", "1", "--server-selection-timeout-ms", "500", "--lease-seconds", "60"])
                try await daemon.start()
                let marks = dir.appendingPathComponent("marks")
                let c = try daemon.connect()
                try await c.createWorkflow("push", [longStep("push", marks: marks, idempotent: true)])
                let id = try await c.startRun("push")
                #expect(await eventually { fileLines(marks) == ["started"] })
                await server.stop()
                daemon.send(signal: SIGTERM)
                // Stop timeout 1 s, kill grace 5 s, 5 s for the last writes: well within a minute.
                #expect(await daemon.waitForExit(timeout: .seconds(60)) == 0, "log: \(daemon.log())")
                #expect(fileLines(marks) == ["started", "stopped"])
                #expect(daemon.log().contains("could not be recorded before the drain's deadline"), "log: \(daemon.log())")

                // Nothing is lost: the next start recovers the run and runs the idempotent step again.
                try await server.start()
                try await daemon.start()
                #expect(await eventually(timeout: .seconds(30)) { fileLines(marks).count == 3 }, "marks: \(fileLines(marks))")
                let run = try await daemon.connect().call("run.get", ["id": .string(id)])
                #expect(run.stepStatus("push") == "running", "run: \(run)")
                #expect(run.step("push")?["attempts"] == 2)
                await daemon.stop()
            }
        }
    }
}
