import Foundation
import OrchestratorProtocol
import Testing
import TestSupport

/// `orchctl schedule` and `orchctl window` as an operator uses them: the
/// real binary against the real daemon, with the exit codes of the spec.
@Suite struct ScheduleCommandTests {
    @Test func schedulesAreCreatedShownPausedResumedAndDeleted() async throws {
        try await DaemonProcess.with { daemon in
            #expect(try await orchctl(daemon, ["workflow", "create", "backup"]).status == 0)
            let window = try await orchctl(daemon, ["window", "create", "sat-night", "--cron", "0 22 * * sat", "--duration", "240", "--timezone", "Europe/Berlin"])
            #expect(window.status == 0, "\(window)")
            let create = try await orchctl(daemon, [
                "schedule", "create", "nightly", "--workflow", "backup", "--cron", "30 2 * * *", "--timezone", "Europe/Berlin",
                "-p", "dest=/var/backups", "--window", "sat-night", "--missed", "runOnce",
            ])
            #expect(create.status == 0, "\(create)")
            #expect(create.stdout.contains("Next fire times:"), "\(create.stdout)")

            let get = try await orchctl(daemon, ["schedule", "get", "nightly"])
            #expect(get.status == 0, "\(get)")
            #expect(get.stdout.contains("30 2 * * * (Europe/Berlin)"))
            #expect(get.stdout.contains("runOnce"))
            #expect(get.stdout.contains("dest=/var/backups"))
            // Five fire times ahead, each at 02:30 in Berlin: 01:30 UTC in winter, 00:30 in summer.
            let times = get.stdout.split(separator: "\n").filter { $0.hasPrefix("  20") }
            #expect(times.count == 5, "\(get.stdout)")
            #expect(times.allSatisfy { $0.contains("T01:30:00") || $0.contains("T00:30:00") }, "\(times)")

            let json = try JSONCoding.parse(try await orchctl(daemon, ["-o", "json", "schedule", "get", "nightly"]).stdout)
            #expect(json["nextFireTimes"]?.arrayValue?.count == 5)
            #expect(json["window"] == "sat-night")

            #expect(try await orchctl(daemon, ["schedule", "pause", "nightly"]).status == 0)
            let paused = try await orchctl(daemon, ["schedule", "list"])
            #expect(paused.stdout.contains("paused"), "\(paused.stdout)")
            let resumed = try await orchctl(daemon, ["schedule", "resume", "nightly"])
            #expect(resumed.status == 0 && resumed.stdout.contains("Next fire times:"), "\(resumed)")
            #expect(try await orchctl(daemon, ["schedule", "list"]).stdout.contains("active"))

            let windows = try await orchctl(daemon, ["window", "list"])
            #expect(windows.stdout.contains("sat-night") && windows.stdout.contains("240"), "\(windows.stdout)")
            #expect(try await orchctl(daemon, ["window", "get", "sat-night"]).stdout.contains("0 22 * * sat (Europe/Berlin)"))

            #expect(try await orchctl(daemon, ["schedule", "delete", "nightly"]).status == 0)
            #expect(try await orchctl(daemon, ["schedule", "get", "nightly"]).status == 3)
            #expect(try await orchctl(daemon, ["window", "delete", "sat-night"]).status == 0)
            #expect(try await orchctl(daemon, ["schedule", "list"]).stdout.contains("No schedules"))
        }
    }

    @Test func badSchedulesGetEveryProblemAndTheSpecsExitCodes() async throws {
        try await DaemonProcess.with { daemon in
            #expect(try await orchctl(daemon, ["workflow", "create", "backup"]).status == 0)
            let bad = try await orchctl(daemon, [
                "schedule", "create", "nightly", "--workflow", "backup", "--cron", "61 * * *", "--timezone", "Mars/Olympus", "--window", "nowhere",
            ])
            #expect(bad.status == 4, "\(bad)")
            for field in ["cron:", "timezone:", "window:"] { #expect(bad.stderr.contains("  \(field)"), "\(bad.stderr)") }
            #expect(try await orchctl(daemon, ["schedule", "create", "Bad!", "--workflow", "backup", "--cron", "@daily"]).status == 4)
            #expect(try await orchctl(daemon, ["schedule", "create", "s", "--workflow", "backup", "--cron", "@daily", "--missed", "later"]).status == 64)
            #expect(try await orchctl(daemon, ["schedule", "create", "s", "--workflow", "backup", "--cron", "@daily", "--batch", "2"]).status == 64)
            let missing = try await orchctl(daemon, ["schedule", "create", "s", "--workflow", "nope", "--cron", "@daily"])
            #expect(missing.status == 4 && missing.stderr.contains("no workflow named 'nope'"), "\(missing)")
            #expect(try await orchctl(daemon, ["schedule", "create", "s", "--workflow", "backup", "--cron", "@daily"]).status == 0)
            #expect(try await orchctl(daemon, ["schedule", "create", "s", "--workflow", "backup", "--cron", "@daily"]).status == 4)
            #expect(try await orchctl(daemon, ["schedule", "pause", "nope"]).status == 3)
            let window = try await orchctl(daemon, ["window", "create", "w", "--cron", "@daily", "--duration", "0"])
            #expect(window.status == 4 && window.stderr.contains("durationMinutes:"), "\(window)")
            // A reader may look but not change.
            let reader = (uid: UInt32(65534), gid: UInt32(65534), groups: [UInt32(65534)])
            try await withReadableSocket(daemon) { () async throws in
                let list = try await orchctl(daemon, ["schedule", "list"], asUser: reader)
                #expect(list.status == 0, "\(list)")
                let pause = try await orchctl(daemon, ["schedule", "pause", "s"], asUser: reader)
                #expect(pause.status == 5, "\(pause)")
            }
        }
    }

    /// The test daemon's socket group is root: let `nobody` connect for the reader's part.
    private func withReadableSocket(_ daemon: DaemonProcess, _ body: () async throws -> Void) async throws {
        guard getuid() == 0 else { throw Failure("this test switches users with setpriv and must run as root") }
        chmod(daemon.socketPath, 0o666)
        try await body()
    }
}
