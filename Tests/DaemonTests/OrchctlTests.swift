import Foundation
import OrchestratorModel
import OrchestratorProtocol
import Testing
import TestSupport

/// orchctl as an operator uses it: the real binary against the real daemon.
@Suite struct OrchctlTests {
    @Test func workflowAndStepCommandsWorkEndToEnd() async throws {
        try await DaemonProcess.with { daemon in
            #expect(try await orchctl(daemon, ["workflow", "create", "vlan-rollout", "--description", "VLAN 120"]).status == 0)
            let add = try await orchctl(daemon, ["step", "add", "vlan-rollout", "backup", "--order", "0", "--timeout", "30", "--", "/bin/echo", "saving {{params.switch}}"])
            #expect(add.status == 0, "\(add)")
            #expect(try await orchctl(daemon, ["step", "add", "vlan-rollout", "push", "--order", "1", "--retries", "2", "--idempotent", "--env", "VLAN=120", "--", "/bin/true"]).status == 0)

            let get = try await orchctl(daemon, ["workflow", "get", "vlan-rollout"])
            #expect(get.status == 0)
            #expect(get.stdout.contains("VLAN 120"))
            #expect(get.stdout.contains("/bin/echo 'saving {{params.switch}}'"))
            #expect(get.stdout.contains("idempotent"))

            let update = try await orchctl(daemon, ["step", "update", "vlan-rollout", "push", "--order", "2", "--no-timeout", "--name", "push-vlan"])
            #expect(update.status == 0, "\(update)")
            let list = try await orchctl(daemon, ["step", "list", "vlan-rollout"])
            let rows = list.stdout.split(separator: "\n").dropFirst().map { $0.split(separator: " ").first.map(String.init) }
            #expect(rows == ["0", "2"])
            #expect(list.stdout.contains("push-vlan"))
            let stepGet = try await orchctl(daemon, ["step", "get", "vlan-rollout", "push-vlan"])
            #expect(stepGet.stdout.contains("VLAN=120"))

            #expect(try await orchctl(daemon, ["workflow", "update", "vlan-rollout", "--description", "VLAN 121"]).status == 0)
            #expect(try await orchctl(daemon, ["step", "delete", "vlan-rollout", "backup"]).status == 0)
            let listed = try await orchctl(daemon, ["workflow", "list"])
            #expect(listed.stdout.contains("vlan-rollout  1"))
            #expect(try await orchctl(daemon, ["workflow", "delete", "vlan-rollout"]).status == 0)
            #expect(try await orchctl(daemon, ["workflow", "list"]).stdout.contains("No workflows"))
        }
    }

    @Test func jsonOutputIsExactlyTheProtocolResult() async throws {
        try await DaemonProcess.with { daemon in
            _ = try await orchctl(daemon, ["workflow", "create", "json-out"])
            // Global options before the command, as the spec writes them.
            let cli = try await orchctl(daemon, ["--socket", daemon.socketPath, "-o", "json", "workflow", "get", "json-out"])
            #expect(cli.status == 0, "\(cli)")
            let raw = try await daemon.connect().call("workflow.get", ["name": "json-out"])
            #expect(try JSONCoding.parse(cli.stdout) == raw)
            let status = try await orchctl(daemon, ["status", "-o", "json"])
            #expect(try JSONCoding.parse(status.stdout)["mongodb"] == "ok")
        }
    }

