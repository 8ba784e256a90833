import Foundation
import OrchestratorProtocol
import Testing
import TestSupport

/// Targets through the real daemon and orchctl, against the real database.
@Suite struct TargetTests {
    static let inventory = """
        all:
          vars:
            ntp: 10.0.0.1
          children:
            ams:
              vars: {site: ams}
              hosts:
                leaf01.ams: {ansible_host: 10.1.1.1}
                leaf02.ams: {ansible_host: 10.1.1.2}
            lab:
              hosts:
                leaf02.ams:
                Lab_Box: {ansible_host: 10.9.9.9}
        """

    @Test func targetCommandsWorkEndToEnd() async throws {
        try await DaemonProcess.with { daemon in
            let create = try await orchctl(daemon, ["target", "create", "r1", "--label", "site=fra", "--var", "ansible_host=10.2.0.1"])
            #expect(create.status == 0, "\(create)")
            let get = try await orchctl(daemon, ["target", "get", "r1"])
            #expect(get.stdout.contains("site=fra") && get.stdout.contains("ansible_host=10.2.0.1"), "\(get)")
            let update = try await orchctl(daemon, ["target", "update", "r1", "--var", "asn=65001", "--unset-var", "ansible_host", "--label", "role=edge"])
            #expect(update.status == 0, "\(update)")
            let json = try JSONCoding.parse(try await orchctl(daemon, ["-o", "json", "target", "get", "r1"]).stdout)
            #expect(json["vars"] == ["asn": "65001"])
            #expect(json["labels"] == ["site": "fra", "role": "edge"])
            #expect(try await orchctl(daemon, ["target", "list", "--targets", "role=edge"]).stdout.contains("r1"))
            #expect(try await orchctl(daemon, ["target", "list", "--targets", "role=core"]).stdout.contains("No targets with labels role=core"))
            #expect(try await orchctl(daemon, ["target", "create", "r1"]).status == 4)
            #expect(try await orchctl(daemon, ["target", "get", "nosuch"]).status == 3)
            #expect(try await orchctl(daemon, ["target", "create", "Bad Name"]).status == 4)
            #expect(try await orchctl(daemon, ["target", "delete", "r1"]).status == 0)
            #expect(try await orchctl(daemon, ["target", "list"]).stdout.contains("No targets"))
        }
    }

    @Test func aBadInventoryIsRefusedWithEveryProblemAndItsLineAndNothingIsCreated() async throws {
        try await withInventory(Self.inventory) { daemon, file in
            let refused = try await orchctl(daemon, ["target", "import", "-f", file])
            #expect(refused.status == 4, "\(refused)")
            #expect(refused.stderr.contains("all.children.lab.hosts.Lab_Box.name (line 13)"), "\(refused.stderr)")
            #expect(try await orchctl(daemon, ["target", "list"]).stdout.contains("No targets"))
        }
    }

    @Test func anImportDryRunShowsThePlanThenTheImportMakesIt() async throws {
        try await withInventory(Self.inventory.replacingOccurrences(of: "Lab_Box", with: "lab-box")) { daemon, file in
            #expect(try await orchctl(daemon, ["target", "create", "leaf01.ams", "--var", "ansible_host=10.1.1.99"]).status == 0)
            let dry = try await orchctl(daemon, ["target", "import", "-f", file, "--dry-run"])
            #expect(dry.status == 0, "\(dry)")
            #expect(dry.stdout.contains("2 would create, 1 would update, 0 unchanged (dry run: nothing was changed)"), "\(dry.stdout)")
            #expect(dry.stdout.contains("vars.ansible_host: 10.1.1.99 → 10.1.1.1"), "\(dry.stdout)")
            #expect(try await orchctl(daemon, ["target", "get", "lab-box"]).status == 3)

            let done = try await orchctl(daemon, ["target", "import", "-f", file])
            #expect(done.stdout.hasPrefix("2 created, 1 updated, 0 unchanged"), "\(done.stdout)")
            let leaf02 = try JSONCoding.parse(try await orchctl(daemon, ["-o", "json", "target", "get", "leaf02.ams"]).stdout)
            #expect(leaf02["labels"] == ["group": "ams,lab"])
            #expect(leaf02["vars"] == ["ntp": "10.0.0.1", "site": "ams", "ansible_host": "10.1.1.2"])
            let again = try await orchctl(daemon, ["target", "import", "-f", file])
            #expect(again.stdout.hasPrefix("0 created, 0 updated, 3 unchanged"), "\(again.stdout)")
            let ini = try await call(daemon.connect(), "target.import", ["format": "ini", "content": "[x]"])
            #expect(ini.errorCode == .invalidParams)
        }
    }
}

/// A daemon, and an inventory file holding `text`.
func withInventory(_ text: String, _ body: (DaemonProcess, String) async throws -> Void) async throws {
    try await DaemonProcess.with { daemon in
        try await withTemporaryDirectory { dir in
            let file = dir.appendingPathComponent("inventory.yml")
            try text.write(to: file, atomically: true, encoding: .utf8)
            try await body(daemon, file.path)
        }
    }
}

