import Foundation
import OrchestratorProtocol
import Testing
import TestSupport

/// Secrets, secret parameters and runAs against the real daemon, database
/// and journal: the step gets the values; no document, journal entry, run
/// record or log line holds them; key files are checked at start and
/// rotated; steps run as the user asked for, and only one the config allows.
@Suite struct SecretTests {
    /// The SHA-256 of `value`, as `sha256sum` writes it for standard input.
    private static func sha256(_ value: String) async throws -> String {
        try await runCommand("/usr/bin/sha256sum", [], stdin: value).stdout
    }

    /// A fresh 256-bit key file (base64), mode 0600.
    private static func keyFile(_ dir: URL, _ name: String) throws -> String {
        let path = dir.appendingPathComponent(name).path
        let key = Data((0..<32).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()
        guard FileManager.default.createFile(atPath: path, contents: Data(key.utf8), attributes: [.posixPermissions: 0o600]) else {
            throw Failure("cannot write \(path)")
        }
        return path
    }

    /// Starts the daemon with `arguments` expecting it to refuse: its exit status and what it said.
    private static func refusedStart(_ daemon: DaemonProcess, _ arguments: [String]) async throws -> CommandResult {
        try await runCommand("/usr/bin/timeout", ["60", try Binaries.path("orchestratord")] + daemon.arguments + arguments)
    }

    private static func runId(_ daemon: DaemonProcess, workflow: String) async throws -> String {
        let page = try await daemon.connect().call("run.list", ["workflow": .string(workflow)])
        return try #require(page["items"]?.arrayValue?.first?["id"]?.stringValue)
    }

    @Test func aSecretAndASecretParameterReachTheStepAndAreStoredShownAndLoggedNowhere() async throws {
        guard FileManager.default.fileExists(atPath: "/run/systemd/journal/socket") else {
            throw Failure("no journald: scripts/test starts /lib/systemd/systemd-journald (as root)")
        }
        try await DaemonProcess.with(arguments: ["--log-target", "journal"]) { daemon in
            try await withTemporaryDirectory { dir in
                let secret = "pw-\(UUID().uuidString)"
                let enable = "en-\(UUID().uuidString)"
                let set = try await orchctl(daemon, ["secret", "set", "device-pw"], stdin: secret + "\n")
                #expect(set.status == 0, "\(set)")
                #expect(set.stdout.contains("$ORCH_SECRET_DEVICE_PW"), "\(set.stdout)")

                // It prints both, in its output and on its command line, and keeps their hashes.
                let script = """
                    printf %s "$ORCH_SECRET_DEVICE_PW" | sha256sum > '\(dir.path)/pw.sha'
                    printf %s "$1" | sha256sum > '\(dir.path)/enable.sha'
                    echo "pw=$ORCH_SECRET_DEVICE_PW"; echo "enable=$ORCH_PARAM_ENABLE" >&2; echo "arg=$2"
                    echo "split=$(printf %s "$ORCH_SECRET_DEVICE_PW" | cut -c1-10)"; printf %s "$ORCH_SECRET_DEVICE_PW" | cut -c11-
                    """
                _ = try await daemon.connect().call("workflow.create", [
                    "name": "login", "secretParams": ["enable"],
                    "steps": [[
                        "name": "login", "executionOrder": 0, "secrets": ["device-pw"],
                        "action": ["exec": ["/bin/sh", "-c", .string(script), "sh", "{{params.enable}}", "{{secrets.device-pw}}"]],
                    ]],
                ])
                // Asked for (here, read from standard input), never on the command line.
                let started = try await orchctl(daemon, ["run", "start", "login", "--secret-param", "enable", "--watch"], stdin: enable + "\n")
                #expect(started.status == 0, "\(started)")
                let id = try await Self.runId(daemon, workflow: "login")

                // The step received both values.
                #expect(try String(contentsOf: dir.appendingPathComponent("pw.sha"), encoding: .utf8) == (try await Self.sha256(secret)))
                #expect(try String(contentsOf: dir.appendingPathComponent("enable.sha"), encoding: .utf8) == (try await Self.sha256(enable)))

                // run get: masked params, the secrets named, the output masked.
                let shown = try await orchctl(daemon, ["-o", "json", "run", "get", id])
                #expect(shown.status == 0, "\(shown)")
                #expect(!shown.stdout.contains(secret) && !shown.stdout.contains(enable), "\(shown.stdout)")
                let run = try JSONCoding.parse(shown.stdout)
                #expect(run["params"]?["enable"] == "***")
                #expect(run["secrets"] == ["device-pw"])
                #expect(run["secretParams"] == ["enable"])
                let step = try #require(run.step("login"))
                #expect(step["stdout"]?.stringValue?.contains("pw=***") == true, "\(step)")
                #expect(step["stdout"]?.stringValue?.contains("arg=***") == true, "\(step)")
                #expect(step["stderr"]?.stringValue?.contains("enable=***") == true, "\(step)")
                let table = try await orchctl(daemon, ["run", "get", id])
                #expect(!table.stdout.contains(secret) && !table.stdout.contains(enable), "\(table.stdout)")

                // secret list: the name and who set it, never the value.
                let listed = try await orchctl(daemon, ["-o", "json", "secret", "list"])
                #expect(listed.status == 0 && listed.stdout.contains("device-pw") && !listed.stdout.contains(secret), "\(listed)")

                // No document of any collection holds either value.
                let texts = try await everyStoredText(uri: daemon.mongoURI, database: daemon.database)
                #expect(texts.contains { $0.collection == "secrets" })
                let leaks = texts.filter { $0.text.contains(secret) || $0.text.contains(enable) }.map(\.collection)
                #expect(leaks.isEmpty, "stored in clear in: \(leaks)")

                // The journal has the run (its output lines, its audit) but neither value.
                var entries = ""
                #expect(await eventually {
                    entries = (try? await runCommand("/usr/bin/journalctl", ["-o", "json", "--no-pager", "RUN_ID=\(id)"]).stdout) ?? ""
                    return entries.contains("pw=***") && entries.contains("enable=***") && entries.contains("succeeded")
                }, "\(entries)")
                let everything = try await runCommand("/usr/bin/journalctl", ["-o", "json", "--no-pager"])
                #expect(everything.stdout.contains("run.start by uid 0 succeeded"))
                #expect(!everything.stdout.contains(secret), "the secret is in the journal")
                #expect(!everything.stdout.contains(enable), "the secret parameter is in the journal")
                #expect(!daemon.log().contains(secret) && !daemon.log().contains(enable))
            }
        }
    }

    @Test func aMissingSecretRefusesTheRunAndBadSecretsAreRefusedEachWithItsReason() async throws {
        guard getuid() == 0 else { throw Failure("these tests switch users with setpriv and must run as root") }
        try await DaemonProcess.with(arguments: ["--socket-group", "nogroup", "--admin-group", "adm"]) { daemon in
            let c = try daemon.connect()
            _ = try await c.call("workflow.create", [
                "name": "needs-token",
                "steps": [["name": "call", "executionOrder": 0, "secrets": ["api-token"], "action": ["exec": ["/bin/true", "{{secrets.lab-pw}}"]]]],
            ])
            let refused = try await call(c, "run.start", ["workflow": "needs-token"])
            #expect(refused.errorCode == .validationFailed)
            let message = refused.failure?.message ?? ""
            #expect(message.contains("no secret named 'api-token'") && message.contains("no secret named 'lab-pw'"), "\(message)")
            #expect(message.contains("orchctl secret set api-token"), "\(message)")

            // Bad input, every problem named.
            let empty = try await call(c, "secret.set", ["name": "", "value": ""])
            #expect(empty.errorCode == .validationFailed)
            #expect(empty.failure?.message.contains("name:") == true && empty.failure?.message.contains("value: must not be empty") == true, "\(empty)")
            let huge = try await call(c, "secret.set", ["name": "big", "value": .string(String(repeating: "x", count: 64 * 1024 + 1))])
            #expect(huge.failure?.message.contains("at most 65536 bytes") == true, "\(huge)")
            let typed = try await call(c, "secret.set", ["name": "n", "value": 5])
            #expect(typed.errorCode == .invalidParams)
            let unknown = try await call(c, "secret.delete", ["name": "never-set"])
            #expect(unknown.errorCode == .notFound)
            let inCwd = try await call(c, "workflow.create", [
                "name": "bad-cwd",
                "steps": [["name": "s", "executionOrder": 0, "secrets": ["Bad Name"], "action": ["exec": ["/bin/true"], "cwd": "/tmp/{{secrets.x}}"]]],
            ])
            #expect(inCwd.errorCode == .validationFailed)
            #expect(inCwd.failure?.message.contains("cwd: a secret cannot be part of a working directory") == true, "\(inCwd)")
            #expect(inCwd.failure?.message.contains("'Bad Name'") == true, "\(inCwd)")

            // orchctl never takes a value from an argument; stdin must hold one.
            let noValue = try await orchctl(daemon, ["secret", "set", "api-token"], stdin: "")
            #expect(noValue.status == 64, "\(noValue)")
            #expect(noValue.stderr.contains("nothing was set"), "\(noValue.stderr)")
            let asArgument = try await orchctl(daemon, ["secret", "set", "api-token", "hunter2"], stdin: "x")
            #expect(asArgument.status == 64, "\(asArgument)")

            // Readers may neither set nor list secrets.
            let reader = (uid: UInt32(65534), gid: UInt32(65534), groups: [UInt32(65534)])
            let readerList = try await orchctl(daemon, ["secret", "list"], asUser: reader)
            #expect(readerList.status == 5, "\(readerList)")
            let readerSet = try await orchctl(daemon, ["secret", "set", "api-token"], stdin: "v", asUser: reader)
            #expect(readerSet.status == 5, "\(readerSet)")

            // Set, they let the run start; a multi-line value is kept as it is.
            #expect(try await orchctl(daemon, ["secret", "set", "api-token"], stdin: "line one\nline two\n").status == 0)
            #expect(try await orchctl(daemon, ["secret", "set", "lab-pw"], stdin: "pw\n").status == 0)
            let run = try await c.call("run.start", ["workflow": "needs-token"])
            #expect(run["secrets"] == ["api-token", "lab-pw"])
        }
    }

    @Test func aDaemonRefusesToStartWithAKeyFileItCannotUseNamingTheFile() async throws {
        let uri = try TestEnvironment.mongoURI()
        try await withTemporaryDirectory { dir in
            let daemon = DaemonProcess(directory: dir, mongoURI: uri)
            let missing = dir.appendingPathComponent("none.key").path
            let gone = try await Self.refusedStart(daemon, ["--secret-key-file", missing])
            #expect(gone.status == 78, "\(gone)")
            #expect(gone.stderr.contains("secret key file \(missing) does not exist"), "\(gone.stderr)")

            let open = try Self.keyFile(dir, "open.key")
            chmod(open, 0o644)
            let readable = try await Self.refusedStart(daemon, ["--secret-key-file", open])
            #expect(readable.status == 78, "\(readable)")
            #expect(readable.stderr.contains("secret key file \(open) is readable or writable by others (mode 0644)"), "\(readable.stderr)")

            let short = dir.appendingPathComponent("short.key").path
            _ = FileManager.default.createFile(atPath: short, contents: Data(Data(count: 16).base64EncodedString().utf8), attributes: [.posixPermissions: 0o600])
            let small = try await Self.refusedStart(daemon, ["--secret-key-file", short])
            #expect(small.status == 78, "\(small)")
            #expect(small.stderr.contains("secret key file \(short) does not hold a 256-bit key"), "\(small.stderr)")

            // A good key, but not the one the stored secrets were sealed with.
            try await daemon.start()
            #expect(try await orchctl(daemon, ["secret", "set", "enable"], stdin: "pw").status == 0)
            _ = await daemon.stop()
            let other = try Self.keyFile(dir, "other.key")
            let wrong = try await Self.refusedStart(daemon, ["--secret-key-file", other])
            #expect(wrong.status == 78, "\(wrong)")
            #expect(wrong.stderr.contains("secret key file \(other)") && wrong.stderr.contains("does not open 1 stored secrets"), "\(wrong.stderr)")
        }
    }

    @Test func rotatingTheKeyReencryptsTheSecretsAndKeepsThemUsable() async throws {
        let uri = try TestEnvironment.mongoURI()
        try await withTemporaryDirectory { dir in
            let (old, new) = (try Self.keyFile(dir, "old.key"), try Self.keyFile(dir, "new.key"))
            let daemon = DaemonProcess(directory: dir, mongoURI: uri, arguments: ["--secret-key-file", old])
            let value = "token-\(UUID().uuidString)"
            let digest = dir.appendingPathComponent("token.sha")
            try await daemon.start()
            #expect(try await orchctl(daemon, ["secret", "set", "api-token"], stdin: value).status == 0)
            _ = try await daemon.connect().call("workflow.create", [
                "name": "use-token",
                "steps": [["name": "call", "executionOrder": 0, "secrets": ["api-token"],
                           "action": ["exec": ["/bin/sh", "-c", .string("printf %s \"$ORCH_SECRET_API_TOKEN\" | sha256sum > '\(digest.path)'")]]]],
            ])
            let before = try await daemon.connect().call("secret.list")["items"]?.arrayValue?.first?["keyId"]
            _ = await daemon.stop()

            daemon.extraArguments = ["--secret-key-file", new, "--secret-previous-key-file", old]
            try await daemon.start()
            #expect(daemon.log().contains("re-encrypted 1 secrets under key"), "\(daemon.log())")
            let after = try await daemon.connect().call("secret.list")["items"]?.arrayValue?.first?["keyId"]
            #expect(after != nil && after != before)
            let run = try await orchctl(daemon, ["run", "start", "use-token", "--watch"])
            #expect(run.status == 0, "\(run)")
            #expect(try String(contentsOf: digest, encoding: .utf8) == (try await Self.sha256(value)))
            _ = await daemon.stop()

            // The new key alone is enough now; the old one opens nothing any more.
            try FileManager.default.removeItem(at: digest)
            daemon.extraArguments = ["--secret-key-file", new]
            try await daemon.start()
            #expect(try await orchctl(daemon, ["run", "start", "use-token", "--watch"]).status == 0)
            #expect(try String(contentsOf: digest, encoding: .utf8) == (try await Self.sha256(value)))
            _ = await daemon.stop()
            let stale = try await Self.refusedStart(daemon, ["--secret-key-file", old])
            #expect(stale.status == 78 && stale.stderr.contains("does not open 1 stored secrets"), "\(stale)")
        }
    }

    @Test func secretParametersAreKeptInMemoryOnlyAndAskedForAgainAfterARestart() async throws {
        try await DaemonProcess.with { daemon in
            try await withTemporaryDirectory { dir in
                let flag = dir.appendingPathComponent("flag")
                let digest = dir.appendingPathComponent("enable.sha")
                let value = "en-\(UUID().uuidString)"
                _ = try await daemon.connect().call("workflow.create", [
                    "name": "enable", "secretParams": ["enable"],
                    "steps": [
                        ["name": "hold", "executionOrder": 0, "idempotent": true,
                         "action": ["exec": ["/bin/sh", "-c", .string("while [ ! -e '\(flag.path)' ]; do sleep 0.05; done")]]],
                        ["name": "push", "executionOrder": 1,
                         "action": ["exec": ["/bin/sh", "-c", .string("printf %s \"$ORCH_PARAM_ENABLE\" | sha256sum > '\(digest.path)'")]]],
                    ],
                ])
                let started = try await daemon.connect().call("run.start", ["workflow": "enable", "params": ["enable": .string(value)]])
                let id = try #require(started["id"]?.stringValue)
                #expect(started["params"]?["enable"] == "***")
                #expect(await eventually { (try? await daemon.connect().call("run.get", ["id": .string(id)]))?.stepStatus("hold") == "running" })

                // The daemon dies: the value dies with it. The run ends, saying how to go on.
                _ = await daemon.stop(signal: SIGKILL)
                try await daemon.start()
                _ = FileManager.default.createFile(atPath: flag.path, contents: nil)
                var run: JSONValue = .null
                #expect(await eventually {
                    run = (try? await daemon.connect().call("run.get", ["id": .string(id)])) ?? .null
                    return run["status"] == "failed"
                }, "\(run)")
                let last = run["events"]?.arrayValue?.last?["message"]?.stringValue ?? ""
                #expect(last.contains("secret parameters (enable)") && last.contains("orchctl run resume \(id) -p enable=…"), "\(last)")
                #expect(!FileManager.default.fileExists(atPath: digest.path))

                let bare = try await orchctl(daemon, ["run", "resume", id])
                #expect(bare.status == 4, "\(bare)")
                #expect(bare.stderr.contains("give them again: orchctl run resume \(id) -p enable=…"), "\(bare.stderr)")
                let other = try await orchctl(daemon, ["run", "resume", id, "-p", "enable=x", "-p", "host=y"])
                #expect(other.status == 4 && other.stderr.contains("params.host: not a secret parameter"), "\(other)")
                let twice = try await orchctl(daemon, ["run", "resume", id, "-p", "enable=x", "--secret-param", "enable"], stdin: "y\n")
                #expect(twice.status == 64 && twice.stderr.contains("given both with -p and with --secret-param"), "\(twice)")
                let resumed = try await orchctl(daemon, ["run", "resume", id, "--secret-param", "enable", "--watch"], stdin: value + "\n")
                #expect(resumed.status == 0, "\(resumed)")
                #expect(try String(contentsOf: digest, encoding: .utf8) == (try await Self.sha256(value)))
                let texts = try await everyStoredText(uri: daemon.mongoURI, database: daemon.database)
                #expect(!texts.contains { $0.text.contains(value) })
                #expect(!daemon.log().contains(value))

                // Fleets and schedules cannot keep them: refused, saying what to use instead.
                _ = try await daemon.connect().call("target.create", ["name": "leaf1"])
                let fleet = try await call(daemon.connect(), "run.start", [
                    "workflow": "enable", "params": ["enable": "x"], "targets": ["names": ["leaf1"]],
                ])
                #expect(fleet.errorCode == .validationFailed && fleet.failure?.message.contains("orchctl secret set") == true, "\(fleet)")
                let scheduled = try await call(daemon.connect(), "schedule.create", [
                    "name": "nightly", "workflow": "enable", "cron": "0 2 * * *", "params": ["enable": "x"],
                ])
                #expect(scheduled.errorCode == .validationFailed, "\(scheduled)")
                #expect(scheduled.failure?.message.contains("enable is a secret parameter of workflow 'enable', which a schedule would keep in clear") == true, "\(scheduled)")
            }
        }
    }
}

