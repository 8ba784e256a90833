import Foundation
import OrchestratorClient
import Testing
import TestSupport

/// SIGTERM while clients are connecting: a connection that is being accepted
/// at that moment must not take the daemon down (closing the input of a
/// channel NIO had not fully registered yet used to trip an assertion: the
/// daemon died of SIGILL instead of exiting 0).
@Suite struct ShutdownTests {
    @Test func sigtermWhileConnectionsPourInStopsCleanly() async throws {
        for round in 1...4 {
            try await DaemonProcess.with { daemon in
                let churn = ConnectionChurn(path: daemon.socketPath, threads: 4)
                try await Task.sleep(for: .milliseconds(300))
                let status = await daemon.stop(signal: SIGTERM)
                churn.finish()
                #expect(churn.connections > 0)
                #expect(status == 0, "round \(round): \(daemon.log())")
                #expect(!daemon.log().contains("Assertion failed"), "round \(round): \(daemon.log())")
            }
        }
    }

    /// A daemon that drains after SIGTERM has stopped accepting; another
    /// one may put its own socket at the same path meanwhile (a restart by
    /// hand). The first one's exit leaves that socket alone: it removed the
    /// path again at its end once, and the new daemon could not be reached.
    @Test func aDrainingDaemonLeavesTheSocketOfTheOneThatReplacedIt() async throws {
        let uri = try TestEnvironment.mongoURI()
        try await withTemporaryDirectory { dir in
            let (dirA, dirB) = (dir.appendingPathComponent("a"), dir.appendingPathComponent("b"))
            for d in [dirA, dirB] { try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true) }
            let first = DaemonProcess(directory: dirA, mongoURI: uri, arguments: ["--stop-timeout-seconds", "30"])
            try await first.start()
            let c = try first.connect()
            _ = try await c.call("workflow.create", [
                "name": "slow", "steps": [["name": "wait", "executionOrder": 0, "action": ["exec": ["/bin/sleep", "3"]]]],
            ])
            let id = try #require(try await c.call("run.start", ["workflow": "slow"])["id"]?.stringValue)
            #expect(await eventually { (try? await c.call("run.get", ["id": .string(id)]))?.stepStatus("wait") == "running" })
            first.send(signal: SIGTERM)
            #expect(await eventually { !FileManager.default.fileExists(atPath: first.socketPath) })

            let second = DaemonProcess(directory: dirB, mongoURI: uri, arguments: ["--socket", first.socketPath, "--daemon-id", "the-replacement"])
            try await second.start(waitUntilServing: false)
            func servedBySecond() async -> Bool {
                guard let status = try? await TestConnection(path: first.socketPath).call("daemon.status") else { return false }
                return status["pid"]?.intValue == second.pid.map(Int.init)
            }
            #expect(await eventually { await servedBySecond() }, "\(second.log())")
            #expect(await first.waitForExit() == 0, "\(first.log())")
            #expect(await servedBySecond(), "the first daemon's exit took the second one's socket: exists \(FileManager.default.fileExists(atPath: first.socketPath)) \(first.log()) \(second.log())")
            await second.stop()
        }
    }
}

/// Threads that connect to a Unix socket and hang up again, as fast as they can.
private final class ConnectionChurn: @unchecked Sendable {
    private let lock = NSLock()
    private var stopped = false
    private var count = 0
    private let group = DispatchGroup()

    init(path: String, threads: Int) {
        for _ in 0..<threads {
            group.enter()
            Thread { [self] in
                defer { group.leave() }
                while !lock.withLock({ stopped }) {
                    // Connects, and hangs up as the connection goes out of scope.
                    if (try? RPCConnection(path: path)) != nil { lock.withLock { count += 1 } } else { usleep(1000) }
                }
            }.start()
        }
    }

    var connections: Int { lock.withLock { count } }

    func finish() {
        lock.withLock { stopped = true }
        group.wait()
    }
}
