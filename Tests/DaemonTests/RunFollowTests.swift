import Foundation
import OrchestratorProtocol
import Testing
import TestSupport

/// `run.follow` and `orchctl run logs -f` against the real daemon and
/// database: lines arrive while the step still runs (its process waits
/// for a file the test writes only once it has seen them), from the
/// daemon's backlog for what was printed before, by step and attempt; what
/// ran on another daemon, or before, comes from the run's record, once.
@Suite struct RunFollowTests {
    /// talk: a line, then it waits for `gate`; then a line on each stream.
    /// flaky: fails both its attempts, saying so.
    private static func chatty(_ dir: URL) -> [String: JSONValue] {
        let (started, gate) = (dir.appendingPathComponent("started").path, dir.appendingPathComponent("gate").path)
        let talk = "echo before; touch '\(started)'; while [ ! -e '\(gate)' ]; do sleep 0.05; done; echo after; echo oops >&2"
        return [
            "name": "chatty",
            "steps": [
                ["name": "talk", "executionOrder": 0, "action": ["exec": ["/bin/sh", "-c", .string(talk)]]],
                ["name": "flaky", "executionOrder": 1, "retries": 1, "retryDelaySeconds": 0, "action": ["exec": ["/bin/sh", "-c", "echo try; exit 3"]]],
            ],
        ]
    }

    @Test func followShowsEachLineAsItIsPrintedByStepAndAttempt() async throws {
        try await DaemonProcess.with { daemon in
            let dir = URL(fileURLWithPath: daemon.socketPath).deletingLastPathComponent()
            let c = try daemon.connect()
            _ = try await c.call("workflow.create", Self.chatty(dir))
            let id = try #require(try await c.call("run.start", ["workflow": "chatty"])["id"]?.stringValue)
            // "before" is printed before anyone follows: it comes from the daemon's backlog.
            #expect(await eventually { FileManager.default.fileExists(atPath: dir.appendingPathComponent("started").path) })

            let (out, err) = (dir.appendingPathComponent("follow.out"), dir.appendingPathComponent("follow.err"))
            _ = FileManager.default.createFile(atPath: out.path, contents: nil)
            _ = FileManager.default.createFile(atPath: err.path, contents: nil)
            let follower = SpawnedProcess()
            follower.executableURL = URL(fileURLWithPath: try Binaries.path("orchctl"))
            follower.arguments = ["--socket", daemon.socketPath, "run", "logs", "-f", id]
            follower.standardOutput = try FileHandle(forWritingTo: out)
            follower.standardError = try FileHandle(forWritingTo: err)
            try follower.run()
            defer { if follower.isRunning { follower.terminate() } }
            // Shown while the step still waits for the gate, which only this test opens.
            #expect(await eventually { Self.lines(out) == ["talk | before"] }, "\(Self.lines(out))")
            _ = FileManager.default.createFile(atPath: dir.appendingPathComponent("gate").path, contents: nil)
            #expect(await eventually { !follower.isRunning })
            // The run failed: the exit status says so, as `run watch` does.
            #expect(follower.terminationStatus == 1)
            #expect(Self.lines(out) == ["talk | before", "talk | after", "flaky | try", "flaky#2 | try"], "\(Self.lines(out))")
            #expect(Self.lines(err).contains("talk | oops"), "\(Self.lines(err))")
            #expect(Self.lines(err).last == "orchctl: run \(id) failed", "\(Self.lines(err))")
        }
    }

