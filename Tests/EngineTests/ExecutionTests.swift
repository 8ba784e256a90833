import Foundation
import MongoKit
import OrchestratorClient
import OrchestratorProtocol
import Testing
import TestSupport

/// Runs executed by the real daemon, judged from what the steps themselves
/// recorded, never from wall-clock thresholds.
@Suite struct ExecutionTests {
    @Test func groupsRunInParallelAndInOrder() async throws {
        try await DaemonProcess.with { daemon in
            let dir = daemon.directory
            let c = try daemon.connect()
            // Each step of a group waits until all of its group is running: if
            // the engine ran them one after the other, the first would time out.
            let rendezvous = { (group: [String]) in stamped(dir, meet(dir, group)) }
            try await c.createWorkflow("ordered", [
                shellStep("a1", order: 0, rendezvous(["a1", "a2", "a3"]), timeout: 60),
                shellStep("a2", order: 0, rendezvous(["a1", "a2", "a3"]), timeout: 60),
                shellStep("a3", order: 0, rendezvous(["a1", "a2", "a3"]), timeout: 60),
                shellStep("b", order: 5, stamped(dir, "true")),
                shellStep("c1", order: 9, rendezvous(["c1", "c2"]), timeout: 60),
                shellStep("c2", order: 9, rendezvous(["c1", "c2"]), timeout: 60),
            ])
            let (events, run) = try await c.watch(try await c.startRun("ordered"))
            #expect(run["status"] == "succeeded", "\(run)")
            let stamps = try Stamps(dir)
            #expect(stamps.overlap(["a1", "a2", "a3"]))
            #expect(stamps.before(["a1", "a2", "a3"], ["b"]))
            #expect(stamps.before(["b"], ["c1", "c2"]))
            #expect(stamps.overlap(["c1", "c2"]))
            // Watch events come in order with no gaps, starting at 0.
            #expect(events.compactMap { $0["sequence"]?.intValue } == Array(0..<events.count))
            #expect(events.first?["status"] == "queued")
            #expect(events.last?["status"] == "succeeded")
            #expect(events.last?["step"] == .null)
        }
    }

    @Test func maxParallelStepsBoundsConcurrency() async throws {
        try await DaemonProcess.with(arguments: ["--max-parallel-steps", "2"]) { daemon in
            let dir = daemon.directory
            let c = try daemon.connect()
            try await c.createWorkflow("wide", (0..<6).map { shellStep("s\($0)", order: 0, stamped(dir, "sleep 0.3")) })
            let (_, run) = try await c.watch(try await c.startRun("wide"))
            #expect(run["status"] == "succeeded")
            let stamps = try Stamps(dir)
            #expect(stamps.start.count == 6)
            #expect(stamps.maximumConcurrency <= 2, "\(stamps)")
        }
    }

    @Test func aFailureLetsItsGroupFinishSkipsLaterGroupsAndFailsTheRun() async throws {
        try await DaemonProcess.with { daemon in
            let dir = daemon.directory
            let c = try daemon.connect()
            try await c.createWorkflow("failing", [
                shellStep("bad", order: 0, "echo 'no route to sw7' >&2; exit 3"),
                shellStep("slow-sibling", order: 0, stamped(dir, "sleep 0.5")),
                shellStep("later", order: 1, stamped(dir, "true")),
                shellStep("last", order: 2, stamped(dir, "true")),
            ])
            let (_, run) = try await c.watch(try await c.startRun("failing"))
            #expect(run["status"] == "failed")
            let bad = try #require(run.step("bad"))
            #expect(bad["status"] == "failed")
            #expect(bad["exitCode"] == 3)
            #expect(bad["stderr"] == "no route to sw7\n")
            #expect(run.stepStatus("slow-sibling") == "succeeded")
            #expect(run.stepStatus("later") == "skipped")
            #expect(run.stepStatus("last") == "skipped")
            let stamps = try Stamps(dir)
            #expect(stamps.end["slow-sibling"] != nil)
            #expect(stamps.start["later"] == nil)
        }
    }

    @Test func continueOnFailureLetsLaterGroupsRun() async throws {
        try await DaemonProcess.with { daemon in
            let c = try daemon.connect()
            try await c.createWorkflow("tolerant", [
                shellStep("probe", order: 0, "exit 1", continueOnFailure: true),
                shellStep("report", order: 1, "echo reported"),
            ])
            let (_, run) = try await c.watch(try await c.startRun("tolerant"))
            #expect(run.stepStatus("probe") == "failed")
            #expect(run.stepStatus("report") == "succeeded")
            #expect(run.step("report")?["stdout"] == "reported\n")
            // The tolerated failure is still visible in the run's outcome.
            #expect(run["status"] == "failed")
        }
    }

