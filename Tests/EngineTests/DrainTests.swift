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
