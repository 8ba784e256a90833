import Foundation
import OrchestratorProtocol
import Testing
import TestSupport

/// Rollback against the real daemon and database: when a run fails, the
/// rollbacks of the steps that succeeded run last step first (read from
/// the stamps they write), a failing rollback stops the rest, a kill -9
/// mid-rollback is recovered like a step, and a fleet rolls back per target.
@Suite struct RollbackTests {
    /// A step that notes `do NAME` and, undone, `undo NAME` with a stamp.
    private func undoable(
        _ name: String, order: Int, _ marks: URL, fails: Bool = false, undo: String? = nil, idempotent: Bool = false
    ) -> JSONValue {
        guard case .object(var step) = shellStep(
            name, order: order, "echo \"do \(name) $(date +%s%N)\" >> '\(marks.path)'" + (fails ? "; exit 7" : ""), idempotent: idempotent)
        else { return .null }
        let script = undo ?? "echo \"undo \(name) $(date +%s%N) $ORCH_ROLLBACK\" >> '\(marks.path)'"
        step["rollback"] = ["exec": ["/bin/sh", "-c", .string(script)]]
        return .object(step)
    }

    private func lines(_ marks: URL, _ kind: String) -> [String] {
        fileLines(marks).filter { $0.hasPrefix(kind + " ") }.map { $0.split(separator: " ")[1...].map(String.init).joined(separator: " ") }
    }

    @Test func aFailedRunUndoesWhatSucceededLastStepFirst() async throws {
        try await DaemonProcess.with { daemon in
            try await withTemporaryDirectory { dir in
                let marks = dir.appendingPathComponent("marks")
                let c = try daemon.connect()
                try await c.createWorkflow("change", [
                    undoable("backup", order: 0, marks), undoable("vlan", order: 1, marks), undoable("acl", order: 1, marks),
                    undoable("verify", order: 2, marks, fails: true),
                    shellStep("report", order: 3, "true"),
                ])
                let (events, run) = try await c.watch(try await c.startRun("change"))
                #expect(run["status"] == "failed")
                #expect(run["rollback"] == ["status": "succeeded"])
                #expect(["backup", "vlan", "acl"].map { run.stepStatus($0) } == ["rolled_back", "rolled_back", "rolled_back"])
                #expect(run.stepStatus("verify") == "failed")
                #expect(run.stepStatus("report") == "skipped")
                // Last first: reverse executionOrder, then reverse name; each after the one before ended.
                let undone = lines(marks, "undo")
                #expect(undone.map { $0.split(separator: " ")[0] } == ["vlan", "acl", "backup"], "\(undone)")
                let stamps = undone.compactMap { UInt64($0.split(separator: " ")[1]) }
                #expect(stamps == stamps.sorted())
                #expect(undone.allSatisfy { $0.hasSuffix(" 1") }, "a rollback sees ORCH_ROLLBACK=1")
                // The step keeps what it did; its rollback is recorded beside it.
                let vlan = try #require(run.step("vlan"))
                #expect(vlan["exitCode"] == 0)
                #expect(vlan["rollback"]?["exitCode"] == 0)
                #expect(vlan["rollback"]?["startedAt"]?.stringValue != nil)
                #expect(events.filter { $0["status"] == "rolling_back" }.compactMap { $0["step"]?.stringValue } == ["vlan", "acl", "backup"])
                // The failed step did not succeed: nothing of it to undo.
                #expect(!undone.contains { $0.hasPrefix("verify") })
            }
        }
    }

    @Test func aFailingRollbackStopsTheRest() async throws {
        try await DaemonProcess.with { daemon in
            try await withTemporaryDirectory { dir in
                let marks = dir.appendingPathComponent("marks")
                let c = try daemon.connect()
                try await c.createWorkflow("stuck", [
                    undoable("backup", order: 0, marks),
                    undoable("vlan", order: 1, marks, undo: "echo cannot >&2; exit 3"),
                    undoable("acl", order: 2, marks),
                    undoable("verify", order: 3, marks, fails: true),
                ])
                let (_, run) = try await c.watch(try await c.startRun("stuck"))
                #expect(run["status"] == "failed")
                #expect(run["rollback"] == ["status": "failed"])
                #expect(run.stepStatus("acl") == "rolled_back")
                #expect(run.stepStatus("vlan") == "rollback_failed")
                #expect(run.step("vlan")?["rollback"]?["error"] == "exited with status 3")
                #expect(run.step("vlan")?["rollback"]?["stderr"] == "cannot\n")
                // Left for a person: what came before is not undone.
                #expect(run.stepStatus("backup") == "succeeded")
                #expect(lines(marks, "undo").map { $0.split(separator: " ")[0] } == ["acl"])
                // Half undone: resuming would act on a state nobody planned for.
                let resume = try await call(c, "run.resume", ["id": run["id"] ?? .null])
                guard case .failure(let refused) = resume else { throw Failure("a run whose rollback failed was resumed") }
                #expect(refused.code == .conflict)
                #expect(refused.message.contains("the rollback of vlan failed"), "\(refused.message)")
            }
        }
    }

