import Foundation
import Testing
import TestSupport

/// The README's vlan-rollout example through orchctl: on a healthy switch
/// the VLAN stays; on a broken one verification fails, the run fails, and
/// the push's rollback puts the backup back.
@Suite struct ExampleRollbackTests {
    @Test func vlanRolloutRollsThePushBackWhenVerificationFails() async throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let examples = root.appendingPathComponent("examples")
        let tools = examples.appendingPathComponent("bin").path
        // The stand-in switches live where the example keeps them (steps start from a clean environment).
        let suffix = String(UUID().uuidString.prefix(8)).lowercased()
        let (healthy, broken) = ("sw-ok-\(suffix)", "sw-bad-\(suffix)")
        let devices = URL(fileURLWithPath: "/var/tmp/orchestrator-demo")
        defer { for name in [healthy, broken] { try? FileManager.default.removeItem(at: devices.appendingPathComponent(name)) } }
        try await withTemporaryDirectory { dir in
            try await DaemonProcess.with { daemon in
                #expect(try await orchctl(daemon, ["apply", "-f", examples.appendingPathComponent("vlan-rollout.yaml").path]).status == 0)
                _ = try await runCommand(tools + "/fake-device", ["break", broken])
                func start(_ device: String) async throws -> CommandResult {
                    try await orchctl(daemon, [
                        "run", "start", "vlan-rollout", "-p", "tools=\(tools)", "-p", "switch=\(device)", "-p", "vlan=120",
                        "-p", "dest=\(dir.appendingPathComponent("backups").path)", "--watch",
                    ])
                }
                let fine = try await start(healthy)
                #expect(fine.status == 0, "\(fine)")
                let config = { (device: String) in
                    (try? String(contentsOf: devices.appendingPathComponent(device).appendingPathComponent("running-config"), encoding: .utf8)) ?? ""
                }
                #expect(config(healthy).contains("vlan 120"))

                let failed = try await start(broken)
                #expect(failed.status == 1, "\(failed)")
                #expect(failed.stdout.contains("push  rolling_back"), "\(failed.stdout)")
                #expect(failed.stdout.contains("push  rolled_back"), "\(failed.stdout)")
                #expect(!config(broken).contains("vlan 120"), "the push was not rolled back: \(config(broken))")
                let id = try #require(failed.stdout.split(separator: "\n").first?.split(separator: " ").dropFirst().first.map(String.init))
                let get = try await orchctl(daemon, ["run", "get", id])
                #expect(get.stdout.contains("Rollback:") && get.stdout.contains("succeeded"), "\(get.stdout)")
            }
        }
    }
}
