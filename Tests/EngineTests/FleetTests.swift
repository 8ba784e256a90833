import Foundation
import OrchestratorProtocol
import Testing
import TestSupport

/// Fleet runs against the real daemon and database: batches in order, the
/// failure budget, cancel and resume, kill -9 mid-fleet, two daemons
/// sharing a fleet's work. Each step notes what it did in files the test
/// reads back (the steps' own stamps, not the daemon's word).
@Suite struct FleetTests {
    /// A step that notes `start`/`end` with the target, its var `site`, the
    /// substituted `{{target.name}}`, its daemon (the step's parent) and
    /// the time; it fails when the target's var `broken` is `yes`.
    private func noting(_ name: String, order: Int, _ marks: URL, seconds: String = "0.2", idempotent: Bool = false) -> JSONValue {
        var step = shellStep(
            name, order: order,
            #"echo "start $ORCH_TARGET $ORCH_STEP $ORCH_TARGET_SITE $1 $PPID $(date +%s%N)" >> '\#(marks.path)'; sleep \#(seconds); "#
                + #"echo "end $ORCH_TARGET $ORCH_STEP $(date +%s%N)" >> '\#(marks.path)'; [ "$ORCH_TARGET_BROKEN" != yes ]"#,
            idempotent: idempotent)
        // `{{target.name}}` as the script's $1.
        if case .object(var o) = step, case .object(var action)? = o["action"], case .array(var exec)? = action["exec"] {
            exec += ["step", "{{target.name}}"]
            action["exec"] = .array(exec)
            o["action"] = .object(action)
            step = .object(o)
        }
        return step
    }

    private struct Mark {
        var kind: String, target: String, step: String, fields: [String]
    }

    private func marks(_ file: URL) -> [Mark] {
        fileLines(file).map { line in
            let parts = line.split(separator: " ").map(String.init)
            return Mark(kind: parts[0], target: parts[1], step: parts[2], fields: Array(parts.dropFirst(3)))
        }
    }

    private func createTargets(_ c: TestConnection, _ count: Int, broken: Set<Int> = []) async throws {
        for i in 1...count {
            var vars: [String: JSONValue] = ["site": "ams"]
            if broken.contains(i) { vars["broken"] = "yes" }
            _ = try await c.call("target.create", [
                "name": .string(String(format: "sw%02d", i)), "labels": ["site": "ams", "role": i % 2 == 0 ? "even" : "odd"], "vars": .object(vars),
            ])
        }
    }

    private func startFleet(_ c: TestConnection, _ workflow: String, batch: JSONValue, maxFail: Int = 0, selector: JSONValue = ["labels": ["site": "ams"]]) async throws -> String {
        let run = try await c.call("run.start", [
            "workflow": .string(workflow), "params": [:], "targets": selector, "batchSize": batch, "maxFailPercentage": .int(Int64(maxFail)),
        ])
        guard let id = run["id"]?.stringValue else { throw Failure("run.start returned no id: \(run)") }
        return id
    }

    private func targetStatuses(_ run: JSONValue) -> [String: String] {
        Dictionary(uniqueKeysWithValues: (run["targets"]?.arrayValue ?? []).map { ($0["name"]?.stringValue ?? "", $0["status"]?.stringValue ?? "") })
    }

    @Test func batchesRunInOrderEachTargetsStepsInOrderWithItsVars() async throws {
        try await withTemporaryDirectory { dir in
            try await DaemonProcess.with { daemon in
                let c = try daemon.connect()
                let file = dir.appendingPathComponent("marks")
                try await createTargets(c, 6)
                try await c.createWorkflow("push", [noting("backup", order: 0, file), noting("apply", order: 1, file)])
                let id = try await startFleet(c, "push", batch: 2)
                let (events, run) = try await c.watch(id)
                #expect(run["status"] == "succeeded", "run: \(run)")
                #expect(run["fleet"]?["batches"] == 3)
                #expect(Set(targetStatuses(run).values) == ["succeeded"])
                #expect(targetStatuses(run).count == 6)

                let all = marks(file)
                #expect(all.filter { $0.kind == "start" }.count == 12, "\(fileLines(file))")
                // The target's var and name reached the step, by environment and by placeholder.
                #expect(all.filter { $0.kind == "start" }.allSatisfy { $0.fields[0] == "ams" && $0.fields[1] == $0.target })
                func time(_ m: Mark) -> UInt64 { UInt64(m.fields.last ?? "") ?? 0 }
                let batches = [["sw01", "sw02"], ["sw03", "sw04"], ["sw05", "sw06"]]
                for (earlier, later) in zip(batches, batches.dropFirst()) {
                    let lastEnd = all.filter { $0.kind == "end" && earlier.contains($0.target) }.map(time).max() ?? .max
                    let firstStart = all.filter { $0.kind == "start" && later.contains($0.target) }.map(time).min() ?? 0
                    #expect(lastEnd <= firstStart, "batch \(later) started before \(earlier) ended")
                }
                for target in batches.joined() {
                    let backupEnd = all.first { $0.kind == "end" && $0.target == target && $0.step == "backup" }.map(time) ?? .max
                    let applyStart = all.first { $0.kind == "start" && $0.target == target && $0.step == "apply" }.map(time) ?? 0
                    #expect(backupEnd <= applyStart, "\(target): apply started before backup ended")
                }
                // The watch streamed the batches and each target's end.
                #expect(events.filter { $0["status"] == "batch_started" }.compactMap { $0["batch"]?.intValue } == [1, 2, 3])
                #expect(Set(events.filter { $0["target"] != nil && $0["status"] == "succeeded" }.compactMap { $0["target"]?.stringValue }).count == 6)

                // One target's record, and the fleet run's members kept out of run.list.
                let member = try await c.call("run.target", ["id": .string(id), "target": "sw03"])
                #expect(member["fleetRunId"]?.stringValue == id)
                #expect(member["target"]?["vars"]?["site"] == "ams")
                #expect(member.stepStatus("apply") == "succeeded")
                let listed = try await c.call("run.list", [:])
                #expect(listed["items"]?.arrayValue?.map { $0["id"]?.stringValue } == [id])
            }
        }
    }

