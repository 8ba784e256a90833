import Foundation
import OrchestratorProtocol
import Testing
import TestSupport

/// Locks against the real daemon and database: a second run against the
/// same device waits instead of interleaving its change; fleet runs over
/// overlapping targets never hold one device twice; a circle of waits is
/// broken; a dead owner's locks do not stay held.
@Suite struct LockTests {
    /// Notes `start`/`end` of the step with what it works on, from the step itself.
    private func device(_ name: String, order: Int = 0, _ marks: URL, seconds: String, locks: [String], subject: String) -> JSONValue {
        var step = shellStep(
            name, order: order,
            #"echo "start \#(subject) $ORCH_RUN_ID $(date +%s%N)" >> '\#(marks.path)'; sleep \#(seconds); echo "end \#(subject) $ORCH_RUN_ID $(date +%s%N)" >> '\#(marks.path)'"#)
        if case .object(var o) = step {
            o["locks"] = .array(locks.map { .string($0) })
            step = .object(o)
        }
        return step
    }

    /// Per subject, the intervals in which a step worked on it.
    private func intervals(_ file: URL) -> [String: [(start: UInt64, end: UInt64, run: String)]] {
        var open: [String: (UInt64, String)] = [:]
        var out: [String: [(start: UInt64, end: UInt64, run: String)]] = [:]
        for line in fileLines(file) {
            let parts = line.split(separator: " ").map(String.init)
            guard parts.count == 4, let time = UInt64(parts[3]) else { continue }
            let key = "\(parts[1]) \(parts[2])"
            if parts[0] == "start" { open[key] = (time, parts[2]) } else if let started = open.removeValue(forKey: key) {
                out[parts[1], default: []].append((started.0, time, started.1))
            }
        }
        return out
    }

    /// No two intervals of one subject overlap.
    private func neverTwoHolders(_ file: URL) -> Bool {
        intervals(file).values.allSatisfy { spans in
            let sorted = spans.sorted { $0.start < $1.start }
            return zip(sorted, sorted.dropFirst()).allSatisfy { $0.end <= $1.start }
        }
    }

    /// `step` with `locks`.
    private func locked(_ step: JSONValue, _ locks: [String]) -> JSONValue {
        guard case .object(var o) = step else { return step }
        o["locks"] = .array(locks.map { .string($0) })
        return .object(o)
    }

    @Test func aStepsLockGoesBackWhenTheStepEndsNotWhenItsRunEnds() async throws {
        try await withTemporaryDirectory { dir in
            try await DaemonProcess.with { daemon in
                let c = try daemon.connect()
                let gate = dir.appendingPathComponent("gate")
                // The backup holds the device; the verify after it holds nothing and waits for the gate.
                try await c.createWorkflow("change", [
                    locked(shellStep("backup", order: 0, "true"), ["device:sw1"]),
                    shellStep("verify", order: 1, waitFor(gate)),
                ])
                try await c.createWorkflow("peek", [locked(shellStep("peek", order: 0, "true"), ["device:sw1"])])
                let first = try await c.startRun("change")
                #expect(await eventually { (try? await c.call("run.get", ["id": .string(first)]))?.stepStatus("verify") == "running" })
                // The device is free once the backup ended: another run's step gets it while the first run still runs.
                let second = try await c.startRun("peek")
                #expect(await eventually { (try? await c.runStatus(second)) == "succeeded" }, "the backup's lock was still held after it ended")
                #expect(try await c.runStatus(first) == "running")
                _ = FileManager.default.createFile(atPath: gate.path, contents: nil)
                #expect(try await c.watch(first).run["status"] == "succeeded")
            }
        }
    }

    @Test func aSecondRunAgainstTheSameDeviceWaitsAndShowsWhatFor() async throws {
        try await withTemporaryDirectory { dir in
            try await DaemonProcess.with { daemon in
                let c = try daemon.connect()
                let marks = dir.appendingPathComponent("marks")
                // The step holds its device until the test opens the device's gate.
                let gate = dir.appendingPathComponent("gate-")
                try await c.createWorkflow("push", [
                    device("push", marks, seconds: "0; while [ ! -e \"\(gate.path)$ORCH_PARAM_DEV\" ]; do sleep 0.05; done",
                           locks: ["device:{{params.dev}}"], subject: "$ORCH_PARAM_DEV"),
                ])
                let first = try await c.startRun("push", ["dev": "sw1"])
                #expect(await eventually { fileLines(marks).count == 1 })
                let second = try await c.startRun("push", ["dev": "sw1"])
                #expect(await eventually {
                    let run = try? await c.call("run.get", ["id": .string(second)])
                    return run?.stepStatus("push") == "waiting"
                })
                let waiting = try await c.call("run.get", ["id": .string(second)]).step("push")?["waitingFor"]
                #expect(waiting == ["lock": "device:sw1", "runId": .string(first)])
                // Another device is not held up: sw2's run goes through while sw1 is held.
                _ = FileManager.default.createFile(atPath: gate.path + "sw2", contents: nil)
                #expect(try await c.watch(try await c.startRun("push", ["dev": "sw2"])).run["status"] == "succeeded")
                #expect(try await c.call("run.get", ["id": .string(second)]).stepStatus("push") == "waiting")
                _ = FileManager.default.createFile(atPath: gate.path + "sw1", contents: nil)
                for id in [first, second] { #expect(try await c.watch(id).run["status"] == "succeeded") }
                #expect(neverTwoHolders(marks), "\(fileLines(marks))")
            }
        }
    }