    @Test func theNextStepWaitsStartedAheadAndNothingWaitsForAPlanThatChanged() async throws {
        try await DaemonProcess.with { daemon in
            let gate = daemon.directory.appendingPathComponent("gate")
            let c = try daemon.connect()
            let pid = try #require(daemon.pid)
            try await c.createWorkflow("ahead", [
                shellStep("first", waitFor(gate)),
                shellStep("flaky", order: 1, "exit 3", retries: 1, retryDelay: 60),
                shellStep("after", order: 2, "true"),
            ])
            let id = try await c.startRun("ahead")
            // While "first" runs, "flaky" is already started, held at its gate.
            #expect(await eventually { childProcesses(of: pid).sorted() == ["orchestrator-st", "sh"] })
            _ = FileManager.default.createFile(atPath: gate.path, contents: nil)
            // "flaky" fails and waits a minute for its retry: the step planned after it must not wait meanwhile.
            #expect(await eventually {
                let run = try? await c.call("run.get", ["id": .string(id)])
                return run?.stepStatus("flaky") == "pending" && run?.step("flaky")?["attempts"] == 1
            })
            #expect(await eventually { childProcesses(of: pid).isEmpty })
            _ = try await c.call("run.cancel", ["id": .string(id)])
            let (_, run) = try await c.watch(id)
            #expect(run["status"] == "cancelled")
            #expect(run.stepStatus("after") == "cancelled")
            #expect(childProcesses(of: pid).isEmpty)
        }
    }

    /// `run.start` stores the run with its first step already recorded
    /// running, with its process; the process runs once that insert is
    /// stored, with no update of the run before it (the run's log is not
    /// folded, nothing is in it), and the run's events say what happened once each.
    @Test func aRunIsStoredWithItsFirstStepRunningAndTheStepRunsWithNoWriteAfterThatInsert() async throws {
        try await DaemonProcess.with { daemon in
            let gate = daemon.directory.appendingPathComponent("gate")
            let began = daemon.directory.appendingPathComponent("began")
            let c = try daemon.connect()
            try await c.createWorkflow("push", [
                shellStep("push", "touch '\(began.path)'; " + waitFor(gate)), shellStep("verify", order: 1, "true"),
            ])
            let answer = try await c.call("run.start", ["workflow": "push"])
            let id = try #require(answer["id"]?.stringValue)
            #expect(answer["status"] == "running")
            #expect(answer.stepStatus("push") == "running")
            #expect(answer.step("push")?["attempts"] == 1)
            #expect(answer.stepStatus("verify") == "pending")
            #expect(answer["events"]?.arrayValue?.map { $0["status"]?.stringValue ?? "" } == ["queued", "running", "running"])
            #expect(await eventually { FileManager.default.fileExists(atPath: began.path) })

            let pool = try MongoPool(MongoConfiguration(uri: daemon.mongoURI, database: daemon.database))
            defer { Task { await pool.close() } }
            let oid = try #require(ObjectId(id))
            let (stored, logged) = try await pool.withClient { client throws(MongoError) in
                (try client.collection("runs").findOne(["_id": .objectId(oid)]), try client.collection("run_log").find(["runId": .objectId(oid)]))
            }
            let document = try #require(stored)
            #expect(document["logNext"]?.intValue == 0, "the run's record was updated before its first step ran")
            #expect(logged.isEmpty)
            // The recorded process is the step's, running its command now.
            let push = try #require(document["steps"]?.arrayValue?.first?.documentValue)
            #expect(push["status"]?.stringValue == "running")
            let pid = try #require(push["process"]?.documentValue?["pid"]?.intValue)
            let name = try String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8).split(separator: " ")[1]
            #expect(name == "(sh)")

            _ = FileManager.default.createFile(atPath: gate.path, contents: nil)
            let (_, run) = try await c.watch(id)
            #expect(run["status"] == "succeeded")
            #expect(run["events"]?.arrayValue?.map { "\($0["step"]?.stringValue ?? "run") \($0["status"]?.stringValue ?? "")" } == [
                "run queued", "run running", "push running", "push succeeded", "verify running", "verify succeeded", "run succeeded",
            ])
        }
    }

    @Test func aTimeoutKillsTheWholeProcessGroup() async throws {
        try await DaemonProcess.with { daemon in
            let pidFile = daemon.directory.appendingPathComponent("grandchild.pid")
            let c = try daemon.connect()
            try await c.createWorkflow("hangs", [
                shellStep("stuck", "sleep 300 & echo $! > '\(pidFile.path)'; echo started; wait", timeout: 1),
            ])
            let (_, run) = try await c.watch(try await c.startRun("hangs"))
            let stuck = try #require(run.step("stuck"))
            #expect(stuck["status"] == "timed_out")
            #expect(stuck["error"]?.stringValue?.contains("timed out") == true)
            #expect(stuck["stdout"] == "started\n")
            #expect(run["status"] == "failed")
            let grandchild = try #require(Int32(fileLines(pidFile).first ?? ""))
            #expect(await eventually(timeout: .seconds(10)) { !processExists(grandchild) }, "pid \(grandchild) survived the timeout")
        }
    }

    @Test func retriesAreCountedUntilTheStepSucceeds() async throws {
        try await DaemonProcess.with { daemon in
            let counter = daemon.directory.appendingPathComponent("tries")
            let c = try daemon.connect()
            try await c.createWorkflow("flaky", [
                shellStep("flaky", "echo x >> '\(counter.path)'; [ $(wc -l < '\(counter.path)') -ge 3 ]", retries: 4, retryDelay: 0),
            ])
            let (events, run) = try await c.watch(try await c.startRun("flaky"))
            #expect(run["status"] == "succeeded")
            #expect(run.step("flaky")?["attempts"] == 3)
            #expect(fileLines(counter).count == 3)
            let transitions = events.filter { $0["step"] == "flaky" }.map { "\(Render($0["status"]))/\(Render($0["attempt"]))" }
            #expect(transitions == ["running/1", "failed/1", "running/2", "failed/2", "running/3", "succeeded/3"])
        }
    }

    @Test func retriesRunOutAndTheStepFails() async throws {
        try await DaemonProcess.with { daemon in
            let c = try daemon.connect()
            try await c.createWorkflow("broken", [shellStep("never", "exit 2", retries: 2, retryDelay: 0)])
            let (_, run) = try await c.watch(try await c.startRun("broken"))
            #expect(run.step("never")?["attempts"] == 3)
            #expect(run.stepStatus("never") == "failed")
            #expect(run["status"] == "failed")
        }
    }

    @Test func aProgramThatCannotStartFailsClearly() async throws {
        try await DaemonProcess.with { daemon in
            let c = try daemon.connect()
            _ = try await c.call("workflow.create", ["name": "missing-tool", "steps": [
                ["name": "nope", "executionOrder": 0, "action": ["exec": ["/nonexistent/tool", "x"]]],
                ["name": "badcwd", "executionOrder": 0, "action": ["exec": ["/bin/true"], "cwd": "/nonexistent/dir"]],
            ]])
            let (_, run) = try await c.watch(try await c.startRun("missing-tool"))
            #expect(run.stepStatus("nope") == "failed")
            #expect(run.step("nope")?["error"]?.stringValue?.contains("/nonexistent/tool") == true)
            #expect(run.stepStatus("badcwd") == "failed")
            #expect(run.step("badcwd")?["error"]?.stringValue?.contains("/nonexistent/dir") == true)
        }
    }

    @Test func parametersReachArgvAndEnvironmentVerbatim() async throws {
        try await DaemonProcess.with { daemon in
            let c = try daemon.connect()
            _ = try await c.call("workflow.create", ["name": "params", "steps": [
                ["name": "argv", "executionOrder": 0, "action": ["exec": ["/usr/bin/printf", "%s|", "{{params.host}}", "x{{params.vlan}}y"]]],
                ["name": "env", "executionOrder": 0, "action": [
                    "exec": ["/bin/sh", "-c", #"printf '%s|%s|%s|%s|%s|%s' "$ORCH_PARAM_HOST" "$ORCH_PARAM_MGMT_IP" "$ORCH_STEP" "$ORCH_RUN_ID" "$SITE" "${LISTEN_FDS-unset}${NOTIFY_SOCKET-unset}""#],
                    "env": ["SITE": "{{params.site}}"],
                ]],
                ["name": "fds", "executionOrder": 0, "action": ["exec": ["/bin/sh", "-c", "ls /proc/self/fd | wc -l"]]],
            ]])
            let hostile = "sw1; rm -rf / $(reboot) `id` \"'"
            let id = try await c.startRun("params", ["host": hostile, "vlan": "120", "mgmt-ip": "10.0.0.1", "site": "lab"])
            let (_, run) = try await c.watch(id)
            #expect(run["status"] == "succeeded")
            #expect(run.step("argv")?["stdout"] == .string("\(hostile)|x120y|"))
            #expect(run.step("env")?["stdout"] == .string("\(hostile)|10.0.0.1|env|\(id)|lab|unsetunset"))
            // stdin, stdout, stderr, and the fd `ls` itself opens: nothing of the daemon's.
            #expect(run.step("fds")?["stdout"]?.stringValue?.trimmingCharacters(in: .whitespacesAndNewlines) == "4")
        }
    }

    @Test func aMissingParameterIsRefusedByName() async throws {
        try await DaemonProcess.with { daemon in
            let c = try daemon.connect()
            _ = try await c.call("workflow.create", ["name": "needs", "steps": [
                ["name": "ping", "executionOrder": 0, "action": ["exec": ["/bin/echo", "{{params.host}}", "{{params.count}}"]]],
            ]])
            do {
                _ = try await c.startRun("needs", ["host": "sw1"])
                Issue.record("a run with a missing parameter was started")
            } catch ClientError.rpc(let error) {
                #expect(error.code == .validationFailed)
                let errors = error.data?["errors"]?.arrayValue ?? []
                #expect(errors.map { $0["field"] } == ["params.count"])
                #expect(errors.first?["message"]?.stringValue?.contains("'ping'") == true)
            }
            #expect(try await c.call("run.list")["items"]?.arrayValue?.isEmpty == true)
        }
    }

    @Test func editingAWorkflowNeverChangesARunInFlight() async throws {
        try await DaemonProcess.with { daemon in
            let gate = daemon.directory.appendingPathComponent("gate")
            let c = try daemon.connect()
            try await c.createWorkflow("snap", [
                shellStep("wait", order: 0, waitFor(gate)),
                shellStep("say", order: 1, "echo original"),
            ])
            let id = try await c.startRun("snap")
            #expect(await eventually { (try? await c.call("run.get", ["id": .string(id)]).stepStatus("wait")) == "running" })
            _ = try await c.call("step.update", ["workflow": "snap", "name": "say", "action": ["exec": ["/bin/echo", "edited"]]])
            _ = FileManager.default.createFile(atPath: gate.path, contents: nil)
            let (_, run) = try await c.watch(id)
            #expect(run.step("say")?["stdout"] == "original\n")
            #expect(run["workflowVersion"] == 1)
            // The workflow's own steps show the latest run's statuses (written in the background).
            #expect(await eventually {
                let workflow = try? await c.call("workflow.get", ["name": "snap"])
                return workflow?.stepStatus("wait") == "succeeded" && workflow?.stepStatus("say") == "succeeded"
            })
        }
    }

    @Test func theWorkflowShowsItsStepsFinalAsSoonAsTheRunIsSeenEnded() async throws {
        try await DaemonProcess.with { daemon in
            let c = try daemon.connect()
            try await c.createWorkflow("shown", (0..<5).map { shellStep("s\($0)", order: $0, "true") })
            for _ in 0..<5 {
                let id = try await c.startRun("shown")
                var ended = false
                while !ended {
                    ended = try await c.call("run.get", ["id": .string(id)])["status"] == "succeeded"
                }
                let workflow = try await c.call("workflow.get", ["name": "shown"])
                let shown = workflow["steps"]?.arrayValue?.map { $0["status"]?.stringValue ?? "" } ?? []
                #expect(shown == Array(repeating: "succeeded", count: 5), "\(workflow)")
            }
        }
    }

    @Test func deletingAWorkflowWithAnActiveRunIsAConflict() async throws {
        try await DaemonProcess.with { daemon in
            let gate = daemon.directory.appendingPathComponent("gate")
            let c = try daemon.connect()
            try await c.createWorkflow("busy", [shellStep("wait", waitFor(gate))])
            let id = try await c.startRun("busy")
            do {
                _ = try await c.call("workflow.delete", ["name": "busy"])
                Issue.record("deleted a workflow with an active run")
            } catch ClientError.rpc(let error) {
                #expect(error.code == .conflict)
            }
            _ = FileManager.default.createFile(atPath: gate.path, contents: nil)
            _ = try await c.watch(id)
            #expect(try await c.call("workflow.delete", ["name": "busy"])["deleted"] == true)
        }
    }
}

func Render(_ value: JSONValue?) -> String {
    switch value {
    case .string(let s)?: s
    case .int(let i)?: String(i)
    default: "-"
    }
}