/// runAs: a step becomes the user (and group) it names, with that user's
/// supplementary groups, only if the daemon's run-as-users allows it.
@Suite struct RunAsTests {
    /// `orch-netops` (its own primary group, and a member of `orch-backup`).
    private static func ensureAccounts() async throws {
        let script = """
            getent group orch-backup >/dev/null || groupadd --system orch-backup
            getent passwd orch-netops >/dev/null || useradd --system --user-group --home-dir /var/lib/orch-netops --no-create-home --shell /usr/sbin/nologin orch-netops
            usermod -a -G orch-backup orch-netops
            """
        let made = try await runCommand("/bin/sh", ["-c", script])
        guard made.status == 0 else { throw Failure("cannot create the test accounts: \(made)") }
    }

    private static func ids(_ name: String) throws -> (uid: String, gid: String, backup: String) {
        let user = try #require(getpwnam(name))
        return (String(user.pointee.pw_uid), String(user.pointee.pw_gid), String(try #require(groupID("orch-backup"))))
    }

    @Test func aStepRunsAsTheUserAndGroupItNamesAndOnlyAsAUserTheDaemonAllows() async throws {
        guard getuid() == 0 else { throw Failure("runAs needs the daemon to run as root") }
        try await Self.ensureAccounts()
        let (uid, gid, backup) = try Self.ids("orch-netops")
        try await DaemonProcess.with(arguments: ["--run-as-users", "orch-netops, orch-ghost"]) { daemon in
            try await withTemporaryDirectory { dir in
                chmod(dir.path, 0o777)
                let record = { (name: String) -> String in "echo \"$(id -u) $(id -g) $(id -G | tr ' ' '\\n' | sort -n | tr '\\n' ' ')$HOME $USER\" > '\(dir.path)/\(name)'" }
                let c = try daemon.connect()
                _ = try await c.call("workflow.create", [
                    "name": "least-privilege",
                    "steps": [
                        // In a directory the user may enter (the daemon's own, the package here, may be closed to it).
                        ["name": "as-netops", "executionOrder": 0, "runAs": ["user": "orch-netops"],
                         "action": ["exec": ["/bin/sh", "-c", .string(record("netops"))], "cwd": .string(dir.path)]],
                        ["name": "as-backup", "executionOrder": 1, "runAs": ["user": "orch-netops", "group": "orch-backup"],
                         "action": ["exec": ["/bin/sh", "-c", .string(record("backup") + "; cat /etc/shadow >/dev/null 2>&1 && echo yes > '\(dir.path)/shadow' || true")],
                                    "cwd": .string(dir.path)]],
                        ["name": "as-root", "executionOrder": 2, "action": ["exec": ["/bin/sh", "-c", .string(record("root"))]]],
                    ],
                ])
                let run = try await c.callCollecting("run.watch", ["id": .string(try await c.call("run.start", ["workflow": "least-privilege"])["id"]?.stringValue ?? "")]).result
                #expect(run["status"] == "succeeded", "\(run)")
                let groups = [gid, backup].sorted { Int($0)! < Int($1)! }.joined(separator: " ")
                #expect(fileLines(dir.appendingPathComponent("netops")) == ["\(uid) \(gid) \(groups) /var/lib/orch-netops orch-netops"])
                #expect(fileLines(dir.appendingPathComponent("backup")) == ["\(uid) \(backup) \(backup) /var/lib/orch-netops orch-netops"])
                #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("shadow").path), "a step run as orch-netops read /etc/shadow")
                #expect(fileLines(dir.appendingPathComponent("root")).first?.hasPrefix("0 0 ") == true)

                // A directory the user may not enter: the step does not start there as root either; it fails, saying why.
                let closed = dir.appendingPathComponent("closed")
                try FileManager.default.createDirectory(at: closed, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
                _ = try await c.call("workflow.create", [
                    "name": "closed-door",
                    "steps": [["name": "enter", "executionOrder": 0, "runAs": ["user": "orch-netops"],
                               "action": ["exec": ["/bin/true"], "cwd": .string(closed.path)]]],
                ])
                let refusedRun = try await c.callCollecting("run.watch", ["id": .string(try await c.call("run.start", ["workflow": "closed-door"])["id"]?.stringValue ?? "")]).result
                #expect(refusedRun["status"] == "failed")
                #expect(refusedRun.step("enter")?["error"]?.stringValue?.contains("as user orch-netops in \(closed.path): Permission denied") == true, "\(refusedRun)")

                // A user outside run-as-users, one that does not exist, and a group that does not: refused, each named.
                let refused = try await call(c, "workflow.create", [
                    "name": "too-much",
                    "steps": [
                        ["name": "a", "executionOrder": 0, "runAs": ["user": "nobody"], "action": ["exec": ["/bin/true"]]],
                        ["name": "b", "executionOrder": 0, "runAs": ["user": "orch-ghost"], "action": ["exec": ["/bin/true"]]],
                        ["name": "c", "executionOrder": 0, "runAs": ["user": "orch-netops", "group": "orch-nogroup"], "action": ["exec": ["/bin/true"]]],
                        ["name": "d", "executionOrder": 0, "runAs": ["user": "Root!"], "action": ["exec": ["/bin/true"]]],
                        ["name": "e", "executionOrder": 0, "runAs": ["user": "orch-netops", "group": "shadow"], "action": ["exec": ["/bin/true"]]],
                    ],
                ])
                #expect(refused.errorCode == .validationFailed)
                let message = refused.failure?.message ?? ""
                #expect(message.contains("may not run as 'nobody': not in this daemon's run-as-users (it allows orch-ghost, orch-netops)"), "\(message)")
                #expect(message.contains("no user 'orch-ghost' on this host"), "\(message)")
                #expect(message.contains("no group 'orch-nogroup' on this host"), "\(message)")
                #expect(message.contains("'Root!' is not a user name"), "\(message)")
                #expect(message.contains("user 'orch-netops' is not a member of group 'shadow'"), "\(message)")
            }
        }
        // A daemon that allows nobody refuses such a run at its start.
        try await DaemonProcess.with { daemon in
            let c = try daemon.connect()
            let refused = try await call(c, "workflow.create", [
                "name": "as-netops", "steps": [["name": "a", "executionOrder": 0, "runAs": ["user": "orch-netops"], "action": ["exec": ["/bin/true"]]]],
            ])
            #expect(refused.failure?.message.contains("(it allows none)") == true, "\(refused)")
        }
    }
}