    /// Two fleet runs over overlapping devices, whose batches reach the shared
    /// devices in different orders: the run-level lock `device:{{target.name}}`
    /// keeps one change per device at a time, and both fleets complete.
    @Test func fleetRunsOverOverlappingTargetsNeverHoldADeviceTwice() async throws {
        try await withTemporaryDirectory { dir in
            try await DaemonProcess.with(arguments: ["--max-parallel-steps", "8"]) { daemon in
                let c = try daemon.connect()
                let marks = dir.appendingPathComponent("marks")
                for name in ["sw1", "sw2", "sw3", "sw4"] { _ = try await c.call("target.create", ["name": .string(name)]) }
                _ = try await c.call("workflow.create", [
                    "name": "change", "locks": ["device:{{target.name}}"],
                    "steps": [
                        device("backup", order: 0, marks, seconds: "0.3", locks: [], subject: "$ORCH_TARGET"),
                        device("push", order: 1, marks, seconds: "0.3", locks: [], subject: "$ORCH_TARGET"),
                    ],
                ])
                let a = try await c.call("run.start", ["workflow": "change", "targets": ["names": ["sw1", "sw2", "sw3"]], "batchSize": 1])["id"]!.stringValue!
                let b = try await c.call("run.start", ["workflow": "change", "targets": ["names": ["sw2", "sw3", "sw4"]], "batchSize": 3])["id"]!.stringValue!
                #expect(try await c.watch(a).run["status"] == "succeeded")
                #expect(try await c.watch(b).run["status"] == "succeeded")
                #expect(neverTwoHolders(marks), "\(fileLines(marks))")
                // Each device's two steps of one run came together: no other run's step between them.
                for (subject, spans) in intervals(marks) {
                    let runs = spans.sorted { $0.start < $1.start }.map(\.run)
                    #expect(runs == runs.reduce(into: [String]()) { out, run in if out.last != run { out.append(run) } }.flatMap { [$0, $0] }, "\(subject): \(runs)")
                }
            }
        }
    }

    /// Run x holds `x` and wants `y` for a step; run y holds `y` and wants
    /// `x`: waiting would never end. The later run's step fails, saying
    /// why; the other completes.
    @Test func aCircleOfWaitsIsBrokenWithAClearError() async throws {
        try await withTemporaryDirectory { dir in
            try await DaemonProcess.with { daemon in
                let c = try daemon.connect()
                let gate = dir.appendingPathComponent("gate")
                for (mine, theirs) in [("x", "y"), ("y", "x")] {
                    _ = try await c.call("workflow.create", [
                        "name": .string("hold-\(mine)"), "locks": [.string(mine)],
                        "steps": [shellStep("first", order: 0, waitFor(gate)), device("second", order: 1, dir.appendingPathComponent("marks"), seconds: "0", locks: [theirs], subject: mine)],
                    ])
                }
                let x = try await c.startRun("hold-x")
                let y = try await c.startRun("hold-y")
                #expect(await eventually {
                    let statuses = try? await [c.call("run.get", ["id": .string(x)]).stepStatus("first"), c.call("run.get", ["id": .string(y)]).stepStatus("first")]
                    return statuses == ["running", "running"]
                })
                _ = FileManager.default.createFile(atPath: gate.path, contents: nil)
                let runs = [try await c.watch(x).run, try await c.watch(y).run]
                let failed = runs.filter { $0["status"] == "failed" }
                #expect(failed.count == 1, "\(runs)")
                #expect(failed.first?.step("second")?["error"]?.stringValue?.contains("deadlock") == true, "\(runs)")
                #expect(runs.contains { $0["status"] == "succeeded" })
            }
        }
    }

    /// kill -9 while a run holds a lock: after the restart the lock does not stay
    /// held by the dead daemon, and the next run against the device goes ahead.
    @Test func aDeadOwnersLockDoesNotStayHeld() async throws {
        try await withTemporaryDirectory { dir in
            let daemon = DaemonProcess(directory: dir, mongoURI: try TestEnvironment.mongoURI(), arguments: ["--lease-seconds", "3"])
            try await daemon.start()
            let c = try daemon.connect()
            let marks = dir.appendingPathComponent("marks")
            try await c.createWorkflow("push", [device("push", marks, seconds: "30", locks: ["device:sw9"], subject: "sw9")])
            let first = try await c.startRun("push")
            #expect(await eventually { fileLines(marks).count == 1 })
            daemon.send(signal: SIGKILL)
            _ = await daemon.waitForExit()
            try await daemon.start()
            let after = try daemon.connect()
            // The interrupted step is not idempotent: its run fails, and gives its locks back.
            #expect(try await after.watch(first).run["status"] == "failed")
            try await after.createWorkflow("quick", [device("quick", marks, seconds: "0", locks: ["device:sw9"], subject: "sw9")])
            #expect(try await after.watch(try await after.startRun("quick")).run["status"] == "succeeded")
            await daemon.stop()
        }
    }
}