    @Test func exitCodesFollowTheSpec() async throws {
        try await DaemonProcess.with { daemon in
            _ = try await orchctl(daemon, ["workflow", "create", "exists"])
            let conflict = try await orchctl(daemon, ["workflow", "create", "exists"])
            #expect(conflict.status == 4)
            #expect(conflict.stderr.contains("already exists"))
            #expect(try await orchctl(daemon, ["workflow", "get", "missing"]).status == 3)
            #expect(try await orchctl(daemon, ["step", "get", "exists", "missing"]).status == 3)
            // A name that breaks the rules is refused as the daemon refuses values (4); a command line that cannot be read is 64.
            #expect(try await orchctl(daemon, ["workflow", "create", "Not Valid"]).status == 4)
            #expect(try await orchctl(daemon, ["step", "add", "exists", "s", "--order", "0"]).status == 64)
            #expect(try await orchctl(daemon, ["frobnicate"]).status == 64)

            let invalid = try await orchctl(daemon, ["step", "add", "exists", "s", "--order=-1", "--retries", "500", "--cwd", "relative", "--", "/bin/true"])
            #expect(invalid.status == 4, "\(invalid)")
            let lines = invalid.stderr.split(separator: "\n").map(String.init)
            #expect(lines.first == "orchctl: validation failed:")
            #expect(lines.contains("  step.executionOrder: must be between 0 and 1000000"))
            #expect(lines.contains { $0.hasPrefix("  step.retries:") })
            #expect(lines.contains { $0.hasPrefix("  step.action.cwd:") })

            // A negative number is a value, refused by the rule, not a missing value.
            let negative = try await orchctl(daemon, ["step", "add", "exists", "s", "--order", "-1", "--", "/bin/true"])
            #expect(negative.status == 4, "\(negative)")
            #expect(negative.stderr.contains("step.executionOrder: must be between 0 and 1000000"), "\(negative)")
            // Runs of a workflow that does not exist: not found, not "No runs."
            let typo = try await orchctl(daemon, ["run", "list", "exsits"])
            #expect(typo.status == 3, "\(typo)")
            #expect(typo.stderr.contains("exsits"))
            #expect(try await orchctl(daemon, ["run", "list", "exists"]).status == 0)

            let gone = try await runCommand(try Binaries.path("orchctl"), ["--socket", "/nonexistent/orch.sock", "workflow", "list"])
            #expect(gone.status == 69)
            #expect(gone.stderr.contains("/nonexistent/orch.sock"))
            #expect(gone.stderr.split(separator: "\n").count == 1)
        }
    }