    @Test func aRunThatEndedIsFollowedFromItsRecordOnceAndBadRequestsAreRefused() async throws {
        try await DaemonProcess.with { daemon in
            let dir = URL(fileURLWithPath: daemon.socketPath).deletingLastPathComponent()
            _ = FileManager.default.createFile(atPath: dir.appendingPathComponent("gate").path, contents: nil)
            let c = try daemon.connect()
            _ = try await c.call("workflow.create", Self.chatty(dir))
            let id = try #require(try await c.call("run.start", ["workflow": "chatty"])["id"]?.stringValue)
            let ended = try await c.callCollecting("run.watch", ["id": .string(id)]).result
            #expect(ended["status"] == "failed")

            let followed = try await c.callCollecting("run.follow", ["id": .string(id)])
            #expect(followed.result["status"] == "failed")
            let lines = followed.notifications.map { n in
                "\(n["step"]?.stringValue ?? "?")#\(n["attempt"]?.intValue ?? 0) \(n["stream"]?.stringValue ?? "?") \(n["line"]?.stringValue ?? "?")"
            }
            // The record keeps the latest attempt: flaky's second, once, not once per attempt.
            #expect(lines == ["talk#1 stdout before", "talk#1 stdout after", "talk#1 stderr oops", "flaky#2 stdout try"], "\(lines)")
            #expect(followed.notifications.allSatisfy { $0["kept"] == true && $0["runId"]?.stringValue == id })

            let onlyFlaky = try await c.callCollecting("run.follow", ["id": .string(id), "step": "flaky"])
            #expect(onlyFlaky.notifications.map { $0["line"]?.stringValue } == ["try"])

            #expect(try await call(c, "run.follow", ["id": .string(id), "step": "nosuch"]).errorCode == .notFound)
            #expect(try await call(c, "run.follow", ["id": .string(id), "target": "leaf1"]).errorCode == .validationFailed)
            #expect(try await call(c, "run.follow", ["id": .string(id), "attempt": 0]).errorCode == .validationFailed)
            #expect(try await call(c, "run.follow", ["id": .string(id), "tail": 3]).errorCode == .invalidParams)
            #expect(try await call(c, "run.follow", ["id": "6b1037a78c2883c81f07c0e2"]).errorCode == .notFound)

            // orchctl: the earlier attempt is not in the record, and it says where it is.
            let earlier = try await orchctl(daemon, ["run", "logs", id, "flaky", "--attempt", "1"])
            #expect(earlier.status == 3 && earlier.stderr.contains("RUN_ID=\(id) STEP=flaky ATTEMPT=1"), "\(earlier)")
            let latest = try await orchctl(daemon, ["run", "logs", id, "flaky", "--attempt", "2"])
            #expect(latest.status == 0 && latest.stdout.contains("try"), "\(latest)")
        }
    }

    /// A fleet run's lines carry their target; a member that ran on the
    /// other daemon is shown from its record when it ends.
    @Test func aFleetIsFollowedByTargetOnWhicheverDaemonItRuns() async throws {
        try await withTemporaryDirectory { dir in
            let (a, b) = try DaemonProcess.pair(in: dir, database: TestEnvironment.uniqueDatabaseName("follow"))
            try await a.start()
            try await b.start()
            do {
                try await Self.followFleet(from: a, on: b)
            } catch {
                await a.stop()
                await b.stop()
                throw error
            }
            await a.stop()
            await b.stop()
        }
    }

    private static func followFleet(from a: DaemonProcess, on b: DaemonProcess) async throws {
        let c = try a.connect()
        for name in ["leaf1", "leaf2"] { _ = try await c.call("target.create", ["name": .string(name)]) }
        _ = try await c.call("workflow.create", [
            "name": "hello",
            "steps": [["name": "say", "executionOrder": 0, "action": ["exec": ["/bin/sh", "-c", "echo hello from {{target.name}}"]]]],
        ])
        let id = try #require(try await c.call("run.start", ["workflow": "hello", "targets": ["names": ["leaf1", "leaf2"]]])["id"]?.stringValue)
        // Followed on b, which may execute none of it.
        let followed = try await b.connect().callCollecting("run.follow", ["id": .string(id)])
        #expect(followed.result["status"] == "succeeded", "\(followed.result)")
        let lines = followed.notifications.map { "\($0["target"]?.stringValue ?? "-") \($0["step"]?.stringValue ?? "?") \($0["line"]?.stringValue ?? "?")" }
        #expect(lines.sorted() == ["leaf1 say hello from leaf1", "leaf2 say hello from leaf2"], "\(followed.notifications)")
        let one = try await b.connect().callCollecting("run.follow", ["id": .string(id), "target": "leaf2"])
        #expect(one.notifications.map { $0["line"]?.stringValue } == ["hello from leaf2"])
    }

    /// The file's lines, with runs of spaces before `|` (the alignment) made one.
    private static func lines(_ url: URL) -> [String] {
        fileLines(url).map { $0.replacingOccurrences(of: #" +\| "#, with: " | ", options: .regularExpression) }
    }
}
