import Foundation
import OrchestratorProtocol
import Testing
import TestSupport

/// Schedules and maintenance windows against the real daemons and
/// database, with the daemons' wall clocks set ahead by
/// `--clock-offset-seconds` (libfaketime made a daemon spin in libdispatch's
/// timers once its clock was more than a minute or two ahead), so a fire
/// time or a window's opening comes within seconds, and "down for 35
/// minutes" is a restart with a clock 35 minutes further ahead.
@Suite struct ScheduleDaemonTests {
    private static func utc(_ date: Date, _ format: String) -> String {
        let formatter = DateFormatter()
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = format
        return formatter.string(from: date)
    }

    /// The runs of `workflow`, by the request id that names their fire time.
    private static func runsByFireTime(_ c: TestConnection, _ workflow: String) async throws -> [String: [JSONValue]] {
        let page = try await c.call("run.list", ["workflow": .string(workflow), "limit": 1000])
        return Dictionary(grouping: page["items"]?.arrayValue ?? []) { $0["requestId"]?.stringValue ?? "-" }
    }

    @Test func eachFireTimeStartsOneRunWithTwoDaemonsAndOneKilled() async throws {
        try await withTemporaryDirectory { dir in
            let (a, b) = try DaemonProcess.pair(in: dir, database: TestEnvironment.uniqueDatabaseName("sched"), arguments: ["--lease-seconds", "10"])
            try await a.start()
            let marks = dir.appendingPathComponent("marks")
            let c = try a.connect()
            try await c.createWorkflow("tick", [shellStep("note", "echo \"$ORCH_RUN_ID\" >> '\(marks.path)'")])
            let created = try await c.call("schedule.create", ["name": "every-minute", "workflow": "tick", "cron": "* * * * *"])
            let fire = try #require(created["nextFireAt"]?.stringValue.flatMap(RFC3339.parse))
            // Both daemons come (back) with their clocks three seconds before the fire time, and reach it together: one run.
            await a.stop()
            try await a.start(at: fire.addingTimeInterval(-3))
            try await b.start(at: fire.addingTimeInterval(-3))
            #expect(await eventually(timeout: .seconds(30)) { fileLines(marks).count == 1 })
            try await Task.sleep(for: .seconds(2))
            var runs = try await Self.runsByFireTime(try b.connect(), "tick")
            #expect(runs.count == 1 && runs.values.allSatisfy { $0.count == 1 }, "\(runs)")
            #expect(try await a.connect().call("schedule.get", ["name": "every-minute"])["lastFireAt"]?.stringValue == RFC3339.format(fire))

            // One daemon is killed, and comes back with its clock past the next fire time:
            // it fires that one at once; its peer, whose clock is not there yet, does not again.
            await a.stop(signal: SIGKILL)
            try await a.start(at: fire.addingTimeInterval(62))
            #expect(await eventually(timeout: .seconds(30)) { fileLines(marks).count == 2 })
            try await Task.sleep(for: .seconds(3))
            runs = try await Self.runsByFireTime(try b.connect(), "tick")
            #expect(runs.count == 2 && runs.values.allSatisfy { $0.count == 1 }, "\(runs)")
            #expect(Set(fileLines(marks)).count == 2, "a run's step ran twice: \(fileLines(marks))")
            let second = try await b.connect().call("schedule.get", ["name": "every-minute"])
            #expect(second["lastFireAt"]?.stringValue == RFC3339.format(fire.addingTimeInterval(60)))
            #expect(second["nextFireTimes"]?.arrayValue?.first?.stringValue == RFC3339.format(fire.addingTimeInterval(120)))
            await a.stop()
            await b.stop()
        }
    }

