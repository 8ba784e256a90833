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
            #expect(try await orchctl(daemon, ["target", "create", "Bad Name"]).status == 64)
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
