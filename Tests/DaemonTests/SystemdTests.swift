import Foundation
import OrchestratorClient
import OrchestratorProtocol
import Testing
import TestSupport

/// sd_notify readiness, status, watchdog and stopping on a datagram socket
/// given as NOTIFY_SOCKET; socket activation through systemd-socket-activate;
/// journal fields read back from a real journald.
@Suite struct SystemdTests {
    @Test func readyStatusWatchdogAndStoppingAreNotified() async throws {
        try await withNotifiedDaemon(environment: ["WATCHDOG_USEC": "400000"]) { daemon, notify in
            try await daemon.start()
            #expect(await notify.waitFor("READY=1"))
            let status = notify.assignments.first { $0.hasPrefix("STATUS=serving on") }
            #expect(status?.contains(daemon.socketPath) == true, "got \(notify.assignments)")
            // READY=1 comes only after the database answered: the status before says so.
            #expect(notify.assignments.contains("STATUS=connecting to MongoDB"))
            // Several watchdog periods pass with pings.
            #expect(await eventually { notify.assignments.filter { $0 == "WATCHDOG=1" }.count >= 5 })

            let exit = await daemon.stop(signal: SIGTERM)
            #expect(exit == 0, "log: \(daemon.log())")
            #expect(notify.assignments.contains("STOPPING=1"))
            #expect(!FileManager.default.fileExists(atPath: daemon.socketPath))
        }
    }

    @Test func withoutWatchdogUsecNoPingsAreSent() async throws {
        try await withNotifiedDaemon { daemon, notify in
            try await daemon.start()
            #expect(await notify.waitFor("READY=1"))
            try await Task.sleep(for: .seconds(1))
            #expect(!notify.assignments.contains("WATCHDOG=1"))
            #expect(await daemon.stop() == 0)
        }
    }

    @Test func aSocketActivatedDaemonServesTheInheritedSocket() async throws {
        let uri = try TestEnvironment.mongoURI()
        try await withTemporaryDirectory { dir in
            let notify = try NotifyListener(directory: dir)
            defer { notify.stop() }
            let socketPath = dir.appendingPathComponent("activated.sock").path
            let daemon = DaemonProcess(directory: dir, mongoURI: uri, environment: ["NOTIFY_SOCKET": notify.path])
            try await daemon.start(
                waitUntilServing: false, executable: "/usr/bin/systemd-socket-activate",
                // It hands the child only its LISTEN_* variables and what -E names.
                argumentsOverride: ["-l", socketPath, "-E", "NOTIFY_SOCKET=\(notify.path)", "-E", "MONGOC_DISABLE_SHM=1"]
                    + Self.sanitizerOptions.flatMap { ["-E", $0] } + [try Binaries.path("orchestratord")]
                    + daemon.arguments.map { $0 == daemon.socketPath ? socketPath : $0 })
            // systemd-socket-activate listens at once; the daemon starts on the first connection.
            #expect(await eventually { FileManager.default.fileExists(atPath: socketPath) })
            let c = try TestConnection(path: socketPath)
            let status = try await c.call("daemon.status")
            #expect(status["mongodb"] == "ok")
            #expect(await notify.waitFor("READY=1"))
            #expect(await eventually { daemon.log().contains("ACTIVATED=true") }, "log: \(daemon.log())")
            // The daemon bound nothing itself at its configured path.
            #expect(!FileManager.default.fileExists(atPath: daemon.socketPath))
            let exitStatus = await daemon.stop()
            #expect(exitStatus == 0, "log: \(daemon.log())")
        }
    }

    /// Under scripts/sanitize the daemon must get the sanitizer's options too.
    static var sanitizerOptions: [String] {
        ["ASAN_OPTIONS", "TSAN_OPTIONS"].compactMap { key in ProcessInfo.processInfo.environment[key].map { "\(key)=\($0)" } }
    }

    @Test func mutationsAreInTheJournalWithStructuredFields() async throws {
        guard FileManager.default.fileExists(atPath: "/run/systemd/journal/socket") else {
            throw Failure("no journald: scripts/test starts /lib/systemd/systemd-journald (as root); start it by hand: mkdir -p /run/systemd/journal && /lib/systemd/systemd-journald &")
        }
        try await DaemonProcess.with(arguments: ["--log-target", "journal"]) { daemon in
            let name = "journal-\(UInt32.random(in: 0...UInt32.max))"
            _ = try await daemon.connect().call("workflow.create", ["name": .string(name)])
            var entries: [JSONValue] = []
            let found = await eventually {
                let result = try? await runCommand("/usr/bin/journalctl", ["-o", "json", "--no-pager", "WORKFLOW=\(name)"])
                entries = (result?.stdout ?? "").split(separator: "\n").compactMap { try? JSONCoding.parse(String($0)) }
                return !entries.isEmpty
            }
            #expect(found, "no journal entry with WORKFLOW=\(name)")
            let entry = try #require(entries.first)
            #expect(entry["RPC_METHOD"] == "workflow.create")
            #expect(entry["PEER_UID"] == .string(String(getuid())))
            #expect(entry["SYSLOG_IDENTIFIER"] == "orchestratord")
            #expect(entry["MESSAGE"]?.stringValue?.contains("workflow.create") == true)
            #expect(entry["_PID"] == .string(String(daemon.pid ?? 0)))
        }
    }

    @Test func theShippedUnitsPassSystemdAnalyzeVerify() async throws {
        try await withTemporaryDirectory { dir in
            let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            let stage = dir.appendingPathComponent("stage").path
            let install = try await runCommand(
                root.appendingPathComponent("scripts/install").path, ["--destdir", stage, "--bin-dir", Binaries.directory.path])
            #expect(install.status == 0, "\(install)")
            // verify needs ExecStart to exist on this machine: point it into the stage.
            var units: [String] = []
            for unit in ["orchestratord.service", "orchestratord.socket"] {
                let text = try String(contentsOfFile: "\(stage)/etc/systemd/system/\(unit)", encoding: .utf8)
                let target = dir.appendingPathComponent(unit)
                try text.replacingOccurrences(of: "/usr/local/bin/orchestratord", with: "\(stage)/usr/local/bin/orchestratord")
                    .write(to: target, atomically: true, encoding: .utf8)
                units.append(target.path)
            }
            // The example timer and its service, with orchctl where this machine has it.
            for unit in ["vlan-rollout-weekly.service", "vlan-rollout-weekly.timer"] {
                let text = try String(contentsOfFile: root.appendingPathComponent("systemd/examples/\(unit)").path, encoding: .utf8)
                let target = dir.appendingPathComponent(unit)
                try text.replacingOccurrences(of: "/usr/local/bin/orchctl", with: Binaries.directory.appendingPathComponent("orchctl").path)
                    .write(to: target, atomically: true, encoding: .utf8)
                units.append(target.path)
            }
            let verify = try await runCommand("/usr/bin/systemd-analyze", ["verify"] + units)
            #expect(verify.status == 0, "\(verify)")
            #expect(verify.stderr.isEmpty, "\(verify)")
            #expect(FileManager.default.fileExists(atPath: "\(stage)/etc/orchestrator/orchestratord.conf"))
        }
    }
}