    @Test func theFailureBudgetStopsFurtherBatches() async throws {
        try await withTemporaryDirectory { dir in
            try await DaemonProcess.with { daemon in
                let c = try daemon.connect()
                let file = dir.appendingPathComponent("marks")
                // The issue's case: 20 targets, batches of 5, 10 % allowed, two broken devices in the second batch.
                try await createTargets(c, 20, broken: [7, 9])
                try await c.createWorkflow("push", [noting("apply", order: 0, file, seconds: "0")])
                let id = try await startFleet(c, "push", batch: 5, maxFail: 10)
                let (events, run) = try await c.watch(id)
                #expect(run["status"] == "failed")
                let statuses = targetStatuses(run)
                #expect(statuses["sw07"] == "failed" && statuses["sw09"] == "failed")
                #expect((1...10).filter { ![7, 9].contains($0) }.allSatisfy { statuses[String(format: "sw%02d", $0)] == "succeeded" })
                #expect((11...20).allSatisfy { statuses[String(format: "sw%02d", $0)] == "skipped" }, "\(statuses)")
                #expect(Set(marks(file).map(\.target)).count == 10, "no step ran on the third and fourth batches")
                let budget = events.first { $0["status"] == "budget_exceeded" }
                #expect(budget?["message"]?.stringValue?.contains("2 of 10 targets") == true, "\(events)")

                // Resume runs the failed targets again and the batches that never started; the broken are still broken.
                _ = try await c.call("target.update", ["name": "sw07", "vars": ["broken": .null]])
                _ = try await c.call("run.resume", ["id": .string(id)])
                let (_, resumed) = try await c.watch(id)
                let after = targetStatuses(resumed)
                #expect(after["sw07"] == "failed", "the run took its targets as they were at its start")
                let started = marks(file).filter { $0.kind == "start" }
                #expect(started.filter { $0.target == "sw01" }.count == 1, "a target that succeeded does not run again")
                #expect(started.filter { $0.target == "sw07" }.count == 2)
            }
        }
    }

    @Test func cancelStopsTheFleetAndItsRunningTargets() async throws {
        try await withTemporaryDirectory { dir in
            try await DaemonProcess.with { daemon in
                let c = try daemon.connect()
                let file = dir.appendingPathComponent("marks")
                try await createTargets(c, 4)
                try await c.createWorkflow("slow", [noting("wait", order: 0, file, seconds: "30")])
                let id = try await startFleet(c, "slow", batch: 2)
                #expect(await eventually { marks(file).filter { $0.kind == "start" }.count == 2 })
                _ = try await c.call("run.cancel", ["id": .string(id)])
                let (_, run) = try await c.watch(id)
                #expect(run["status"] == "cancelled")
                #expect(targetStatuses(run) == ["sw01": "cancelled", "sw02": "cancelled", "sw03": "cancelled", "sw04": "cancelled"])
                #expect(marks(file).filter { $0.kind == "start" }.count == 2)
            }
        }
    }