/// The fleet example as the README runs it, through orchctl: the inventory
/// imported, the VLAN pushed to the ams leaves two at a time, the broken one
/// failing its batch, the third batch skipped; `run get`, `run target` and
/// `run logs --target` say which target did what.
@Suite struct FleetCommandTests {
    @Test func theFleetExampleRunsAsTheReadmeSays() async throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let examples = root.appendingPathComponent("examples")
        try await withTemporaryDirectory { dir in
            // The stand-in switches live where the example keeps them (steps start from a clean environment).
            try await DaemonProcess.with { daemon in
                #expect(try await orchctl(daemon, ["target", "import", "-f", examples.appendingPathComponent("fleet-inventory.yml").path]).status == 0)
                #expect(try await orchctl(daemon, ["apply", "-f", examples.appendingPathComponent("vlan-fleet.yaml").path]).status == 0)
                let watch = try await orchctl(daemon, [
                    "run", "start", "vlan-fleet", "--targets", "group=ams", "--batch", "2", "--max-fail", "20%",
                    "-p", "tools=\(examples.appendingPathComponent("bin").path)", "-p", "vlan=120", "-p", "dest=\(dir.appendingPathComponent("backups").path)",
                    "--watch",
                ])
                #expect(watch.status == 1, "\(watch)")
                // Not a terminal: one line per event.
                #expect(watch.stdout.contains("batch 1  batch_started"), "\(watch.stdout)")
                #expect(watch.stdout.contains("target leaf04.ams  failed"), "\(watch.stdout)")
                #expect(watch.stdout.contains("budget_exceeded"), "\(watch.stdout)")
                let id = try #require(watch.stdout.split(separator: "\n").first?.split(separator: " ").dropFirst().first.map(String.init))

                let get = try await orchctl(daemon, ["run", "get", id])
                #expect(get.stdout.contains("6 (group=ams): 3 succeeded, 1 failed, 2 skipped"), "\(get.stdout)")
                #expect(get.stdout.contains("leaf04.ams  2      failed"), "\(get.stdout)")
                let target = try await orchctl(daemon, ["run", "target", id, "leaf04.ams"])
                #expect(target.stdout.contains("Target:") && target.stdout.contains("verify"), "\(target.stdout)")
                let logs = try await orchctl(daemon, ["run", "logs", id, "--target", "leaf04.ams", "verify"])
                #expect(logs.stdout.contains("leaf04.ams: not responding"), "\(logs.stdout)")
                #expect(try await orchctl(daemon, ["run", "logs", id]).status == 64)
                #expect(try await orchctl(daemon, ["run", "target", id, "leaf06.ams"]).stderr.contains("never started: it was skipped"))
                // The workflow shows what its targets did: every one backed up and pushed, one failed its verify.
                let workflow = try await orchctl(daemon, ["workflow", "get", "vlan-fleet", "-o", "json"])
                let steps = (try JSONSerialization.jsonObject(with: Data(workflow.stdout.utf8)) as? [String: Any])?["steps"] as? [[String: Any]] ?? []
                let shown = Dictionary(uniqueKeysWithValues: steps.compactMap { step in (step["name"] as? String).map { ($0, step["status"] as? String ?? "") } })
                #expect(shown == ["backup": "succeeded", "push": "succeeded", "verify": "failed"], "\(workflow.stdout)")

                // On a terminal (a pseudo-terminal from script(1)): the live matrix, redrawn in place.
                let command = ([try Binaries.path("orchctl")] + [
                    "run", "start", "vlan-fleet", "--targets", "group=ams", "--batch", "2", "--max-fail", "20%",
                    "-p", "tools=\(examples.appendingPathComponent("bin").path)", "-p", "vlan=120", "-p", "dest=\(dir.appendingPathComponent("backups").path)",
                    "--watch",
                ]).map { "'\($0)'" }.joined(separator: " ")
                var env = ProcessInfo.processInfo.environment
                env["ORCHCTL_SOCKET"] = daemon.socketPath
                env["TERM"] = "xterm"
                let tty = try await runCommand("/usr/bin/script", ["-qec", command, "/dev/null"], environment: env)
                #expect(tty.status == 1, "\(tty)")
                #expect(tty.stdout.contains("\u{1B}[2K"), "redrawn in place: \(tty.stdout)")
                #expect(tty.stdout.contains("TARGET") && tty.stdout.contains("STEPS (backup push verify)"), "\(tty.stdout)")
                // The last frame: every target accounted for, the broken one failed with a ✘ in its row, the progress bar full.
                let lastFrame = tty.stdout.components(separatedBy: "fleet run ").last ?? ""
                #expect(lastFrame.contains("6/6") && lastFrame.contains("3 succeeded, 1 failed, 2 skipped"), "\(lastFrame)")
                let brokenRow = lastFrame.split(separator: "\n").first { $0.contains("leaf04.ams") }.map(String.init) ?? ""
                #expect(brokenRow.contains("failed") && brokenRow.contains("✘"), "\(brokenRow)")
            }
        }
    }
}
