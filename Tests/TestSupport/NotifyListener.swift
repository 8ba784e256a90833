import Foundation
import OrchestratorClient

/// A datagram socket standing in for systemd's NOTIFY_SOCKET: collects what
/// the daemon sends (READY=1, STATUS=..., WATCHDOG=1, STOPPING=1).
public final class NotifyListener: @unchecked Sendable {
    public let path: String
    private let fd: Int32
    // Guarded by `lock`; filled by the reader thread.
    private var received: [String] = []
    private let lock = NSLock()
    private var thread: Thread?

    public init(directory: URL) throws {
        path = directory.appendingPathComponent("notify.sock").path
        do throws(UnixSocket.Failure) {
            fd = try UnixSocket.bind(path: path, kind: .datagram)
        } catch {
            throw TestEnvironment.Missing(description: "cannot bind \(error)")
        }
        var timeout = timeval(tv_sec: 0, tv_usec: 200_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let thread = Thread { [weak self] in self?.readLoop() }
        self.thread = thread
        thread.start()
    }

    deinit {
        close(fd)
    }

    private var stopped = false

    public func stop() {
        lock.withLock { stopped = true }
    }

    private func readLoop() {
        var buffer = [UInt8](repeating: 0, count: 4096)
        while !lock.withLock({ stopped }) {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n > 0 {
                let text = String(decoding: buffer[..<n], as: UTF8.self)
                lock.withLock { received.append(text) }
            }
        }
    }

    /// Every datagram so far, each split into its `KEY=value` lines.
    public var messages: [[String]] {
        lock.withLock { received.map { $0.split(separator: "\n").map(String.init) } }
    }

    public var assignments: [String] { messages.flatMap { $0 } }

    public func waitFor(_ assignment: String, timeout: Duration = .seconds(30)) async -> Bool {
        await eventually(timeout: timeout) { assignments.contains(assignment) }
    }

    public func waitFor(prefix: String, timeout: Duration = .seconds(30)) async -> Bool {
        await eventually(timeout: timeout) { assignments.contains { $0.hasPrefix(prefix) } }
    }
}

/// A daemon (not started yet) whose sd_notify messages go to a listener the
/// test reads. The test starts and stops the daemon itself, since how it
/// stops is often what is tested.
public func withNotifiedDaemon<T>(
    arguments: [String] = [], environment: [String: String] = [:], _ body: (DaemonProcess, NotifyListener) async throws -> T
) async throws -> T {
    let uri = try TestEnvironment.mongoURI()
    return try await withTemporaryDirectory { dir in
        let notify = try NotifyListener(directory: dir)
        defer { notify.stop() }
        var env = environment
        env["NOTIFY_SOCKET"] = notify.path
        let daemon = DaemonProcess(directory: dir, mongoURI: uri, arguments: arguments, environment: env)
        do {
            let result = try await body(daemon, notify)
            await daemon.stop()
            return result
        } catch {
            await daemon.stop()
            throw error
        }
    }
}
