import Foundation
import OrchestratorModel
import OrchestratorProtocol
import Testing
import TestSupport

/// Versions as an operator meets them: `apply --dry-run` before a change,
/// `workflow history`/`diff`/`get --version` after it, and `run start
/// --version` to run what ran last week. The real orchctl against the real daemon.
@Suite struct VersionCommandTests {
    static let first = """
        name: vlan-change
        description: push a VLAN
        steps:
          - name: push
            executionOrder: 0
            retries: 3
            action: {exec: [/bin/echo, pushed v1]}
          - name: verify
            executionOrder: 1
            action: {exec: [/bin/true]}
        """

    @Test func dryRunSaysWhatWouldChangeAndExitsLikeDiff() async throws {
        try await DaemonProcess.with { daemon in
            try await withTemporaryDirectory { dir in
                let file = dir.appendingPathComponent("vlan.yaml")
                try Self.first.write(to: file, atomically: true, encoding: .utf8)

                let create = try await orchctl(daemon, ["apply", "-f", file.path, "--dry-run"])
                #expect(create.status == 2, "\(create)")
                #expect(create.stdout == "workflow vlan-change would be created with 2 steps: push, verify\n")
                #expect(try await orchctl(daemon, ["workflow", "get", "vlan-change"]).status == 3, "a dry run created the workflow")

                #expect(try await orchctl(daemon, ["apply", "-f", file.path]).status == 0)
                let same = try await orchctl(daemon, ["apply", "-f", file.path, "--dry-run"])
                #expect(same.status == 0, "\(same)")
                #expect(same.stdout.contains("no differences"))

                let second = Self.first
                    .replacingOccurrences(of: "retries: 3", with: "retries: 5")
                    .replacingOccurrences(of: "name: verify", with: "name: check")
                    + "\n  - name: report\n    executionOrder: 2\n    action: {exec: [/bin/echo, done]}\n"
                try second.write(to: file, atomically: true, encoding: .utf8)
                let changes = try await orchctl(daemon, ["apply", "-f", file.path, "--dry-run"])
                #expect(changes.status == 2, "\(changes)")
                #expect(changes.stdout == """
                    workflow vlan-change: version 1 → the file
                    ~ step push
                        retries: 3 → 5
                    > step check (renamed from verify)
                    + step report

                    """)
                let json = try await orchctl(daemon, ["-o", "json", "apply", "-f", file.path, "--dry-run"])
                #expect(json.status == 2)
                let structured = try JSONCoding.parse(json.stdout)
                #expect(structured["changed"] == true)
                #expect(structured["steps"]?.arrayValue?.map { $0["change"] } == ["changed", "renamed", "added"])
                #expect(try await daemon.connect().call("workflow.get", ["name": "vlan-change"])["version"] == 1, "a dry run changed the workflow")

                // A file with problems says all of them, as a real apply would, and exits 4.
                try second.replacingOccurrences(of: "executionOrder: 2", with: "executionOrder: -2")
                    .replacingOccurrences(of: "name: report", with: "name: Report!").write(to: file, atomically: true, encoding: .utf8)
                let invalid = try await orchctl(daemon, ["apply", "-f", file.path, "--dry-run"])
                #expect(invalid.status == 4, "\(invalid)")
                #expect(invalid.stderr.contains("steps[2].name:"))
                #expect(invalid.stderr.contains("steps[2].executionOrder:"))
            }
        }
    }

    @Test func historyDiffAndOldVersionsAfterChanges() async throws {
        try await DaemonProcess.with { daemon in
            try await withTemporaryDirectory { dir in
                let file = dir.appendingPathComponent("vlan.yaml")
                try Self.first.write(to: file, atomically: true, encoding: .utf8)
                #expect(try await orchctl(daemon, ["apply", "-f", file.path]).status == 0)
                try Self.first.replacingOccurrences(of: "pushed v1", with: "pushed v2").write(to: file, atomically: true, encoding: .utf8)
                #expect(try await orchctl(daemon, ["apply", "-f", file.path]).status == 0)
                #expect(try await orchctl(daemon, ["step", "delete", "vlan-change", "verify"]).status == 0)

                let history = try await orchctl(daemon, ["workflow", "history", "vlan-change"])
                #expect(history.status == 0, "\(history)")
                let rows = history.stdout.split(separator: "\n").map(String.init)
                #expect(rows.count == 4)
                #expect(rows[1].hasPrefix("3 ") && rows[1].hasSuffix("removed step verify"), "\(rows)")
                #expect(rows[2].hasPrefix("2 ") && rows[2].hasSuffix("changed step push (action.exec)"), "\(rows)")
                #expect(rows[3].hasPrefix("1 ") && rows[3].hasSuffix("created"), "\(rows)")
                #expect(rows[1].contains("uid \(getuid())"), "the history names who changed it: \(rows)")

                let diff = try await orchctl(daemon, ["workflow", "diff", "vlan-change", "1", "3"])
                #expect(diff.status == 0, "\(diff)")
                #expect(diff.stdout == """
                    workflow vlan-change: version 1 → version 3
                    ~ step push
                        action.exec: /bin/echo 'pushed v1' → /bin/echo 'pushed v2'
                    - step verify

                    """)

                let old = try await orchctl(daemon, ["workflow", "get", "vlan-change", "--version", "1"])
                #expect(old.status == 0, "\(old)")
                #expect(old.stdout.contains("pushed v1"))
                #expect(old.stdout.contains("verify"))

                // Bad questions: clear errors, the spec's exit codes.
                let tooNew = try await orchctl(daemon, ["workflow", "get", "vlan-change", "--version", "9"])
                #expect(tooNew.status == 4, "\(tooNew)")
                #expect(tooNew.stderr.contains("1 to 3"))
                #expect(try await orchctl(daemon, ["workflow", "diff", "vlan-change", "0"]).status == 64)
                #expect(try await orchctl(daemon, ["workflow", "history", "nope"]).status == 3)
            }
        }
    }

    @Test func aRunOfAnOldVersionRunsWhatThatVersionSaid() async throws {
        try await DaemonProcess.with { daemon in
            try await withTemporaryDirectory { dir in
                let file = dir.appendingPathComponent("vlan.yaml")
                try Self.first.write(to: file, atomically: true, encoding: .utf8)
                #expect(try await orchctl(daemon, ["apply", "-f", file.path]).status == 0)
                try Self.first.replacingOccurrences(of: "pushed v1", with: "pushed v2").write(to: file, atomically: true, encoding: .utf8)
                #expect(try await orchctl(daemon, ["apply", "-f", file.path]).status == 0)

                let old = try await orchctl(daemon, ["run", "start", "vlan-change", "--version", "1", "--watch"])
                #expect(old.status == 0, "\(old)")
                #expect(old.stdout.contains("(version 1)"))
                let current = try await orchctl(daemon, ["run", "start", "vlan-change", "--watch"])
                #expect(current.status == 0, "\(current)")
                #expect(current.stdout.contains("(version 2)"))

                let runs = try await daemon.connect().call("run.list", ["workflow": "vlan-change"])
                let ids = (runs["items"]?.arrayValue ?? []).compactMap { $0["id"]?.stringValue }
                #expect(ids.count == 2)
                var pushed: [Int: String] = [:]
                for id in ids {
                    let run = try await daemon.connect().call("run.get", ["id": .string(id)])
                    let version = run["workflowVersion"]?.intValue ?? 0
                    pushed[version] = run["steps"]?.arrayValue?.first { $0["name"] == "push" }?["stdout"]?.stringValue
                }
                #expect(pushed == [1: "pushed v1\n", 2: "pushed v2\n"])

                // A resumed run goes on with its own definition, and says so when the workflow moved on.
                try Self.first.replacingOccurrences(of: "/bin/true", with: "/bin/false").write(to: file, atomically: true, encoding: .utf8)
                #expect(try await orchctl(daemon, ["apply", "-f", file.path]).status == 0)
                let failing = try await orchctl(daemon, ["run", "start", "vlan-change", "--watch"])
                #expect(failing.status == 1, "\(failing)")
                let failedId = try #require(failing.stdout.split(separator: "\n").first?.split(separator: " ").dropFirst().first.map(String.init))
                try Self.first.write(to: file, atomically: true, encoding: .utf8)
                #expect(try await orchctl(daemon, ["apply", "-f", file.path]).status == 0)
                let resumed = try await orchctl(daemon, ["run", "resume", failedId])
                #expect(resumed.status == 0, "\(resumed)")
                #expect(resumed.stdout.contains("with version 3 of vlan-change"), "\(resumed.stdout)")
                #expect(resumed.stdout.contains("note: vlan-change is at version 4 now; this run goes on with version 3"), "\(resumed.stdout)")

                let none = try await orchctl(daemon, ["run", "start", "vlan-change", "--version", "7"])
                #expect(none.status == 4, "\(none)")
                #expect(none.stderr.contains("version"))
            }
        }
    }
}
