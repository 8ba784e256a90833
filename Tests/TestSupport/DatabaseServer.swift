import Foundation

/// A SecantusDB server of the test's own, on a free loopback port, that the
/// test can stop and start again (same port, same data) to play an outage.
public final class DatabaseServer: @unchecked Sendable {
    // Mutated only by the test that owns the server, from one task at a time.
    private var process: SpawnedProcess?
    private let executable: String
    public let port: Int
    public let storage: URL
    private let logFile: URL

    public var uri: String { "mongodb://127.0.0.1:\(port)/" }

    init(executable: String, storage: URL) throws {
        self.executable = executable
        self.storage = storage
        self.port = try FreePort.find()
        self.logFile = storage.appendingPathExtension("log")
    }

    /// Starts the server and waits until it accepts connections.
    public func start() async throws {
        let process = SpawnedProcess()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = [
            "--host", "127.0.0.1", "--port", String(port), "--storage-path", storage.path, "--log-level", "WARNING",
        ]
        _ = FileManager.default.createFile(atPath: logFile.path, contents: nil)
        let log = try FileHandle(forWritingTo: logFile)
        process.standardOutput = log
        process.standardError = log
        try process.run()
        self.process = process
        try await waitUntilAccepting(timeout: 30)
    }

    /// Stops the server (SIGTERM, then SIGKILL) and waits until it is gone.
    public func stop() async {
        guard let process else { return }
        self.process = nil
        process.terminate()
        for _ in 0..<100 where process.isRunning {
            try? await Task.sleep(for: .milliseconds(100))
        }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    private func waitUntilAccepting(timeout: Double) async throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if FreePort.accepts(port) { return }
            if let process, !process.isRunning {
                break
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        let log = (try? String(contentsOf: logFile, encoding: .utf8)) ?? ""
        throw TestEnvironment.Missing(description: "secantusd-py did not accept connections on port \(port): \(log.suffix(2000))")
    }

    /// Runs `body` with a fresh server that is stopped afterwards, whatever happens.
    public static func with<T>(_ body: (DatabaseServer) async throws -> T) async throws -> T {
        let executable = try TestEnvironment.secantusd()
        return try await withTemporaryDirectory { directory in
            let server = try DatabaseServer(executable: executable, storage: directory.appendingPathComponent("db"))
            try await server.start()
            do {
                let result = try await body(server)
                await server.stop()
                return result
            } catch {
                await server.stop()
                throw error
            }
        }
    }
}

public enum FreePort {
    /// A port the kernel just handed out for loopback, closed again for the server to take.
    public static func find() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestEnvironment.Missing(description: "socket() failed: \(errno)") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(fd, pointer, length) == 0 && getsockname(fd, pointer, &length) == 0
            }
        }
        guard bound else { throw TestEnvironment.Missing(description: "could not find a free port: errno \(errno)") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    public static func accepts(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
    }
}
