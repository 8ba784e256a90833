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
