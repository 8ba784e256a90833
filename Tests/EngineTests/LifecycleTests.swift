import Foundation
import OrchestratorClient
import OrchestratorProtocol
import Testing
import TestSupport

/// Cancel, resume, crashes, takeovers, database outages and graceful stops,
/// with the real daemon binary, real processes and the real database.
@Suite struct LifecycleTests {
    @Test func cancelStopsRunningStepsAndCancelsTheRest() async throws {
        try await DaemonProcess.with { daemon in
            let dir = daemon.directory
            let pidFile = dir.appendingPathComponent("pid")
            let c = try daemon.connect()
            try await c.createWorkflow("long", [
                shellStep("sleepy", order: 0, "echo $$ > '\(pidFile.path)'; exec sleep 300"),
                // Ignores SIGTERM: only the SIGKILL after the grace period ends it.
                shellStep("stubborn", order: 0, "trap '' TERM; sleep 300 & wait; sleep 300"),
                shellStep("after", order: 1, stamped(dir, "true")),
            ])
            let id = try await c.startRun("long")
            #expect(await eventually { (try? await c.call("run.get", ["id": .string(id)]))?.stepStatus("stubborn") == "running" && FileManager.default.fileExists(atPath: pidFile.path) })
            try await Task.sleep(for: .milliseconds(300))
            let cancelled = try await c.call("run.cancel", ["id": .string(id)])
            #expect(cancelled["cancelRequested"] == true)
            let (_, run) = try await c.watch(id)
            #expect(run["status"] == "cancelled")
            #expect(run.stepStatus("sleepy") == "cancelled")
            #expect(run.stepStatus("stubborn") == "cancelled")
            #expect(run.stepStatus("after") == "cancelled")
            let pid = try #require(Int32(fileLines(pidFile).first ?? ""))
            #expect(!processExists(pid))
            #expect((try? Stamps(dir))?.start["after"] == nil)
            // A finished run cannot be cancelled again.
            await #expect(throws: ClientError.self) { try await c.call("run.cancel", ["id": .string(id)]) }
        }
    }

    @Test func resumeContinuesFromTheFirstStepThatDidNotSucceed() async throws {
        try await DaemonProcess.with { daemon in
            let dir = daemon.directory
            let flag = dir.appendingPathComponent("fixed")
            let c = try daemon.connect()
            try await c.createWorkflow("fixable", [
                shellStep("backup", order: 0, stamped(dir, "echo backup >> '\(dir.path)/ran'")),
                shellStep("push", order: 1, "echo push >> '\(dir.path)/ran'; test -e '\(flag.path)'"),
                shellStep("verify", order: 2, "echo verify >> '\(dir.path)/ran'"),
            ])
            let id = try await c.startRun("fixable")
            let (_, failed) = try await c.watch(id)
            #expect(failed["status"] == "failed")
            #expect(failed.stepStatus("verify") == "skipped")

            _ = FileManager.default.createFile(atPath: flag.path, contents: nil)
            let resumed = try await c.call("run.resume", ["id": .string(id)])
            #expect(resumed["id"] == .string(id))
            let (_, run) = try await c.watch(id)
            #expect(run["status"] == "succeeded")
            #expect(run.step("backup")?["attempts"] == 1)
            #expect(run.step("push")?["attempts"] == 2)
            #expect(fileLines(dir.appendingPathComponent("ran")) == ["backup", "push", "push", "verify"])
            // Earlier attempts are kept in the run's history.
            let pushFailures = (run["events"]?.arrayValue ?? []).filter { $0["step"] == "push" && $0["status"] == "failed" }
            #expect(pushFailures.count == 1)
            #expect((run["events"]?.arrayValue ?? []).contains { $0["status"] == "resumed" })
            // Only failed or cancelled runs can be resumed.
            await #expect(throws: ClientError.self) { try await c.call("run.resume", ["id": .string(id)]) }
        }
    }

    @Test func afterKill9TheRestartedDaemonRecoversItsRuns() async throws {
        let uri = try TestEnvironment.mongoURI()
        try await withTemporaryDirectory { dir in
            let daemon = DaemonProcess(directory: dir, mongoURI: uri)
            try await daemon.start()
            let c = try daemon.connect()
            let gate = dir.appendingPathComponent("gate")
            let wait = waitFor(gate)
            try await c.createWorkflow("safe", [
                shellStep("first", order: 0, "echo first >> '\(dir.path)/safe-ran'"),
                shellStep("long", order: 1, "echo long >> '\(dir.path)/safe-ran'; \(wait)", retries: 0, idempotent: true),
            ])
            try await c.createWorkflow("unsafe", [
                shellStep("first", order: 0, "echo first >> '\(dir.path)/unsafe-ran'"),
                shellStep("push", order: 1, "echo push >> '\(dir.path)/unsafe-ran'; \(wait)"),
                shellStep("verify", order: 2, "echo verify >> '\(dir.path)/unsafe-ran'"),
            ])
            let safe = try await c.startRun("safe")
            let unsafe = try await c.startRun("unsafe")
            #expect(await eventually {
                fileLines(dir.appendingPathComponent("safe-ran")).contains("long") && fileLines(dir.appendingPathComponent("unsafe-ran")).contains("push")
            })
            try await Task.sleep(for: .milliseconds(300))  // the pid write lands
            await daemon.stop(signal: SIGKILL)