    /// `-o json run start --watch`: one JSON object per line, each event
    /// as the protocol's notification carries it, then the run (what jq reads).
    @Test func aWatchedRunInJSONIsOneObjectPerLine() async throws {
        try await DaemonProcess.with { daemon in
            _ = try await orchctl(daemon, ["workflow", "create", "two"])
            _ = try await orchctl(daemon, ["step", "add", "two", "ok", "--order", "0", "--", "/bin/true"])
            _ = try await orchctl(daemon, ["step", "add", "two", "bad", "--order", "1", "--", "/bin/sh", "-c", "exit 3"])
            let watched = try await orchctl(daemon, ["-o", "json", "run", "start", "two", "--watch"])
            #expect(watched.status == 1, "\(watched)")
            let objects = try watched.stdout.split(separator: "\n").map { line in
                try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "not one JSON object: \(line)")
            }
            let run = try #require(objects.last)
            #expect(run["status"] as? String == "failed")
            let events = objects.dropLast()
            #expect(events.allSatisfy { $0["jsonrpc"] == nil && $0["runId"] as? String == run["id"] as? String })
            #expect(events.contains { $0["step"] as? String == "bad" && $0["status"] as? String == "failed" && $0["exitCode"] as? Int == 3 })
            #expect(events.last?["status"] as? String == "failed" && events.last?["step"] as? String == nil)
        }
    }

    /// A run is named by its id, by the start of it when no other run's id
    /// starts so, or by `last` (of a workflow); an ambiguous start lists the
    /// runs it could be.
    @Test func theStartOfAnIdOrLastNamesARun() async throws {
        try await DaemonProcess.with { daemon in
            for workflow in ["a", "b"] {
                _ = try await orchctl(daemon, ["workflow", "create", workflow])
                _ = try await orchctl(daemon, ["step", "add", workflow, "ok", "--order", "0", "--", "/bin/echo", "from \(workflow)"])
            }
            func start(_ workflow: String) async throws -> String {
                let started = try await orchctl(daemon, ["-o", "json", "run", "start", workflow])
                let run = try #require(try JSONSerialization.jsonObject(with: Data(started.stdout.utf8)) as? [String: Any])
                let id = try #require(run["id"] as? String)
                #expect(try await orchctl(daemon, ["run", "watch", id]).status == 0)
                return id
            }
            let first = try await start("a")
            let second = try await start("b")

            func shown(_ arguments: [String]) async throws -> (status: Int32, id: String?, stderr: String) {
                let result = try await orchctl(daemon, ["run", "get"] + arguments)
                let id = result.stdout.split(separator: "\n").first { $0.hasPrefix("Run:") }?.split(separator: " ").last.map(String.init)
                return (result.status, id, result.stderr)
            }
            #expect(try await shown(["last"]).id == second)
            #expect(try await shown(["last", "a"]).id == first)
            // Ids made in the same second by one daemon differ only at the end: one character past what they share is enough.
            let shared = zip(first, second).prefix { $0 == $1 }.count
            #expect(try await shown([String(first.prefix(max(shared + 1, 4)))]).id == first)
            #expect(try await shown([String(second.prefix(max(shared + 1, 4))).uppercased()]).id == second)
            // What both start with names neither, and both are listed.
            let ambiguous = try await shown([String(first.prefix(max(shared, 4)))])
            #expect(ambiguous.status == 4 && ambiguous.stderr.contains(first) && ambiguous.stderr.contains(second), "\(ambiguous)")
            let unknown = try await shown(["ffff"])
            #expect(unknown.status == 3 && unknown.stderr.contains("no run id starts with 'ffff'"), "\(unknown)")
            #expect(try await shown(["abc"]).status == 4)
            #expect(try await shown(["last", "nosuch"]).status == 3)
            #expect(try await shown([first, "a"]).status == 64)
            let logs = try await orchctl(daemon, ["run", "logs", "last"])
            #expect(logs.status == 0 && logs.stdout.contains("from b"), "\(logs)")
            let refused = try await call(try daemon.connect(), "run.resolve", ["ref": .string(first), "workflow": "a"])
            #expect(refused.errorCode == .validationFailed)
        }
    }

    /// Tables say how long ago and how long; `--since` takes a duration, a
    /// date or a time, and the daemon filters by it.
    @Test func runsAreListedSinceATimeWithAgesAndDurations() async throws {
        try await DaemonProcess.with { daemon in
            _ = try await orchctl(daemon, ["workflow", "create", "nap"])
            _ = try await orchctl(daemon, ["step", "add", "nap", "doze", "--order", "0", "--", "/bin/sleep", "1.2"])
            #expect(try await orchctl(daemon, ["run", "start", "nap", "--watch"]).status == 0)
            // What the tables must say, from the times the run recorded (however long the machine took).
            let run = try #require(try JSONSerialization.jsonObject(with: Data(try await orchctl(daemon, ["-o", "json", "run", "get", "last"]).stdout.utf8)) as? [String: Any])
            func seconds(_ from: Any?, _ to: Any?) throws -> Int {
                let (start, end) = (try #require((from as? String).flatMap(RFC3339.parse)), try #require((to as? String).flatMap(RFC3339.parse)))
                return Int(end.timeIntervalSince(start).rounded())
            }
            let step = try #require((run["steps"] as? [[String: Any]])?.first)
            let (runTook, stepTook) = (try seconds(run["startedAt"], run["finishedAt"]), try seconds(step["startedAt"], step["finishedAt"]))
            #expect(stepTook >= 1)

            let recent = try await orchctl(daemon, ["run", "list", "--since", "1h"])
            let row = try #require(recent.stdout.split(separator: "\n").first { $0.contains("nap") }, "\(recent)")
            #expect(row.contains("s ago") && row.hasSuffix(" \(runTook)s"), "\(row)")
            let future = try await orchctl(daemon, ["run", "list", "--since", "2099-01-01"])
            #expect(future.status == 0 && future.stdout.hasPrefix("No runs since 2099-01-0"), "\(future)")
            let today = try await orchctl(daemon, ["-o", "json", "run", "list", "--since", RFC3339.format(Date().addingTimeInterval(-600))])
            let page = try #require(try JSONSerialization.jsonObject(with: Data(today.stdout.utf8)) as? [String: Any])
            #expect((page["items"] as? [[String: Any]])?.map { $0["workflowName"] as? String } == ["nap"], "\(today)")
            let bad = try await orchctl(daemon, ["run", "list", "--since", "yesterday"])
            #expect(bad.status == 4 && bad.stderr.contains("is not a time"), "\(bad)")

            let shown = try await orchctl(daemon, ["run", "get", "last"])
            #expect(shown.stdout.contains("s ago)") && shown.stdout.contains("Took:"), "\(shown)")
            let doze = try #require(shown.stdout.split(separator: "\n").first { $0.contains("doze") })
            #expect(doze.contains(" \(stepTook)s "), "the step's duration: \(doze)")
        }
    }

    /// Statuses in colour on a terminal only: not in a pipe, not with
    /// NO_COLOR set; the columns stay aligned with the colours in.
    @Test func coloursOnATerminalOnlyAndNeverWithNoColor() async throws {
        try await DaemonProcess.with { daemon in
            _ = try await orchctl(daemon, ["workflow", "create", "tint"])
            _ = try await orchctl(daemon, ["step", "add", "tint", "ok", "--order", "0", "--", "/bin/true"])
            #expect(try await orchctl(daemon, ["run", "start", "tint", "--watch"]).status == 0)
            func onATerminal(_ extra: [String: String] = [:]) async throws -> String {
                var env = ProcessInfo.processInfo.environment
                env["ORCHCTL_SOCKET"] = daemon.socketPath
                env["TERM"] = "xterm"
                env["NO_COLOR"] = nil
                env.merge(extra) { _, new in new }
                return try await runCommand("/usr/bin/script", ["-qec", "'\(try Binaries.path("orchctl"))' run list", "/dev/null"], environment: env).stdout
            }
            let coloured = try await onATerminal()
            #expect(coloured.contains("\u{1B}[32msucceeded\u{1B}[0m"), "\(coloured)")
            let plain = coloured.replacingOccurrences(of: "\u{1B}\\[[0-9;]*m", with: "", options: .regularExpression).split(whereSeparator: \.isNewline)
            let header = try #require(plain.first { $0.hasPrefix("ID") }), row = try #require(plain.first { $0.contains("tint") })
            #expect(header.distance(from: header.startIndex, to: try #require(header.range(of: "STEPS")).lowerBound)
                == row.distance(from: row.startIndex, to: try #require(row.range(of: "1/1")).lowerBound), "\(plain)")
            #expect(!(try await onATerminal(["NO_COLOR": "1"])).contains("\u{1B}["))
            #expect(!(try await orchctl(daemon, ["run", "list"])).stdout.contains("\u{1B}["))
        }
    }

    /// The hint for the next page repeats the filters: following it lists
    /// the rest of the same runs, not everything.
    @Test func theNextPageHintKeepsTheFilters() async throws {
        try await DaemonProcess.with { daemon in
            for workflow in ["a", "b"] {
                _ = try await orchctl(daemon, ["workflow", "create", workflow])
                _ = try await orchctl(daemon, ["step", "add", workflow, "ok", "--order", "0", "--", "/bin/true"])
            }
            for workflow in ["a", "b", "a", "a", "b"] { #expect(try await orchctl(daemon, ["run", "start", workflow, "--watch"]).status == 0) }
            let first = try await orchctl(daemon, ["run", "list", "a", "--status", "succeeded", "--limit", "2"])
            let hint = try #require(first.stdout.split(separator: "\n").first { $0.hasPrefix("More: ") }, "\(first)")
            let words = hint.dropFirst("More: orchctl ".count).split(separator: " ").map(String.init)
            #expect(Array(words.prefix(7)) == ["run", "list", "a", "--status", "succeeded", "--limit", "2"], "\(hint)")
            let rest = try await orchctl(daemon, ["-o", "json"] + words)
            #expect(rest.status == 0, "\(rest)")
            let page = try #require(try JSONSerialization.jsonObject(with: Data(rest.stdout.utf8)) as? [String: Any])
            let items = try #require(page["items"] as? [[String: Any]])
            #expect(items.count == 1 && items.allSatisfy { $0["workflowName"] as? String == "a" }, "\(items)")
        }
    }

    /// `-o yaml` is the protocol's result as YAML: read back by another YAML
    /// reader (PyYAML) it is exactly what `-o json` prints, strings that look
    /// like numbers, booleans or null included; a watched run is one document per event, then the run.
    @Test func yamlOutputReadsBackAsTheJSONResult() async throws {
        try await DaemonProcess.with { daemon in
            _ = try await orchctl(daemon, ["workflow", "create", "tricky", "--description", "yes"])
            _ = try await orchctl(daemon, ["step", "add", "tricky", "s", "--order", "0", "--env", "A=null", "--env", "B=", "--", "/bin/echo", "1", "true", "0x10", "a: b"])
            let python = try TestEnvironment.python()
            let toJSON = "import sys, yaml, json; print(json.dumps(list(yaml.safe_load_all(sys.stdin)), sort_keys=True))"
            func canonical(_ json: String) throws -> Data {
                try JSONSerialization.data(withJSONObject: try JSONSerialization.jsonObject(with: Data(json.utf8)), options: [.sortedKeys])
            }
            let asJSON = try await orchctl(daemon, ["-o", "json", "workflow", "get", "tricky"])
            let asYAML = try await orchctl(daemon, ["-o", "yaml", "workflow", "get", "tricky"])
            #expect(asYAML.status == 0 && asYAML.stdout.hasPrefix("---\n"), "\(asYAML)")
            let read = try await runCommand(python, ["-c", toJSON], stdin: asYAML.stdout)
            #expect(read.status == 0, "\(read)")
            #expect(try canonical(read.stdout) == canonical("[" + asJSON.stdout + "]"), "\(asYAML.stdout)")

            let watched = try await orchctl(daemon, ["-o", "yaml", "run", "start", "tricky", "--watch"])
            #expect(watched.status == 0, "\(watched)")
            let documents = try await runCommand(python, ["-c", toJSON], stdin: watched.stdout)
            let items = try #require(try JSONSerialization.jsonObject(with: Data(documents.stdout.utf8)) as? [[String: Any]], "\(documents)")
            #expect(items.last?["status"] as? String == "succeeded")
            #expect(items.dropLast().allSatisfy { $0["sequence"] is Int }, "\(items)")
        }
    }

    /// `workflow get` says which parameters a run needs, before a run is refused for one.
    @Test func workflowGetShowsTheParametersARunNeeds() async throws {
        try await DaemonProcess.with { daemon in
            _ = try await orchctl(daemon, ["workflow", "create", "vlan"])
            _ = try await orchctl(daemon, ["step", "add", "vlan", "push", "--order", "0", "--env", "V={{params.vlan}}", "--", "/bin/echo", "{{params.host}}"])
            _ = try await orchctl(daemon, ["step", "add", "vlan", "check", "--order", "1", "--", "/bin/echo", "{{params.host}}"])
            let shown = try await orchctl(daemon, ["workflow", "get", "vlan"])
            #expect(shown.stdout.contains("host vlan (its {{params.*}}: each run needs -p NAME=VALUE)"), "\(shown.stdout)")
            _ = try await orchctl(daemon, ["workflow", "create", "plain"])
            #expect(try await !orchctl(daemon, ["workflow", "get", "plain"]).stdout.contains("Parameters"))
        }
    }

    /// `run cancel --wait` returns once the run has ended, its step stopped.
    @Test func cancelWaitReturnsOnceTheRunHasEnded() async throws {
        try await DaemonProcess.with { daemon in
            _ = try await orchctl(daemon, ["workflow", "create", "slow"])
            _ = try await orchctl(daemon, ["step", "add", "slow", "nap", "--order", "0", "--", "/bin/sleep", "60"])
            let twice = try await orchctl(daemon, ["run", "start", "slow", "-p", "a=1", "-p", "a=2"])
            #expect(twice.status == 64 && twice.stderr.contains("'a' twice"), "\(twice)")
            let started = try await orchctl(daemon, ["-o", "json", "run", "start", "slow"])
            let run = try #require(try JSONSerialization.jsonObject(with: Data(started.stdout.utf8)) as? [String: Any])
            let id = try #require(run["id"] as? String)
            // Once its step runs: a cancel then has a process to stop.
            for _ in 0..<100 {
                let got = try await orchctl(daemon, ["-o", "json", "run", "get", id])
                if got.stdout.contains("\"running\""), got.stdout.contains("\"startedAt\"") { break }
                try await Task.sleep(for: .milliseconds(50))
            }
            let cancelled = try await orchctl(daemon, ["run", "cancel", id, "--wait"])
            #expect(cancelled.status == 0, "\(cancelled)")
            let after = try await orchctl(daemon, ["-o", "json", "run", "get", id])
            let ended = try #require(try JSONSerialization.jsonObject(with: Data(after.stdout.utf8)) as? [String: Any])
            #expect(ended["status"] as? String == "cancelled")
            #expect(((ended["steps"] as? [[String: Any]])?.first?["status"] as? String) == "cancelled", "\(after.stdout)")
            // Already ended: nothing to wait for; exit 0 as it ended cancelled (without --wait, a conflict).
            let again = try await orchctl(daemon, ["run", "cancel", id, "--wait"])
            #expect(again.status == 0 && again.stdout.contains("was cancelled already"), "\(again)")
            #expect(try await orchctl(daemon, ["run", "cancel", id]).status == 4)
        }
    }

    @Test func applyCreatesThenLeavesAloneThenUpdates() async throws {
        try await DaemonProcess.with { daemon in
            try await withTemporaryDirectory { dir in
                let file = dir.appendingPathComponent("health.yaml")
                let yaml = """
                    name: iface-health
                    description: interface health check
                    steps:
                      - name: link
                        executionOrder: 0
                        retries: 3
                        idempotent: yes
                        action:
                          exec: [/bin/sh, -c, 'test -n "$ORCH_PARAM_IFACE"', 1, yes]
                          env: {COUNT: 3}
                      - name: report
                        executionOrder: 1
                        action: {exec: [/bin/echo, done]}
                    """
                try yaml.write(to: file, atomically: true, encoding: .utf8)
                let first = try await orchctl(daemon, ["apply", "-f", file.path])
                #expect(first.status == 0, "\(first)")
                #expect(first.stdout.contains("created"))
                let stored = try await daemon.connect().call("workflow.get", ["name": "iface-health"])
                // YAML scalars inside a command stay the text that was written.
                #expect(stored["steps"]?.arrayValue?.first?["action"]?["exec"] == ["/bin/sh", "-c", "test -n \"$ORCH_PARAM_IFACE\"", "1", "yes"])
                #expect(stored["steps"]?.arrayValue?.first?["action"]?["env"] == ["COUNT": "3"])
                #expect(stored["steps"]?.arrayValue?.first?["idempotent"] == true)

                let again = try await orchctl(daemon, ["apply", "-f", file.path])
                #expect(again.stdout.contains("unchanged"), "\(again)")
                #expect(try await daemon.connect().call("workflow.get", ["name": "iface-health"])["version"] == 1)

                try yaml.replacingOccurrences(of: "retries: 3", with: "retries: 5").write(to: file, atomically: true, encoding: .utf8)
                let changed = try await orchctl(daemon, ["apply", "-f", file.path])
                #expect(changed.stdout.contains("updated"), "\(changed)")
                let after = try await daemon.connect().call("workflow.get", ["name": "iface-health"])
                #expect(after["version"] == 2)
                #expect(after["steps"]?.arrayValue?.first?["retries"] == 5)

                // The JSON of workflow.get applies back unchanged.
                let json = try await orchctl(daemon, ["-o", "json", "workflow", "get", "iface-health"])
                let fromStdin = try await orchctl(daemon, ["apply", "-f", "-"], stdin: json.stdout)
                #expect(fromStdin.stdout.contains("unchanged"), "\(fromStdin)")
                // And changed, it updates (its read-only fields, updatedBy among them, are ignored).
                let edited = json.stdout.replacingOccurrences(of: "\"interface health check\"", with: "\"edited\"")
                let update = try await orchctl(daemon, ["apply", "-f", "-"], stdin: edited)
                #expect(update.status == 0 && update.stdout.contains("updated"), "\(update)")
            }
        }
    }

    @Test func applyExplainsFilesItCannotUse() async throws {
        try await DaemonProcess.with { daemon in
            try await withTemporaryDirectory { dir in
                let missing = try await orchctl(daemon, ["apply", "-f", dir.appendingPathComponent("nope.yaml").path])
                #expect(missing.status == 1)
                #expect(missing.stderr.contains("cannot read"))
                let broken = dir.appendingPathComponent("broken.json")
                try "{\"name\": \"x\",".write(to: broken, atomically: true, encoding: .utf8)
                let parse = try await orchctl(daemon, ["apply", "-f", broken.path])
                #expect(parse.status == 1)
                #expect(parse.stderr.contains("broken.json"))
                let nameless = dir.appendingPathComponent("nameless.yaml")
                try "description: no name\n".write(to: nameless, atomically: true, encoding: .utf8)
                #expect(try await orchctl(daemon, ["apply", "-f", nameless.path]).status == 4)
                let wrongType = dir.appendingPathComponent("wrong.yaml")
                try "name: wrong\nsteps: {a: 1}\n".write(to: wrongType, atomically: true, encoding: .utf8)
                let typed = try await orchctl(daemon, ["apply", "-f", wrongType.path])
                // A wrong type is a problem of the file like the others: exit 4, at its line.
                #expect(typed.status == 4, "\(typed)")
                #expect(typed.stderr.contains("wrong.yaml:2:1: steps: must be an array of objects, got an object"), "\(typed)")
                let empty = dir.appendingPathComponent("empty")
                try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
                let none = try await orchctl(daemon, ["apply", "-f", empty.path])
                #expect(none.status == 1 && none.stderr.contains("holds no workflow file"), "\(none)")
                #expect(!none.stderr.contains("NSCocoaErrorDomain"))
            }
        }
    }

    /// Every problem of a workflow file at once, of names, types and rules,
    /// each at its file, line and column, exit 4, and nothing changed.
    @Test func applyNamesEveryProblemOfAFileAtItsLineAndColumn() async throws {
        try await DaemonProcess.with { daemon in
            try await withTemporaryDirectory { dir in
                let file = dir.appendingPathComponent("broken.yaml")
                try """
                    name: broken
                    description: 7
                    steps:
                      - name: push
                        executionOrder: 0
                        retires: 3
                        timeoutSeconds: -5
                        action:
                          exec: ["/bin/true"]
                      - name: Bad Name
                        executionOrder: "one"
                        action:
                          cwd: /
                    """.write(to: file, atomically: true, encoding: .utf8)
                for dryRun in [false, true] {
                    let applied = try await orchctl(daemon, ["apply", "-f", file.path] + (dryRun ? ["--dry-run"] : []))
                    #expect(applied.status == 4, "\(applied)")
                    let lines = applied.stderr.split(separator: "\n").map(String.init)
                    #expect(lines.first == "orchctl: \(file.path): 6 problems, nothing was changed:", "\(applied.stderr)")
                    let expected = [
                        "  \(file.path):2:1: description: must be a string, got an integer",
                        "  \(file.path):6:5: steps[0].retires: is not a known parameter (did you mean 'retries'?",
                        "  \(file.path):7:5: steps[0].timeoutSeconds: must be a positive number of seconds",
                        "  \(file.path):10:5: steps[1].name: 'Bad Name' must be",
                        "  \(file.path):11:5: steps[1].executionOrder: must be an integer, got a string",
                        "  \(file.path):13:7: steps[1].action.exec: is missing",
                    ]
                    #expect(lines.count == expected.count + 1, "\(applied.stderr)")
                    for (line, start) in zip(lines.dropFirst(), expected) { #expect(line.hasPrefix(start), "\(line)") }
                }
                #expect(try await orchctl(daemon, ["workflow", "get", "broken"]).status == 3)

                // A bad step before a good one keeps the good one's place, and line; a bad second workflow stops the first too.
                let two = dir.appendingPathComponent("two.yaml")
                try """
                    name: fine
                    steps: []
                    ---
                    name: shifted
                    steps:
                      - oops
                      - name: Bad Name
                        executionOrder: 0
                        action: {exec: [/bin/true]}
                    """.write(to: two, atomically: true, encoding: .utf8)
                let shifted = try await orchctl(daemon, ["apply", "-f", two.path])
                #expect(shifted.status == 4, "\(shifted)")
                #expect(shifted.stderr.contains("\(two.path):6:5: steps[0]: must be an object, got a string"), "\(shifted.stderr)")
                #expect(shifted.stderr.contains("\(two.path):7:5: steps[1].name: 'Bad Name' must be"), "\(shifted.stderr)")
                #expect(try await orchctl(daemon, ["workflow", "get", "fine"]).status == 3, "a workflow was applied before a bad one stopped the file")
                // The same through the protocol: one -32602 naming each (no positions there), which orchctl shows with exit 4 too.
                let raw = try await call(try daemon.connect(), "workflow.create", ["name": "x", "description": 1, "locks": "one"])
                #expect(raw.errorCode == .invalidParams && raw.failure?.data?["errors"]?.arrayValue?.count == 2, "\(raw)")
                let added = try await orchctl(daemon, ["step", "add", "nosuch", "s", "--order", "0", "--timeout", "-1", "--", "/bin/true"])
                #expect(added.status == 4 || added.status == 3, "\(added)")
            }
        }
    }

    /// A directory applies each of its workflow files in name order, and a
    /// YAML file may hold several workflows; a name defined twice changes nothing.
    @Test func applyTakesADirectoryAndMultiDocumentYAML() async throws {
        try await DaemonProcess.with { daemon in
            try await withTemporaryDirectory { dir in
                func step(_ name: String) -> String { "steps:\n  - name: \(name)\n    executionOrder: 0\n    action: {exec: [/bin/true]}\n" }
                try ("name: one\n" + step("a") + "---\nname: two\n" + step("b")).write(to: dir.appendingPathComponent("a.yaml"), atomically: true, encoding: .utf8)
                try #"{"name": "three", "steps": []}"#.write(to: dir.appendingPathComponent("b.json"), atomically: true, encoding: .utf8)
                try "not a workflow file".write(to: dir.appendingPathComponent("README"), atomically: true, encoding: .utf8)
                let dry = try await orchctl(daemon, ["apply", "-f", dir.path, "--dry-run"])
                #expect(dry.status == 2, "\(dry)")
                #expect(["one", "two", "three"].allSatisfy { dry.stdout.contains("workflow \($0) would be created") }, "\(dry.stdout)")
                let applied = try await orchctl(daemon, ["apply", "-f", dir.path])
                #expect(applied.status == 0, "\(applied)")
                #expect(applied.stdout == "workflow one created (version 1)\nworkflow two created (version 1)\nworkflow three created (version 1)\n")
                #expect(try await orchctl(daemon, ["apply", "-f", dir.path, "--dry-run"]).status == 0)

                try ("name: four\n" + step("a") + "---\nname: one\n" + step("c")).write(to: dir.appendingPathComponent("c.yaml"), atomically: true, encoding: .utf8)
                let twice = try await orchctl(daemon, ["apply", "-f", dir.path])
                #expect(twice.status == 4 && twice.stderr.contains("workflow one is defined twice"), "\(twice)")
                #expect(try await orchctl(daemon, ["workflow", "get", "four"]).status == 3)
            }
        }
    }

    @Test func helpTeachesWithExamples() async throws {
        let binary = try Binaries.path("orchctl")
        for command in [["--help"], ["step", "add", "--help"], ["apply", "--help"], ["workflow", "list", "--help"]] {
            let help = try await runCommand(binary, command)
            #expect(help.status == 0)
            #expect(help.stdout.contains("Example"), "\(command)")
        }
        let completion = try await runCommand(binary, ["--generate-completion-script", "bash"])
        #expect(completion.stdout.contains("orchctl"))
    }

    /// Tab completion in bash, through the script orchctl generates: workflow
    /// names and run ids from the daemon, statuses, and nothing (not an error) without a daemon.
    @Test func bashCompletesWorkflowNamesRunIdsAndStatuses() async throws {
        try await DaemonProcess.with { daemon in
            for name in ["vlan-rollout", "vlan-fleet", "backup"] { _ = try await orchctl(daemon, ["workflow", "create", name]) }
            _ = try await orchctl(daemon, ["step", "add", "backup", "s", "--order", "0", "--", "/bin/true"])
            let started = try await orchctl(daemon, ["-o", "json", "run", "start", "backup", "--watch"])
            let runId = try #require(started.stdout.split(separator: "\n").last.flatMap {
                (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any]
            }?["id"] as? String)
            let binary = try Binaries.path("orchctl")
            func complete(_ line: String, socket: String) async throws -> [String] {
                let words = line.split(separator: " ", omittingEmptySubsequences: false).map { "'\($0)'" }.joined(separator: " ")
                let script = """
                    source <('\(binary)' --generate-completion-script bash)
                    COMP_WORDS=('\(binary)' \(words.split(separator: " ").dropFirst().joined(separator: " ")))
                    COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 )); COMP_LINE='\(binary) \(line.split(separator: " ", omittingEmptySubsequences: false).dropFirst().joined(separator: " "))'; COMP_POINT=${#COMP_LINE}
                    _orchctl "${COMP_WORDS[0]}" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"; printf '%s\\n' "${COMPREPLY[@]}"
                    """
                let result = try await runCommand("/bin/bash", ["-c", script], environment: ["ORCHCTL_SOCKET": socket, "PATH": "/usr/bin:/bin"])
                return result.stdout.split(separator: "\n").map(String.init).sorted()
            }
            #expect(try await complete("orchctl run start vlan", socket: daemon.socketPath) == ["vlan-fleet", "vlan-rollout"])
            #expect(try await complete("orchctl run get ", socket: daemon.socketPath) == [runId])
            #expect(try await complete("orchctl run list --status f", socket: daemon.socketPath) == ["failed"])
            #expect(try await complete("orchctl run start vlan", socket: "/nonexistent/orch.sock") == [])
        }
    }

    /// On an 80-column terminal no example is broken in the middle of a
    /// command (a long one continues on the next line after a backslash,
    /// indented, so it can be pasted as it is), in any command's help.
    @Test func helpExamplesFitAnEightyColumnTerminal() async throws {
        let binary = try Binaries.path("orchctl")
        func help(_ command: [String]) async throws -> String {
            try await runCommand(binary, command + ["--help"], environment: ["COLUMNS": "80", "PATH": "/usr/bin:/bin"]).stdout
        }
        func subcommands(_ text: String) -> [String] {
            guard let start = text.range(of: "SUBCOMMANDS:") else { return [] }
            return text[start.upperBound...].split(separator: "\n").compactMap { line in
                line.hasPrefix("  ") && !line.hasPrefix("   ") ? line.split(separator: " ").first.map(String.init) : nil
            }
        }
        var commands: [[String]] = []
        for noun in subcommands(try await help([])) {
            commands.append([noun])
            for verb in subcommands(try await help([noun])) where verb != "help" { commands.append([noun, verb]) }
        }
        #expect(commands.count > 30, "\(commands)")
        for command in commands {
            var inExamples = false
            for line in try await help(command).split(separator: "\n", omittingEmptySubsequences: false) {
                if line.hasPrefix("Example") { inExamples = true; continue }
                if line.isEmpty { inExamples = false; continue }
                if inExamples { #expect(line.hasPrefix(" "), "\(command.joined(separator: " ")): an example broken at '\(line)'") }
            }
        }
    }

    /// The same version as the daemon's, without a daemon to ask.
    @Test func versionIsTheDaemonsAndNeedsNoDaemon() async throws {
        let version = try await runCommand(try Binaries.path("orchctl"), ["--version"])
        let daemon = try await runCommand(try Binaries.path("orchestratord"), ["--version"])
        #expect(version.status == 0 && daemon.status == 0)
        #expect(version.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == OrchestratorVersion.current, "\(version)")
        #expect(daemon.stdout.contains(OrchestratorVersion.current), "\(daemon)")
    }
}
