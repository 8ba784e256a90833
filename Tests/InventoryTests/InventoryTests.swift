import Foundation
import OrchestratorInventory
import OrchestratorModel
import Testing
import TestSupport

@Suite struct InventoryTests {
    /// Shaped like the inventories network teams keep: `all:vars`, sites
    /// with nested role groups, host vars, a range, a host in two groups.
    static let fabric = """
        all:
          vars:
            ntp_server: 10.0.0.1
            os_version: "1.10"
          children:
            ams:
              vars:
                site: ams
                ntp_server: 10.1.0.1
              children:
                ams_leaf:
                  vars:
                    role: leaf
                  hosts:
                    leaf[01:03].ams:
                      vendor: arista
                    leaf04.ams:
                      ansible_host: 10.1.1.4
                      vendor: juniper
                ams_spine:
                  hosts:
                    spine01.ams:
                      ansible_host: 10.1.0.11
            canary:
              hosts:
                leaf01.ams:
                  canary_wave: 1
          hosts:
            jump01:
              ansible_host: 192.0.2.10
        """

    @Test func anAnsibleYAMLInventoryBecomesTargetsWithMergedVarsAndGroupLabels() throws {
        let targets = try Inventory.read(Self.fabric, format: .ansibleYAML)
        let byName = Dictionary(uniqueKeysWithValues: targets.map { ($0.name, $0) })
        #expect(byName.keys.sorted() == ["jump01", "leaf01.ams", "leaf02.ams", "leaf03.ams", "leaf04.ams", "spine01.ams"])

        let leaf01 = try #require(byName["leaf01.ams"])
        // all:vars, then ams (overrides ntp_server), then ams_leaf, then the host's own.
        #expect(leaf01.vars == [
            "ntp_server": "10.1.0.1", "os_version": "1.10", "site": "ams", "role": "leaf", "vendor": "arista", "canary_wave": "1",
        ])
        #expect(leaf01.labels == ["group": "ams,ams_leaf,canary"])
        #expect(byName["leaf04.ams"]?.vars["vendor"] == "juniper")
        #expect(byName["leaf04.ams"]?.vars["ansible_host"] == "10.1.1.4")
        #expect(byName["spine01.ams"]?.labels == ["group": "ams,ams_spine"])
        #expect(byName["spine01.ams"]?.vars["role"] == nil)
        // A host directly under all: no groups, all's vars.
        #expect(byName["jump01"]?.labels == [:])
        #expect(byName["jump01"]?.vars == ["ntp_server": "10.0.0.1", "os_version": "1.10", "ansible_host": "192.0.2.10"])
    }

    @Test func everyProblemOfABadInventoryIsReportedWithItsLine() {
        let bad = """
            all:
              children:
                core:
                  hosts:
                    Core01:
                      mgmt-ip: 10.0.0.1
                    core02:
                      name: core-two
                  host_vars:
                    x: 1
                edge:
                  hosts:
                    edge[05:01]:
            """
        let error = #expect(throws: OrchestratorError.self) { try Inventory.read(bad, format: .ansibleYAML) }
        guard case .validationFailed(let problems)? = error?.kind else {
            Issue.record("expected a validation error, got \(String(describing: error))")
            return
        }
        let fields = problems.map(\.field)
        #expect(fields.contains { $0.hasPrefix("all.children.core.hosts.Core01.name") && $0.hasSuffix("(line 5)") })
        #expect(fields.contains { $0.contains("Core01.vars.mgmt-ip") && $0.hasSuffix("(line 5)") })
        #expect(fields.contains { $0.contains("core02.vars.name") && $0.hasSuffix("(line 7)") })
        #expect(fields.contains { $0 == "all.children.core.host_vars (line 9)" })
        #expect(fields.contains { $0 == "all.children.edge.hosts.edge[05:01] (line 13)" })
        #expect(problems.count == 5, "\(problems)")
    }

    @Test func whatAnsibleInventoryListPrintsAsJSONIsReadToo() throws {
        let json = """
            {"_meta": {"hostvars": {"leaf01": {"ansible_host": "10.0.0.1", "asn": 65001}, "leaf02": {"ansible_host": "10.0.0.2"}}},
             "all": {"children": ["ungrouped", "leaf"]},
             "leaf": {"hosts": ["leaf01", "leaf02"], "vars": {"role": "leaf"}},
             "ungrouped": {}}
            """
        let targets = try Inventory.read(json, format: .json)
        #expect(targets.map(\.name).sorted() == ["leaf01", "leaf02"])
        let leaf01 = try #require(targets.first { $0.name == "leaf01" })
        #expect(leaf01.vars == ["ansible_host": "10.0.0.1", "asn": "65001", "role": "leaf"])
        #expect(leaf01.labels == ["group": "leaf"])
    }

    @Test func aJSONListOfTargetsIsReadAsTargetGetShowsThem() throws {
        let json = """
            [{"name": "r1", "labels": {"site": "ams"}, "vars": {"host": "10.0.0.1"}, "id": "ignored"},
             {"name": "r2", "labels": {"site": "fra,lab"}}]
            """
        let targets = try Inventory.read(json, format: .json)
        #expect(targets == [
            TargetDraft(name: "r1", labels: ["site": "ams"], vars: ["host": "10.0.0.1"]),
            TargetDraft(name: "r2", labels: ["site": "fra,lab"]),
        ])
        let twice = #expect(throws: OrchestratorError.self) { try Inventory.read(#"[{"name": "r1"}, {"name": "r1"}]"#, format: .json) }
        #expect(problemText(twice).contains("'r1' is listed more than once"))
    }

    /// Ansible reads the inventory and prints it back (`--list -y`, `--list`,
    /// and `--export`, which keeps group vars in their groups): each of its
    /// outputs imports to exactly the targets the inventory imports to.
    @Test(arguments: [["--list", "-y"], ["--list"], ["--list", "-y", "--export"]])
    func whatAnsibleReadsAndPrintsImportsToTheSameTargets(_ flags: [String]) async throws {
        let binary = try TestEnvironment.ansibleInventory()
        try await withTemporaryDirectory { dir in
            let file = dir.appendingPathComponent("fabric.yml")
            try Self.fabric.write(to: file, atomically: true, encoding: .utf8)
            let printed = try await runCommand(binary, ["-i", file.path] + flags, environment: ["ANSIBLE_LOCAL_TEMP": dir.path, "HOME": dir.path, "LANG": "C.UTF-8", "PATH": "/usr/bin:/bin"])
            #expect(printed.status == 0, "\(printed)")
            let format: Inventory.Format = flags.contains("-y") ? .ansibleYAML : .json
            let direct = try Inventory.read(Self.fabric, format: .ansibleYAML).sorted { $0.name < $1.name }
            let roundTrip = try Inventory.read(printed.stdout, format: format).sorted { $0.name < $1.name }
            #expect(roundTrip == direct, "ansible-inventory printed:\n\(printed.stdout)")
        }
    }

    @Test func hostRangesCountNumbersWithTheirWidthLettersAndSteps() throws {
        let yaml = """
            all:
              hosts:
                sw[08:11]:
                rack-[a:c]:
                odd[1:5:2]:
            """
        let names = try Inventory.read(yaml, format: .ansibleYAML).map(\.name)
        #expect(names == ["sw08", "sw09", "sw10", "sw11", "rack-a", "rack-b", "rack-c", "odd1", "odd3", "odd5"])
    }

    @Test func aGroupThatContainsItselfIsRefused() {
        let yaml = """
            all:
              children:
                a:
                  children:
                    b:
                      hosts:
                        h1:
                      children:
                        a:
            """
        #expect(throws: OrchestratorError.self) { try Inventory.read(yaml, format: .ansibleYAML) }
    }

    @Test func syntaxErrorsAndEmptyInventoriesAreClearErrors() {
        for (content, format, expected) in [
            ("all: [unclosed", Inventory.Format.ansibleYAML, "invalid YAML"), ("", .ansibleYAML, "empty"),
            ("{", .json, "invalid JSON"), ("- a\n- b", .ansibleYAML, "mapping of groups"),
        ] {
            let error = #expect(throws: OrchestratorError.self) { try Inventory.read(content, format: format) }
            #expect(problemText(error).contains(expected), "\(content): \(problemText(error))")
        }
    }
}

/// Every problem of a validation error, one `field: message` per line.
func problemText(_ error: OrchestratorError?) -> String {
    guard case .validationFailed(let problems)? = error?.kind else { return error?.message ?? "no error" }
    return problems.map { "\($0.field): \($0.message)" }.joined(separator: "\n")
}