            _ = FileManager.default.createFile(atPath: gate.path, contents: nil)
            try await daemon.start()
            let c2 = try daemon.connect()
            let (safeEvents, safeRun) = try await c2.watch(safe)
            #expect(safeRun["status"] == "succeeded")
            #expect(safeRun.step("long")?["attempts"] == 2)
            #expect(safeEvents.contains { $0["step"] == "long" && $0["status"] == "interrupted" })
            #expect(fileLines(dir.appendingPathComponent("safe-ran")) == ["first", "long", "long"])

            let (_, unsafeRun) = try await c2.watch(unsafe)
            #expect(unsafeRun["status"] == "failed")
            #expect(unsafeRun.stepStatus("push") == "interrupted")
            #expect(unsafeRun.stepStatus("verify") == "skipped")
            _ = try await c2.call("run.resume", ["id": .string(unsafe)])
            let (_, resumed) = try await c2.watch(unsafe)
            #expect(resumed["status"] == "succeeded")
            // No step that had succeeded ran again.
            #expect(fileLines(dir.appendingPathComponent("unsafe-ran")) == ["first", "push", "push", "verify"])
            await daemon.stop()
        }
    }

    @Test func anotherDaemonTakesOverAfterTheLeaseExpires() async throws {
        try await withTemporaryDirectory { dir in
            let database = TestEnvironment.uniqueDatabaseName("shared")
            let (a, b) = try DaemonProcess.pair(in: dir, database: database, arguments: ["--lease-seconds", "3"])
            try await a.start()
            let gate = dir.appendingPathComponent("gate")
            let c = try a.connect()
            try await c.createWorkflow("handover", [
                shellStep("one", order: 0, "echo \"one $(cat /proc/self/stat | cut -d' ' -f4)\" >> '\(dir.path)/ran'; \(waitFor(gate))", idempotent: true),
                shellStep("two", order: 1, "echo two >> '\(dir.path)/ran'"),
            ])
            let id = try await c.startRun("handover")
            #expect(await eventually { fileLines(dir.appendingPathComponent("ran")).count == 1 })
            try await Task.sleep(for: .milliseconds(300))
            await a.stop(signal: SIGKILL)
            _ = FileManager.default.createFile(atPath: gate.path, contents: nil)

            try await b.start()
            let (events, run) = try await b.connect().watch(id)
            #expect(run["status"] == "succeeded", "run: \(run)\nlog of b: \(b.log())")
            #expect(events.contains { $0["step"] == "one" && $0["status"] == "interrupted" })
            #expect(run.step("one")?["attempts"] == 2)
            #expect(b.log().contains("took over run"))
            await b.stop()
        }
    }

    @Test func aDatabaseOutageMidRunLosesNothing() async throws {
        try await DatabaseServer.with { server in
            try await DaemonProcess.with(mongoURI: server.uri, arguments: ["--server-selection-timeout-ms", "500", "--lease-seconds", "60"]) { daemon in
                let dir = daemon.directory
                let gate = dir.appendingPathComponent("gate")
                let c = try daemon.connect()
                try await c.createWorkflow("outage", [
                    shellStep("before", order: 0, "echo before"),
                    shellStep("during-a", order: 1, "\(waitFor(gate)); echo a"),
                    shellStep("during-b", order: 1, "\(waitFor(gate)); echo b"),
                    shellStep("after", order: 2, "echo after"),
                ])
                let id = try await c.startRun("outage")
                #expect(await eventually { (try? await c.call("run.get", ["id": .string(id)]))?.stepStatus("during-b") == "running" })
                await server.stop()
                // The steps finish while MongoDB is down; their results wait.
                _ = FileManager.default.createFile(atPath: gate.path, contents: nil)
                try await Task.sleep(for: .seconds(2))
                #expect(daemon.isRunning)
                try await server.start()

                var run: JSONValue = .null
                #expect(await eventually(timeout: .seconds(60)) {
                    run = (try? await daemon.connect().call("run.get", ["id": .string(id)])) ?? .null
                    return run["status"] == "succeeded"
                }, "run: \(run)")
                #expect(run.step("during-a")?["stdout"] == "a\n")
                #expect(run.step("during-b")?["stdout"] == "b\n")
                #expect(run.step("after")?["stdout"] == "after\n")
                let events = run["events"]?.arrayValue ?? []
                #expect(events.compactMap { $0["sequence"]?.intValue } == Array(0..<events.count))
                #expect(events.filter { $0["status"] == "succeeded" }.count == 5)
            }
        }
    }

    /// With a client connected through the drain (a watcher), and with none
    /// (orchctl's connections are short): the drain must not end when the
    /// last connection does (it did, with the ServiceGroup: found by
    /// scripts/systemd-e2e).
    @Test(arguments: [true, false])
    func sigtermLetsRunningStepsFinishAndTheNextStartContinues(aClientStaysConnected: Bool) async throws {
        try await withNotifiedDaemon(arguments: ["--stop-timeout-seconds", "20"]) { daemon, notify in
            try await daemon.start()
            var c: TestConnection? = try daemon.connect()
            let gate = daemon.directory.appendingPathComponent("gate")
            try await c?.createWorkflow("drain", [
                shellStep("finishing", order: 0, "\(waitFor(gate)); echo done-before-exit"),
                shellStep("next", order: 1, "echo next"),
            ])
            let id = try #require(try await c?.startRun("drain"))
            #expect(await eventually { (try? await c?.call("run.get", ["id": .string(id)]))?.stepStatus("finishing") == "running" }, "log: \(daemon.log())")
            if !aClientStaysConnected { c = nil }
            // SIGTERM while the step runs; it is released only once the daemon is stopping.
            daemon.send(signal: SIGTERM)
            #expect(await notify.waitFor("STOPPING=1"))
            _ = FileManager.default.createFile(atPath: gate.path, contents: nil)
            #expect(await daemon.waitForExit(timeout: .seconds(60)) == 0, "log: \(daemon.log())")
            #expect(!daemon.log().contains("error"), "log: \(daemon.log())")
            await daemon.stop()
            _ = c

            // The running step finished and was recorded; the next one waits for the next start.
            try await daemon.start()
            let (_, run) = try await daemon.connect().watch(id)
            #expect(run["status"] == "succeeded")
            #expect(run.step("finishing")?["attempts"] == 1)
            #expect(run.step("finishing")?["stdout"] == "done-before-exit\n")
            #expect(run.step("next")?["stdout"] == "next\n")
            await daemon.stop()
        }
    }

    @Test func statusReportsActiveRunsToClientsAndToSystemd() async throws {
        try await withNotifiedDaemon { daemon, notify in
            let dir = daemon.directory
            try await daemon.start()
            let gate = dir.appendingPathComponent("gate")
            let c = try daemon.connect()
            try await c.createWorkflow("active", [shellStep("wait", waitFor(gate))])
            let id = try await c.startRun("active")
            #expect(await eventually { (try? await c.call("daemon.status"))?["activeRuns"] == 1 })
            #expect(await notify.waitFor("STATUS=serving on \(daemon.socketPath); 1 run active"))
            _ = FileManager.default.createFile(atPath: gate.path, contents: nil)
            _ = try await c.watch(id)
            #expect(await eventually { (try? await c.call("daemon.status"))?["activeRuns"] == 0 })
            #expect(await notify.waitFor("STATUS=serving on \(daemon.socketPath); 0 runs active"))
            await daemon.stop()
        }
    }

    @Test func aWatcherThatHangsUpIsLetGoAtOnce() async throws {
        try await DaemonProcess.with { daemon in
            let gate = daemon.directory.appendingPathComponent("gate")
            let c = try daemon.connect()
            try await c.createWorkflow("watched", [shellStep("wait", waitFor(gate)), shellStep("then", order: 1, "true")])
            let id = try await c.startRun("watched")
            // Queued, running, step running: after those the run is quiet until the gate opens.
            #expect(await eventually { (try? await c.call("run.get", ["id": .string(id)]))?["events"]?.arrayValue?.count == 3 })
            func watch(from sequence: Int) -> [UInt8] {
                Array((#"{"jsonrpc":"2.0","id":1,"method":"run.watch","params":{"id":"\#(id)","fromSequence":\#(sequence)}}"# + "\n").utf8)
            }
            // Five watchers that have seen everything, so no event will be sent to them while the step waits.
            var quiet: [TestConnection] = []
            for _ in 0..<5 {
                let watcher = try daemon.connect()
                try await watcher.sendRaw(watch(from: 3))
                quiet.append(watcher)
            }
            // One more only stops sending: it still waits for the stream.
            let listener = try daemon.connect()
            try await listener.sendRaw(watch(from: 0))
            await listener.finishSending()
            _ = try await listener.readLine()
            #expect(await eventually { (try? await c.call("daemon.status"))?["watchers"] == 6 })
            #expect(try await c.call("daemon.status")["connections"] == 7)

            quiet.removeAll()
            #expect(await eventually { (try? await c.call("daemon.status"))?["watchers"] == 1 })
            #expect(try await c.call("daemon.status")["connections"] == 2)

            _ = FileManager.default.createFile(atPath: gate.path, contents: nil)
            var message: JSONValue = .null
            while message["result"] == nil, message["error"] == nil {
                message = try JSONCoding.parse(try await listener.readLine())
            }
            #expect(message["result"]?["status"] == "succeeded")
            #expect(try await c.call("daemon.status")["mongodb"] == "ok")
        }
    }
}
