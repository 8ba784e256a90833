import Foundation
import OrchestratorClient
import OrchestratorProtocol
import Testing
import TestSupport

/// Sends raw text (one or more lines) and reads `count` answer lines back, parsed.
func exchange(_ connection: TestConnection, _ text: String, answers count: Int = 1) async throws -> [JSONValue] {
    try await connection.sendRaw(Array(text.utf8))
    var answers: [JSONValue] = []
    for _ in 0..<count { answers.append(try JSONCoding.parse(await connection.readLine())) }
    return answers
}

func step(_ name: String, order: Int = 0, _ exec: [String] = ["/bin/true"]) -> JSONValue {
    ["name": .string(name), "executionOrder": .int(Int64(order)), "action": ["exec": .array(exec.map { .string($0) })]]
}

/// Runs the built orchctl against a daemon; `user` runs it through setpriv as
/// that uid with the given groups.
func orchctl(
    _ daemon: DaemonProcess, _ arguments: [String], stdin: String? = nil, asUser user: (uid: UInt32, gid: UInt32, groups: [UInt32])? = nil
) async throws -> CommandResult {
    let binary = try Binaries.path("orchctl")
    var env = ProcessInfo.processInfo.environment
    env["ORCHCTL_SOCKET"] = daemon.socketPath
    guard let user else { return try await runCommand(binary, arguments, environment: env, stdin: stdin) }
    let groups = user.groups.isEmpty ? ["--clear-groups"] : ["--groups", user.groups.map(String.init).joined(separator: ",")]
    return try await runCommand(
        "/usr/bin/setpriv", ["--reuid", String(user.uid), "--regid", String(user.gid)] + groups + ["--", binary] + arguments,
        environment: env, stdin: stdin)
}

func groupID(_ name: String) -> UInt32? {
    getgrnam(name).map { $0.pointee.gr_gid }
}

extension JSONValue {
    func step(_ name: String) -> JSONValue? { self["steps"]?.arrayValue?.first { $0["name"]?.stringValue == name } }
    func stepStatus(_ name: String) -> String? { step(name)?["status"]?.stringValue }
}

func fileLines(_ url: URL) -> [String] {
    ((try? String(contentsOf: url, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
}