    /// Killed while a rollback runs: a step that is not idempotent is not
    /// undone twice (its rollback is `rollback_failed`, and the rest wait
    /// for a person); an idempotent one's rollback runs again and the rest follow.
    @Test(arguments: [false, true]) func aRollbackInterruptedByKill9IsRecoveredLikeAStep(_ idempotent: Bool) async throws {
        try await withTemporaryDirectory { dir in
            let daemon = DaemonProcess(directory: dir, mongoURI: try TestEnvironment.mongoURI())
            try await daemon.start()
            let marks = dir.appendingPathComponent("marks")
            let gate = dir.appendingPathComponent("gate")
            let c = try daemon.connect()
            let slowUndo = "echo \"undo acl $(date +%s%N) $ORCH_ROLLBACK\" >> '\(marks.path)'; while [ ! -e '\(gate.path)' ]; do sleep 0.1; done"
            try await c.createWorkflow("interrupted", [
                undoable("backup", order: 0, marks, idempotent: true),
                undoable("acl", order: 1, marks, undo: slowUndo, idempotent: idempotent),
                undoable("verify", order: 2, marks, fails: true),
            ])
            let id = try await c.startRun("interrupted")
            #expect(await eventually { lines(marks, "undo").count == 1 })
            try await Task.sleep(for: .milliseconds(300))  // the pid write lands
            await daemon.stop(signal: SIGKILL)
            _ = FileManager.default.createFile(atPath: gate.path, contents: nil)
            try await daemon.start()
            let (_, run) = try await daemon.connect().watch(id)
            #expect(run["status"] == "failed")
            if idempotent {
                #expect(run["rollback"] == ["status": "succeeded"])
                #expect(run.stepStatus("acl") == "rolled_back")
                #expect(run.stepStatus("backup") == "rolled_back")
                #expect(lines(marks, "undo").map { $0.split(separator: " ")[0] } == ["acl", "acl", "backup"])
            } else {
                #expect(run["rollback"] == ["status": "failed"])
                #expect(run.stepStatus("acl") == "rollback_failed")
                #expect(run.step("acl")?["rollback"]?["error"] == "interrupted: the daemon running it stopped")
                #expect(run.stepStatus("backup") == "succeeded")
                #expect(lines(marks, "undo").map { $0.split(separator: " ")[0] } == ["acl"])
            }
            await daemon.stop()
        }
    }

    @Test func aFleetRollsBackPerTarget() async throws {
        try await DaemonProcess.with { daemon in
            try await withTemporaryDirectory { dir in
                let marks = dir.appendingPathComponent("marks")
                let c = try daemon.connect()
                for (name, broken) in [("leaf01", "no"), ("leaf02", "yes")] {
                    _ = try await c.call("target.create", ["name": .string(name), "labels": ["site": "ams"], "vars": ["broken": .string(broken)]])
                }
                try await c.createWorkflow("fleet-change", [
                    ["name": "push", "executionOrder": 0,
                     "action": ["exec": ["/bin/sh", "-c", .string("echo \"do $ORCH_TARGET\" >> '\(marks.path)'")]],
                     "rollback": ["exec": ["/bin/sh", "-c", .string("echo \"undo $ORCH_TARGET\" >> '\(marks.path)'")]]],
                    shellStep("verify", order: 1, "[ \"$ORCH_TARGET_BROKEN\" != yes ]"),
                ])
                let started = try await c.call("run.start", ["workflow": "fleet-change", "targets": ["labels": ["site": "ams"]], "maxFailPercentage": 100])
                let (_, run) = try await c.watch(try #require(started["id"]?.stringValue))
                #expect(run["status"] == "failed")
                #expect(lines(marks, "undo") == ["leaf02"])
                let broken = try await c.call("run.target", ["id": run["id"] ?? .null, "target": "leaf02"])
                #expect(broken.stepStatus("push") == "rolled_back")
                #expect(broken["rollback"] == ["status": "succeeded"])
                let fine = try await c.call("run.target", ["id": run["id"] ?? .null, "target": "leaf01"])
                #expect(fine.stepStatus("push") == "succeeded")
                #expect(fine["rollback"] == nil)
            }
        }
    }
}
