import Foundation
import OrchestratorClient
import OrchestratorProtocol
import Testing
import TestSupport

/// Clients cannot wear the daemon down: a cap on connections (the next one
/// is told TooManyConnections and closed) and on a batch's requests.
@Suite struct LimitsTests {
    @Test func aBatchLongerThanMaxBatchIsRefusedWhole() async throws {
        try await DaemonProcess.with(arguments: ["--max-batch", "5"]) { daemon in
            let c = try daemon.connect()
            func batch(_ count: Int) -> String {
                "[" + (0..<count).map { #"{"jsonrpc":"2.0","id":\#($0),"method":"daemon.status"}"# }.joined(separator: ",") + "]\n"
            }
            func exchange(_ text: String) async throws -> JSONValue {
                try await c.sendRaw(Array(text.utf8))
                return try JSONCoding.parse(await c.readLine())
            }
            let refused = try await exchange(batch(6))
            #expect(refused["error"]?["code"] == -32600)
            #expect(refused["error"]?["message"]?.stringValue?.contains("at most 5") == true)
            // The connection stays usable, and a batch within the limit is answered whole.
            #expect(try await exchange(batch(5)).arrayValue?.count == 5)
        }
    }

    /// The daemon runs with 1,024 descriptors (systemd's default) and meets
    /// 1,500 clients that connect and say nothing: the first 256 are served,
    /// every other one is told why it is turned away, and steps still get
    /// the descriptors they need: a run started on one of the served
    /// connections succeeds while all of them are open.
    @Test func idleClientsBeyondMaxConnectionsAreTurnedAwayAndRunsStillGetDescriptors() async throws {
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        limit.rlim_cur = max(limit.rlim_cur, min(limit.rlim_max, 4096))
        setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        try #require(limit.rlim_cur >= 2000, "the tests need 2,000 descriptors; the hard limit is \(limit.rlim_max)")

        let uri = try TestEnvironment.mongoURI()
        try await withTemporaryDirectory { dir in
            let daemon = DaemonProcess(directory: dir, mongoURI: uri)
            let prlimit = try #require(["/usr/bin/prlimit", "/bin/prlimit"].first { FileManager.default.isExecutableFile(atPath: $0) })
            try await daemon.start(executable: prlimit, argumentsOverride: ["--nofile=1024", try Binaries.path("orchestratord")] + daemon.arguments)
            defer { Task { await daemon.stop() } }
            let admin = try daemon.connect()
            try await admin.createWorkflow("fds", (0..<4).map { shellStep("s\($0)", order: $0 / 2, "echo out; echo err >&2; ls /proc/self/fd | wc -l") })

            var idle: [Int32] = []
            defer { for fd in idle { close(fd) } }
            for _ in 0..<1_500 { idle.append(try UnixSocket.connect(path: daemon.socketPath)) }

            // Those turned away get one line and are closed; the rest hear nothing.
            var turnedAway = 0
            #expect(await eventually(timeout: .seconds(60)) {
                turnedAway = idle.filter { Self.wasTurnedAway($0) }.count
                // 255 served besides the admin's (254 while the start's probe connection is still being closed).
                return turnedAway == 1_500 - 255 || turnedAway == 1_500 - 254
            }, "turned away: \(turnedAway)")
            #expect(daemon.isRunning)

            let id = try await admin.startRun("fds")
            let (_, run) = try await admin.watch(id)
            #expect(run["status"] == "succeeded", "run: \(run)\nlog: \(daemon.log().suffix(2000))")
            #expect(run.step("s3")?["stdout"]?.stringValue?.hasPrefix("out\n") == true)
            #expect(daemon.log().contains("turned away"))

            // Once clients leave, new ones are served again.
            for fd in idle { close(fd) }
            idle.removeAll()
            #expect(await eventually { (try? await daemon.connect().call("daemon.status"))?["mongodb"] == "ok" })
        }
    }

    /// Whether the daemon answered -32008 on this connection and closed it (without waiting).
    private static func wasTurnedAway(_ fd: Int32) -> Bool {
        var buffer = [UInt8](repeating: 0, count: 512)
        let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT | MSG_PEEK)) }
        guard count > 0, let line = String(bytes: buffer[..<count], encoding: .utf8) else { return false }
        return line.contains("-32008")
    }
}
