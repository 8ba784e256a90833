import Foundation
import OrchestratorProtocol
import Testing
import TestSupport

/// `orchctl run …` against the real daemon, and the journal's view of a run.
@Suite struct RunCommandTests {
    private func orchctl(_ daemon: DaemonProcess, _ arguments: [String]) async throws -> CommandResult {
        var env = ProcessInfo.processInfo.environment
        env["ORCHCTL_SOCKET"] = daemon.socketPath
        return try await runCommand(try Binaries.path("orchctl"), arguments, environment: env)
    }

    @Test func runStartWatchExitsWithTheRunsOutcome() async throws {
        try await DaemonProcess.with { daemon in
            let c = try daemon.connect()
            try await c.createWorkflow("good", [shellStep("ok", "echo fine")])
            try await c.createWorkflow("bad", [shellStep("ok", order: 0, "true"), shellStep("boom", order: 1, "echo broken >&2; exit 4")])

            let good = try await orchctl(daemon, ["run", "start", "good", "--watch"])
            #expect(good.status == 0, "\(good)")
            // Not a terminal: one plain line per event.
            #expect(good.stdout.contains("ok  running attempt=1"))
            #expect(good.stdout.contains("ok  succeeded attempt=1 exit=0"))

            let bad = try await orchctl(daemon, ["run", "start", "bad", "--watch"])
            #expect(bad.status == 1, "\(bad)")
            #expect(bad.stdout.contains("boom  failed attempt=1 exit=4"))
            #expect(bad.stderr.contains("failed"))

            let id = try #require(try await c.call("run.list", ["workflow": "bad"])["items"]?.arrayValue?.first?["id"]?.stringValue)
            let logs = try await orchctl(daemon, ["run", "logs", id, "boom"])
            #expect(logs.stdout.contains("broken"))
            let get = try await orchctl(daemon, ["run", "get", id])
            #expect(get.stdout.contains("exited with status 4"))
            let list = try await orchctl(daemon, ["run", "list", "--status", "failed"])
            #expect(list.stdout.contains(id))
            #expect(!list.stdout.contains("good"))
            let json = try await orchctl(daemon, ["-o", "json", "run", "get", id])
            let stored = try await c.call("run.get", ["id": .string(id)])
            #expect(try JSONCoding.parse(json.stdout) == stored)
            #expect(try await orchctl(daemon, ["run", "get", "0123456789abcdef01234567"]).status == 3)
            #expect(try await orchctl(daemon, ["run", "get", "not-an-id"]).status == 4)
        }
    }

    @Test func onATerminalWatchRedrawsOneLinePerStepInPlace() async throws {
        try await DaemonProcess.with { daemon in
            let c = try daemon.connect()
            try await c.createWorkflow("tty", [shellStep("first", order: 0, "sleep 0.6"), shellStep("second", order: 1, "true")])
            // script(1) gives orchctl a pseudo-terminal as stdout.
            let command = "ORCHCTL_SOCKET='\(daemon.socketPath)' '\(try Binaries.path("orchctl"))' run start tty --watch"
            let result = try await runCommand("/usr/bin/script", ["-qec", command, "/dev/null"])
            #expect(result.status == 0, "\(result)")
            #expect(result.stdout.contains("\u{1B}[2K"), "no in-place redraw: \(result.stdout)")
            #expect(result.stdout.contains("\u{1B}[3A"), "no cursor movement: \(result.stdout)")
            #expect(result.stdout.contains("✔ first"))
            #expect(result.stdout.contains("tty): succeeded"))
        }
    }

    @Test func cancelAndResumeFromTheCommandLine() async throws {
        try await DaemonProcess.with { daemon in
            let flag = daemon.directory.appendingPathComponent("flag")
            let c = try daemon.connect()
            try await c.createWorkflow("slow", [shellStep("wait", "\(waitFor(flag))")])
            let id = try await c.startRun("slow")
            #expect(await eventually { (try? await c.runStatus(id)) == "running" })
            #expect(try await orchctl(daemon, ["run", "cancel", id]).status == 0)
            let watched = try await orchctl(daemon, ["run", "watch", id])
            #expect(watched.status == 1)
            #expect(try await c.runStatus(id) == "cancelled")
            _ = FileManager.default.createFile(atPath: flag.path, contents: nil)
            let resumed = try await orchctl(daemon, ["run", "resume", id, "--watch"])
            #expect(resumed.status == 0, "\(resumed)")
            #expect(try await c.runStatus(id) == "succeeded")
        }
    }

    @Test func theJournalTellsWhatHappenedInARun() async throws {
        guard FileManager.default.fileExists(atPath: "/run/systemd/journal/socket") else {
            throw Failure("no journald: scripts/test starts /lib/systemd/systemd-journald (as root)")
        }
        try await DaemonProcess.with(arguments: ["--log-target", "journal"]) { daemon in
            let c = try daemon.connect()
            try await c.createWorkflow("journaled", [shellStep("speak", "echo 'line one'; echo 'line two' >&2")])
            let id = try await c.startRun("journaled")
            _ = try await c.watch(id)
            var entries: [JSONValue] = []
            #expect(await eventually {
                let out = try? await runCommand("/usr/bin/journalctl", ["-o", "json", "--no-pager", "RUN_ID=\(id)"])
                entries = (out?.stdout ?? "").split(separator: "\n").compactMap { try? JSONCoding.parse(String($0)) }
                return entries.contains { $0["RUN_STATUS"] == "succeeded" }
            })
            #expect(entries.allSatisfy { $0["WORKFLOW"] == "journaled" })
            #expect(entries.contains { $0["STEP"] == "speak" && $0["STEP_STATUS"] == "running" })
            #expect(entries.contains { $0["STEP"] == "speak" && $0["STEP_STATUS"] == "succeeded" })
            #expect(entries.contains { $0["STEP"] == "speak" && $0["MESSAGE"] == "line one" && $0["STREAM"] == "stdout" })
            #expect(entries.contains { $0["STEP"] == "speak" && $0["MESSAGE"] == "line two" && $0["STREAM"] == "stderr" })
        }
    }
}