    /// kill -9 mid-fleet, then a restart: the fleet completes by itself (its
    /// steps are idempotent), and no target's step ran twice: what had ended
    /// before the kill never started again, and what was cut short by it
    /// started at most once more.
    @Test func aFleetSurvivesKill9AndNoTargetsStepRunsTwice() async throws {
        try await withTemporaryDirectory { dir in
            // A restarted daemon claims its own runs at once: the lease's length only
            // has to outlast a busy machine's pauses (at 3 s, a lapse under the full
            // suite's load stopped and re-ran an idempotent step before the kill).
            let daemon = DaemonProcess(directory: dir, mongoURI: try TestEnvironment.mongoURI(), arguments: ["--lease-seconds", "10"])
            try await daemon.start()
            let c = try daemon.connect()
            let file = dir.appendingPathComponent("marks")
            try await createTargets(c, 8)
            try await c.createWorkflow("push", [
                noting("apply", order: 0, file, seconds: "1", idempotent: true), noting("verify", order: 1, file, seconds: "0", idempotent: true),
            ])
            let id = try await startFleet(c, "push", batch: 3)
            #expect(await eventually { marks(file).contains { $0.kind == "start" && $0.target == "sw04" } })
            daemon.send(signal: SIGKILL)
            _ = await daemon.waitForExit()
            let beforeKill = marks(file)
            try await daemon.start()
            let (_, run) = try await daemon.connect().watch(id)
            #expect(run["status"] == "succeeded", "run: \(run)")
            let all = marks(file)
            for target in (1...8).map({ String(format: "sw%02d", $0) }) {
                for step in ["apply", "verify"] {
                    let endedBefore = beforeKill.contains { $0.kind == "end" && $0.target == target && $0.step == step }
                    let starts = all.filter { $0.kind == "start" && $0.target == target && $0.step == step }.count
                    #expect(starts == 1 || (!endedBefore && starts == 2), "\(target)/\(step) started \(starts) times: \(fileLines(file))")
                    #expect(all.contains { $0.kind == "end" && $0.target == target && $0.step == step })
                }
            }
            await daemon.stop()
        }
    }

    @Test func twoDaemonsShareAFleetsWork() async throws {
        try await withTemporaryDirectory { dir in
            let (a, b) = try DaemonProcess.pair(in: dir, database: TestEnvironment.uniqueDatabaseName("fleetpair"), arguments: ["--max-parallel-steps", "2"])
            try await a.start()
            try await b.start()
            let c = try a.connect()
            let file = dir.appendingPathComponent("marks")
            try await createTargets(c, 8)
            // a keeps 4 members (twice its 2 slots) and queues the other 4
            // unleased, for b's claim pass (every 2 s). With steps of 3 s, a
            // has no room before that pass; with 1 s steps on a loaded
            // machine, a took all 8 itself (correct, but nothing shared).
            try await c.createWorkflow("push", [noting("apply", order: 0, file, seconds: "3")])
            let id = try await startFleet(c, "push", batch: 8)
            let (_, run) = try await c.watch(id)
            #expect(run["status"] == "succeeded", "run: \(run)")
            let starts = marks(file).filter { $0.kind == "start" }
            #expect(starts.count == 8)
            // Each step's parent is the daemon that ran it: both did some.
            #expect(Set(starts.map { $0.fields[2] }) == Set([a.pid, b.pid].compactMap { $0.map(String.init) }), "\(fileLines(file))")
            await a.stop()
            await b.stop()
        }
    }

    @Test func badFleetRequestsAreRefusedWithClearErrors() async throws {
        try await DaemonProcess.with { daemon in
            let c = try daemon.connect()
            try await createTargets(c, 2)
            try await c.createWorkflow("uses-vars", [shellStep("ping", #"ping -c1 {{target.mgmt_ip}}"#)])
            func refusal(_ params: [String: JSONValue]) async throws -> RPCError? {
                if case .failure(let error) = try await call(c, "run.start", params) { return error }
                return nil
            }
            let missingVar = try await refusal(["workflow": "uses-vars", "targets": ["labels": ["site": "ams"]]])
            #expect(missingVar?.code == .validationFailed)
            #expect(missingVar?.message.contains("{{target.mgmt_ip}}, a var 2 of the targets do not have: sw01, sw02") == true, "\(String(describing: missingVar))")
            let noTargets = try await refusal(["workflow": "uses-vars"])
            #expect(noTargets?.message.contains("start the run with targets") == true)
            try await c.createWorkflow("plain", [shellStep("ok", "true")])
            let none = try await refusal(["workflow": "plain", "targets": ["labels": ["site": "nowhere"]]])
            #expect(none?.message.contains("no target matches site=nowhere") == true, "\(String(describing: none))")
            let unknown = try await refusal(["workflow": "plain", "targets": ["names": ["sw01", "ghost"]]])
            #expect(unknown?.message.contains("no such targets: ghost") == true)
            #expect(try await refusal(["workflow": "plain", "targets": ["names": ["sw01"]], "batchSize": "0%"])?.code == .validationFailed)
            #expect(try await refusal(["workflow": "plain", "targets": ["names": ["sw01"]], "batchSize": "ten"])?.code == .invalidParams)
            #expect(try await refusal(["workflow": "plain", "targets": ["names": ["sw01"]], "maxFailPercentage": 101])?.code == .validationFailed)
            #expect(try await refusal(["workflow": "plain", "batchSize": 2])?.code == .invalidParams)
            #expect(try await refusal(["workflow": "plain", "targets": ["names": ["sw01"], "labels": ["a": "b"]]])?.code == .invalidParams)
        }
    }
}