    /// Down for 35 minutes across fire times every ten: `skip` starts
    /// nothing for them, `runOnce` one run; both fire again as usual after.
    @Test func missedFireTimesAfterADaemonWasDown() async throws {
        try await withTemporaryDirectory { dir in
            let daemon = DaemonProcess(directory: dir, mongoURI: try TestEnvironment.mongoURI())
            try await daemon.start(ahead: 60)
            let c = try daemon.connect()
            try await c.createWorkflow("tock", [shellStep("note", "true")])
            for (name, missed) in [("skipper", "skip"), ("catcher", "runOnce")] {
                _ = try await c.call("schedule.create", ["name": .string(name), "workflow": "tock", "cron": "*/10 * * * *", "missed": .string(missed)])
            }
            await daemon.stop()
            // 35 minutes later (and well clear of a fire time, so none is merely late).
            let later = Int(Date().timeIntervalSince1970) + 60 + 35 * 60
            try await daemon.start(ahead: 60 + 35 * 60 + (900 - later % 600) % 600)
            let c2 = try daemon.connect()
            #expect(await eventually { (try? await c2.call("schedule.get", ["name": "catcher"])["lastRunId"]?.stringValue) != nil })
            try await Task.sleep(for: .seconds(2))
            let catcher = try await c2.call("schedule.get", ["name": "catcher"])
            let skipper = try await c2.call("schedule.get", ["name": "skipper"])
            #expect(skipper["lastRunId"] == .null, "\(skipper)")
            let runs = try await Self.runsByFireTime(c2, "tock")
            #expect(runs.count == 1, "\(runs)")
            #expect(runs.values.first?.first?["id"] == catcher["lastRunId"])
            for schedule in [catcher, skipper] {
                let next = try #require(schedule["nextFireAt"]?.stringValue.flatMap(RFC3339.parse))
                #expect(next > Date().addingTimeInterval(60), "the next fire time is ahead: \(schedule)")
            }
            #expect(daemon.log().contains("schedule skipper missed"), "\(daemon.log())")
            await daemon.stop()
        }
    }

    /// A run bound to a window waits for it, queued, and starts when it
    /// opens; once it has closed (the daemon came back with its clock past
    /// it) no further step starts: the run fails and rolls back what it did.
    @Test func aWindowOpensAndClosesAroundARun() async throws {
        try await withTemporaryDirectory { dir in
            let daemon = DaemonProcess(directory: dir, mongoURI: try TestEnvironment.mongoURI())
            try await daemon.start()
            let c = try daemon.connect()
            let marks = dir.appendingPathComponent("marks")
            // A one-minute window a few minutes from now.
            let opens = Date(timeIntervalSince1970: (Date().timeIntervalSince1970 / 60).rounded(.down) * 60 + 300)
            _ = try await c.call("window.create", [
                "name": "one-minute", "cron": .string(Self.utc(opens, "m H d M *")), "durationMinutes": 1,
            ])
            _ = try await c.call("workflow.create", [
                "name": "change", "window": "one-minute",
                "steps": [
                    ["name": "push", "executionOrder": 0,
                     "action": ["exec": ["/bin/sh", "-c", .string("echo push >> '\(marks.path)'")]],
                     "rollback": ["exec": ["/bin/sh", "-c", .string("echo undo >> '\(marks.path)'")]]],
                    ["name": "board", "executionOrder": 1, "approval": ["notStarter": false]],
                    shellStep("verify", order: 2, "echo verify >> '\(marks.path)'"),
                ],
            ])
            let id = try await c.startRun("change")
            let waiting = try await c.call("run.get", ["id": .string(id)])
            #expect(waiting["status"] == "queued")
            #expect(waiting["waitingFor"]?["window"] == "one-minute", "\(waiting)")
            #expect(waiting["waitingFor"]?["opensAt"]?.stringValue == RFC3339.format(opens))
            // The daemon comes back with its clock just before the opening: the run starts when it opens.
            await daemon.stop()
            try await daemon.start(at: opens.addingTimeInterval(-2))
            let c1 = try daemon.connect()
            #expect(try await eventually(timeout: .seconds(30)) { try await c1.call("run.get", ["id": .string(id)]).stepStatus("board") == "waiting_approval" })
            let started = try await c1.call("run.get", ["id": .string(id)])
            #expect(try #require(started["startedAt"]?.stringValue.flatMap(RFC3339.parse)) >= opens)
            #expect(started["waitingFor"] == nil)
            // The daemon comes back two minutes on: the window has closed.
            await daemon.stop()
            try await daemon.start(at: opens.addingTimeInterval(120))
            let c2 = try daemon.connect()
            _ = try await c2.call("run.approve", ["id": .string(id), "step": "board"])
            let (_, run) = try await c2.watch(id)
            #expect(run["status"] == "failed")
            #expect(run.step("verify")?["error"]?.stringValue?.hasPrefix("not started: maintenance window one-minute closed") == true, "\(run)")
            #expect(run.stepStatus("push") == "rolled_back")
            #expect(fileLines(marks) == ["push", "undo"])
            await daemon.stop()
        }
    }
}

extension DaemonProcess {
    /// Starts the daemon with its wall clock `seconds` ahead of this host's.
    fileprivate func start(ahead seconds: Int) async throws {
        try await start(argumentsOverride: arguments + ["--clock-offset-seconds", String(seconds)])
    }

    /// Starts the daemon with its wall clock showing `time` now.
    fileprivate func start(at time: Date) async throws {
        try await start(ahead: Int(time.timeIntervalSinceNow.rounded()))
    }
}
