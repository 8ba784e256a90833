import Foundation
import OrchestratorClient
import OrchestratorProtocol
import Testing
import TestSupport

/// `run.start` is safe to repeat: a request id makes a second start return
/// the first run, and a start whose answer from MongoDB was lost is
/// answered OutcomeUnknown (-32007), never StorageUnavailable (which
/// promises that nothing was written).
@Suite struct LostReplyTests {
    private func start(_ c: TestConnection, _ workflow: String, requestId: String?) async -> Result<JSONValue, RPCError> {
        var params: [String: JSONValue] = ["workflow": .string(workflow)]
        if let requestId { params["requestId"] = .string(requestId) }
        do {
            return .success(try await c.call("run.start", params))
        } catch .rpc(let error) {
            return .failure(error)
        } catch {
            return .failure(RPCError(.internalError, "\(error)"))
        }
    }

    private func runIds(_ c: TestConnection, _ workflow: String) async throws -> [String] {
        try await c.call("run.list", ["workflow": .string(workflow)])["items"]?.arrayValue?.compactMap { $0["id"]?.stringValue } ?? []
    }

    /// A daemon that reaches the test database through a `FlakyProxy`, with short socket timeouts.
    private func withDaemonBehindAProxy(_ body: (DaemonProcess, FlakyProxy) async throws -> Void) async throws {
        let upstream = try #require(URLComponents(string: try TestEnvironment.mongoURI())?.port)
        let proxy = try FlakyProxy(to: upstream)
        defer { proxy.stop() }
        let uri = "mongodb://127.0.0.1:\(proxy.port)/?socketTimeoutMS=2000"
        try await DaemonProcess.with(mongoURI: uri, arguments: ["--server-selection-timeout-ms", "1000"]) { daemon in
            try await body(daemon, proxy)
        }
    }

    @Test func aRepeatedStartWithTheSameRequestIdReturnsTheFirstRun() async throws {
        try await DaemonProcess.with { daemon in
            let c = try daemon.connect()
            try await c.createWorkflow("once", [shellStep("push", order: 0, "echo pushed")])
            let first = try await start(c, "once", requestId: "change-4711").get()
            let again = try await start(c, "once", requestId: "change-4711").get()
            #expect(again["id"] == first["id"])
            #expect(first["requestId"] == "change-4711")
            let other = try await start(c, "once", requestId: "change-4712").get()
            #expect(other["id"] != first["id"])
            // Without one, a run's own id is its request id.
            let plain = try await start(c, "once", requestId: nil).get()
            #expect(plain["requestId"] == plain["id"])
            #expect(try await runIds(c, "once").count == 3)

            for bad in ["", String(repeating: "x", count: 65), "line\nbreak"] {
                guard case .failure(let refused) = await start(c, "once", requestId: bad) else {
                    Issue.record("accepted request id \(bad.debugDescription)")
                    continue
                }
                #expect(refused.code == .validationFailed)
                #expect(refused.data?["errors"]?.arrayValue?.first?["field"] == "requestId")
            }
        }
    }

    @Test func aStartWhoseAnswerIsLostIsOutcomeUnknownAndItsRepeatFindsTheRun() async throws {
        try await withDaemonBehindAProxy { daemon, proxy in
            let c = try daemon.connect()
            let marks = daemon.directory.appendingPathComponent("marks")
            try await c.createWorkflow("vlan", [shellStep("push", order: 0, "echo pushed >> '\(marks.path)'")])

            // The insert reaches MongoDB; its answer does not come back (nor that of the driver's retry).
            proxy.set(.dropRepliesToInserts(into: "runs"))
            let lost = await start(c, "vlan", requestId: "vlan-120")
            proxy.set(.forward)
            proxy.dropConnections()
            guard case .failure(let unknown) = lost else { throw Failure("the start was answered although its reply was dropped: \(lost)") }
            #expect(unknown.code == .outcomeUnknown, "\(unknown)")
            #expect(unknown.data?["requestId"] == "vlan-120")

            // Repeated with its request id: the run the first request made, and no second one.
            var repeated: Result<JSONValue, RPCError> = .failure(RPCError(.internalError, "not tried"))
            #expect(await eventually(timeout: .seconds(30)) {
                repeated = await start(c, "vlan", requestId: "vlan-120")
                return (try? repeated.get()) != nil
            }, "\(repeated)")
            let run = try repeated.get()
            #expect(try await runIds(c, "vlan") == [run["id"]?.stringValue ?? ""])
            let (_, final) = try await c.watch(run["id"]?.stringValue ?? "")
            #expect(final["status"] == "succeeded")
            #expect(fileLines(marks) == ["pushed"])
        }
    }

    @Test func orchctlAsksOnceMoreWithTheSameRequestIdAndSaysHowToRepeatIt() async throws {
        try await withDaemonBehindAProxy { daemon, proxy in
            let c = try daemon.connect()
            try await c.createWorkflow("vlan", [shellStep("push", order: 0, "echo pushed")])
            var env = ProcessInfo.processInfo.environment
            env["ORCHCTL_SOCKET"] = daemon.socketPath
            let orchctl = try Binaries.path("orchctl")

            proxy.set(.dropRepliesToInserts(into: "runs"))
            let unknown = try await runCommand(orchctl, ["run", "start", "vlan"], environment: env)
            proxy.set(.forward)
            proxy.dropConnections()
            #expect(unknown.status == 1, "\(unknown)")
            #expect(unknown.stderr.contains("whether the run was started is unknown"), "\(unknown)")
            // Both attempts reached MongoDB with one request id: one run at most.
            let requestId = try #require(unknown.stderr.components(separatedBy: "--request-id ").last?.split(separator: " ").first.map(String.init))
            #expect(await eventually(timeout: .seconds(30)) { (try? await c.call("daemon.status"))?["mongodb"] == "ok" })

            let repeated = try await runCommand(orchctl, ["-o", "json", "run", "start", "vlan", "--request-id", requestId], environment: env)
            #expect(repeated.status == 0, "\(repeated)")
            let run = try JSONCoding.parse(repeated.stdout)
            #expect(run["requestId"]?.stringValue == requestId)
            #expect(try await runIds(c, "vlan") == [run["id"]?.stringValue ?? ""])
        }
    }
}
