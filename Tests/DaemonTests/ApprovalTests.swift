import Foundation
import OrchestratorProtocol
import Testing
import TestSupport

/// Approval steps against the real daemon and database, decided through
/// orchctl by different users (setpriv): four eyes, another admin, a
/// group, a rejection, a timeout, and a kill -9 while a step waits.
@Suite struct ApprovalTests {
    private static let nobody: UInt32 = 65534
    private static let nogroup: UInt32 = 65534

    /// The admin group is `adm`; `nobody` with it is an admin other than root.
    private static func admin(uid: UInt32 = nobody) throws -> (uid: UInt32, gid: UInt32, groups: [UInt32]) {
        (uid, nogroup, [nogroup, try #require(groupID("adm"))])
    }

    private static let daemonArguments = ["--socket-group", "nogroup", "--admin-group", "adm"]

    /// prep → an approval → push (which notes that it ran in `dir/pushed`).
    private static func workflow(_ name: String, approval: JSONValue, pushed: URL) -> [String: JSONValue] {
        [
            "name": .string(name),
            "steps": [
                ["name": "prep", "executionOrder": 0, "action": ["exec": ["/bin/true"]]],
                ["name": "change-board", "executionOrder": 1, "approval": approval],
                ["name": "push", "executionOrder": 2, "action": ["exec": ["/bin/sh", "-c", .string("echo pushed >> '\(pushed.path)'")]]],
            ],
        ]
    }

    private static func start(_ daemon: DaemonProcess, _ workflow: String) async throws -> String {
        let run = try await daemon.connect().call("run.start", ["workflow": .string(workflow)])
        return try #require(run["id"]?.stringValue)
    }

    private static func waitForApproval(_ daemon: DaemonProcess, _ id: String) async throws -> JSONValue {
        var last: JSONValue = .null
        let waiting = try await eventually {
            last = try await daemon.connect().call("run.get", ["id": .string(id)])
            return last["steps"]?.arrayValue?.contains { $0["name"] == "change-board" && $0["status"] == "waiting_approval" } == true
        }
        guard waiting else { throw Failure("the approval step never waited: \(last)") }
        return last
    }

    private static func finished(_ daemon: DaemonProcess, _ id: String) async throws -> JSONValue {
        try await daemon.connect().callCollecting("run.watch", ["id": .string(id)]).result
    }

    @Test func theStarterMayNotApproveAnotherAdminMay() async throws {
        guard getuid() == 0 else { throw Failure("these tests switch users with setpriv and must run as root") }
        try await DaemonProcess.with(arguments: Self.daemonArguments) { daemon in
            try await withTemporaryDirectory { dir in
                let pushed = dir.appendingPathComponent("pushed")
                _ = try await daemon.connect().call("workflow.create", Self.workflow("four-eyes", approval: ["timeoutSeconds": 600], pushed: pushed))
                let id = try await Self.start(daemon, "four-eyes")
                _ = try await Self.waitForApproval(daemon, id)
                #expect(!FileManager.default.fileExists(atPath: pushed.path), "a step after the approval ran before it")

                let waiting = try await orchctl(daemon, ["run", "list", "--waiting"])
                #expect(waiting.status == 0, "\(waiting)")
                #expect(waiting.stdout.contains(id) && waiting.stdout.contains("change-board") && waiting.stdout.contains("1 more of admins, not uid 0"), "\(waiting.stdout)")

                // Root started it: four eyes refuse root's approval, saying why.
                let own = try await orchctl(daemon, ["run", "approve", id, "change-board"])
                #expect(own.status == 5, "\(own)")
                #expect(own.stderr.contains("four eyes"), "\(own.stderr)")
                // A reader is not an approver.
                let reader = try await orchctl(daemon, ["run", "approve", id, "change-board"], asUser: (Self.nobody, Self.nogroup, [Self.nogroup]))
                #expect(reader.status == 5, "\(reader)")
                #expect(reader.stderr.contains("decided by admins"), "\(reader.stderr)")
                #expect(!FileManager.default.fileExists(atPath: pushed.path))

                let approve = try await orchctl(daemon, ["run", "approve", id, "change-board", "-m", "CAB-1234 approved"], asUser: try Self.admin())
                #expect(approve.status == 0, "\(approve)")
                #expect(approve.stdout.contains("enough approvals"), "\(approve.stdout)")

                let run = try await Self.finished(daemon, id)
                #expect(run["status"] == "succeeded")
                let step = try #require(run.step("change-board"))
                #expect(step["status"] == "succeeded")
                #expect(step["decisions"]?.arrayValue?.map { [$0["uid"], $0["decision"], $0["comment"]] } == [[65534, "approved", "CAB-1234 approved"]])
                #expect(fileLines(pushed) == ["pushed"])
                // Once decided, nobody decides again.
                let late = try await orchctl(daemon, ["run", "reject", id, "change-board"], asUser: try Self.admin())
                #expect(late.status == 4, "\(late)")
                #expect(late.stderr.contains("not waiting for approval"))
                // The journal fields say who decided what.
                #expect(daemon.log().contains("step change-board approved by uid 65534: CAB-1234 approved"), "\(daemon.log())")
                #expect(daemon.log().contains("DECISION=approved"))
                #expect(try await orchctl(daemon, ["run", "get", id]).stdout.contains("approved  uid 65534"))
            }
        }
    }

    @Test func oneRejectionFailsTheStepAndSkipsWhatFollows() async throws {
        guard getuid() == 0 else { throw Failure("these tests switch users with setpriv and must run as root") }
        try await DaemonProcess.with(arguments: Self.daemonArguments) { daemon in
            try await withTemporaryDirectory { dir in
                let pushed = dir.appendingPathComponent("pushed")
                _ = try await daemon.connect().call("workflow.create", Self.workflow("two-approvers", approval: ["approvers": 2], pushed: pushed))
                let id = try await Self.start(daemon, "two-approvers")
                _ = try await Self.waitForApproval(daemon, id)
                let first = try await orchctl(daemon, ["run", "approve", id, "change-board", "-m", "fine by me"], asUser: try Self.admin())
                #expect(first.status == 0, "\(first)")
                #expect(first.stdout.contains("1 of 2 approvals"), "\(first.stdout)")
                // The same person twice counts once: refused.
                let again = try await orchctl(daemon, ["run", "approve", id, "change-board"], asUser: try Self.admin())
                #expect(again.status == 4, "\(again)")
                #expect(again.stderr.contains("already"))
                let reject = try await orchctl(daemon, ["run", "reject", id, "change-board", "-m", "not in the freeze"], asUser: try Self.admin(uid: 1))
                #expect(reject.status == 0, "\(reject)")

                let run = try await Self.finished(daemon, id)
                #expect(run["status"] == "failed")
                #expect(run.step("change-board")?["error"] == "rejected by uid 1: not in the freeze")
                #expect(run.stepStatus("push") == "skipped")
                #expect(!FileManager.default.fileExists(atPath: pushed.path))
            }
        }
    }

    @Test func aGroupDecidesWhenTheStepNamesOne() async throws {
        guard getuid() == 0 else { throw Failure("these tests switch users with setpriv and must run as root") }
        let operators = try #require(groupID("operator"))
        try await DaemonProcess.with(arguments: Self.daemonArguments) { daemon in
            try await withTemporaryDirectory { dir in
                let pushed = dir.appendingPathComponent("pushed")
                _ = try await daemon.connect().call("workflow.create", Self.workflow("by-group", approval: ["group": "operator"], pushed: pushed))
                let id = try await Self.start(daemon, "by-group")
                _ = try await Self.waitForApproval(daemon, id)
                // An admin outside the group may not; a member who is no admin may.
                let outsider = try await orchctl(daemon, ["run", "approve", id, "change-board"], asUser: try Self.admin())
                #expect(outsider.status == 5, "\(outsider)")
                #expect(outsider.stderr.contains("members of group operator"))
                let member = try await orchctl(daemon, ["run", "approve", id, "change-board"], asUser: (Self.nobody, Self.nogroup, [Self.nogroup, operators]))
                #expect(member.status == 0, "\(member)")
                #expect(try await Self.finished(daemon, id)["status"] == "succeeded")
            }
        }
    }

    @Test func anApprovalNobodyGivesTimesOut() async throws {
        try await DaemonProcess.with { daemon in
            try await withTemporaryDirectory { dir in
                let pushed = dir.appendingPathComponent("pushed")
                _ = try await daemon.connect().call("workflow.create", Self.workflow("timeout", approval: ["timeoutSeconds": 2], pushed: pushed))
                let run = try await Self.finished(daemon, try await Self.start(daemon, "timeout"))
                #expect(run["status"] == "failed")
                #expect(run.step("change-board")?["error"] == "approval timed out")
                #expect(run.stepStatus("push") == "skipped")
            }
        }
    }

    /// A daemon killed while a step waits: the restarted one keeps it
    /// waiting (its start, which the timeout counts from, unchanged), and an
    /// approval given then lets the run go on.
    @Test func aWaitingApprovalSurvivesKill9() async throws {
        guard getuid() == 0 else { throw Failure("these tests switch users with setpriv and must run as root") }
        try await withTemporaryDirectory { dir in
            let daemon = DaemonProcess(directory: dir, mongoURI: try TestEnvironment.mongoURI(), arguments: Self.daemonArguments)
            try await daemon.start()
            let pushed = dir.appendingPathComponent("pushed")
            _ = try await daemon.connect().call("workflow.create", Self.workflow("restart", approval: ["timeoutSeconds": 600], pushed: pushed))
            let id = try await Self.start(daemon, "restart")
            let before = try await Self.waitForApproval(daemon, id)
            await daemon.stop(signal: SIGKILL)
            try await daemon.start()
            let after = try await daemon.connect().call("run.get", ["id": .string(id)])
            #expect(after.stepStatus("change-board") == "waiting_approval")
            #expect(after.step("change-board")?["startedAt"] == before.step("change-board")?["startedAt"])
            #expect(after.step("change-board")?["attempts"] == 1)
            let approve = try await orchctl(daemon, ["run", "approve", id, "change-board"], asUser: try Self.admin())
            #expect(approve.status == 0, "\(approve)")
            #expect(try await Self.finished(daemon, id)["status"] == "succeeded")
            #expect(fileLines(pushed) == ["pushed"])
            await daemon.stop()
        }
    }

    /// A daemon executes at most 4 runs at once with one step slot; runs
    /// that only wait for people do not count, so others still run.
    @Test func runsWaitingForApprovalDoNotKeepOthersQueued() async throws {
        try await DaemonProcess.with(arguments: ["--max-parallel-steps", "1"]) { daemon in
            try await withTemporaryDirectory { dir in
                let c = try daemon.connect()
                _ = try await c.call("workflow.create", Self.workflow("gated", approval: ["timeoutSeconds": 600], pushed: dir.appendingPathComponent("pushed")))
                var waiting: [String] = []
                for _ in 0..<6 { waiting.append(try await Self.start(daemon, "gated")) }
                for id in waiting { _ = try await Self.waitForApproval(daemon, id) }
                _ = try await c.call("workflow.create", ["name": "plain", "steps": [["name": "s", "executionOrder": 0, "action": ["exec": ["/bin/true"]]]]])
                let run = try await Self.finished(daemon, try await Self.start(daemon, "plain"))
                #expect(run["status"] == "succeeded")
                for id in waiting { _ = try await c.call("run.cancel", ["id": .string(id)]) }
            }
        }
    }

    @Test func badDecisionsAndBadApprovalStepsGetClearErrors() async throws {
        try await DaemonProcess.with { daemon in
            let c = try daemon.connect()
            // Every problem of an approval step at once, nothing written.
            let bad = try await call(c, "workflow.create", ["name": "bad", "steps": [[
                "name": "ok", "executionOrder": 0, "action": ["exec": ["/bin/true"]], "locks": ["x"], "retries": 2,
                "approval": ["approvers": 0, "group": "No Such!", "timeoutSeconds": 0],
            ]]])
            guard case .failure(let error) = bad else { throw Failure("an invalid approval step was accepted") }
            let fields = error.data?["errors"]?.arrayValue?.compactMap { $0["field"]?.stringValue } ?? []
            #expect(fields == [
                "steps[0].action", "steps[0].locks", "steps[0].retries", "steps[0].approval.approvers", "steps[0].approval.group",
                "steps[0].approval.timeoutSeconds",
            ])
            #expect(try await call(c, "workflow.get", ["name": "bad"]).isNotFound)

            _ = try await c.call("workflow.create", ["name": "plain", "steps": [["name": "s", "executionOrder": 0, "action": ["exec": ["/bin/sleep", "30"]]]]])
            let run = try await c.call("run.start", ["workflow": "plain"])
            let id = try #require(run["id"]?.stringValue)
            let notApproval = try await call(c, "run.approve", ["id": .string(id), "step": "s"])
            #expect(notApproval.errorCode == .validationFailed)
            #expect(try await call(c, "run.approve", ["id": .string(id), "step": "nope"]).isNotFound)
            // step.update cannot turn a step into an invalid one: no action on an approval step.
            _ = try await c.call("workflow.create", ["name": "gated", "steps": [["name": "board", "executionOrder": 0, "approval": [:]]]])
            let armed = try await call(c, "step.update", ["workflow": "gated", "name": "board", "action": ["exec": ["/bin/true"]]])
            #expect(armed.errorCode == .validationFailed)
            #expect(try await call(c, "run.approve", ["id": "65a1b2c3d4e5f60718293a4b", "step": "s"]).isNotFound)
            #expect(try await call(c, "run.approve", ["id": .string(id), "step": "s", "comment": .string(String(repeating: "x", count: 5000))]).errorCode == .validationFailed)
            #expect(try await call(c, "run.reject", ["id": .string(id), "step": 5]).errorCode == .invalidParams)
            #expect(try await call(c, "run.reject", ["id": .string(id), "step": "s", "why": "x"]).errorCode == .invalidParams)
            _ = try await c.call("run.cancel", ["id": .string(id)])
        }
    }
}

extension Result where Success == JSONValue, Failure == RPCError {
    fileprivate var isNotFound: Bool { errorCode == .notFound }
}

