import Foundation
import OrchestratorClient

/// The real `orchestratord` binary, started on a socket of its own in a
/// temporary directory against a database of its own.
public final class DaemonProcess: @unchecked Sendable {
    // Mutated only by the owning test, one step at a time.
    public let directory: URL
    public let socketPath: String
    public let database: String
    public let mongoURI: String
    private var process: SpawnedProcess?
    public let logFile: URL
    public var extraArguments: [String]
    public var environment: [String: String]

    public init(directory: URL, mongoURI: String, database: String? = nil, arguments: [String] = [], environment: [String: String] = [:]) {
        ignoreBrokenPipes()
        self.directory = directory
        self.socketPath = directory.appendingPathComponent("orchestratord.sock").path
        self.database = database ?? TestEnvironment.uniqueDatabaseName("daemon")
        self.mongoURI = mongoURI
        self.logFile = directory.appendingPathComponent("orchestratord.log")
        self.extraArguments = arguments
        self.environment = environment
    }

    public var pid: Int32? { process?.processIdentifier }
    public var isRunning: Bool { process?.isRunning ?? false }

    /// The arguments the daemon is started with: its own socket and database,
    /// logs on stderr unless the test asks otherwise, and no config file.
    public var arguments: [String] {
        ["--socket", socketPath, "--mongodb-uri", mongoURI, "--database", database, "--log-target", "stderr",
               "--socket-group", "root", "--admin-group", "root", "--secret-key-file", TestEnvironment.secretKeyFile]
            + extraArguments
    }

    /// Starts the process; with `waitUntilServing` it returns once the socket accepts connections.
    public func start(waitUntilServing: Bool = true, executable: String? = nil, argumentsOverride: [String]? = nil) async throws {
        let process = SpawnedProcess()
        process.executableURL = URL(fileURLWithPath: try executable ?? Binaries.path("orchestratord"))
        process.arguments = argumentsOverride ?? arguments
        var env = ProcessInfo.processInfo.environment
        for key in ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES", "JOURNAL_STREAM"] {
            env[key] = nil
        }
        env["MONGOC_DISABLE_SHM"] = "1"
        env.merge(environment) { _, new in new }
        process.environment = env
        if !FileManager.default.fileExists(atPath: logFile.path) {
            _ = FileManager.default.createFile(atPath: logFile.path, contents: nil)
        }
        let output = try FileHandle(forWritingTo: logFile)
        output.seekToEndOfFile()
        process.standardOutput = output
        process.standardError = output
        process.standardInput = FileHandle.nullDevice
        try process.run()
        self.process = process
        if waitUntilServing {
            let serving = await eventually(timeout: .seconds(60)) {
                !process.isRunning || (try? RPCConnection(path: socketPath)) != nil
            }
            guard serving, process.isRunning else {
                throw TestEnvironment.Missing(description: "orchestratord did not start serving \(socketPath): \(log())")
            }
        }
    }

    /// Sends a signal and waits for the exit; returns the exit status.
    @discardableResult
    public func stop(signal: Int32 = SIGTERM, timeout: Duration = .seconds(60)) async -> Int32? {
        guard let process else { return nil }
        if process.isRunning { kill(process.processIdentifier, signal) }
        let exited = await eventually(timeout: timeout) { !process.isRunning }
        if !exited {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        self.process = nil
        return process.terminationStatus
    }

    /// Waits for the process to exit by itself (e.g. a refused start).
    public func waitForExit(timeout: Duration = .seconds(30)) async -> Int32? {
        guard let process else { return nil }
        guard await eventually(timeout: timeout, { !process.isRunning }) else { return nil }
        return process.terminationStatus
    }

    public func send(signal: Int32) {
        if let pid { kill(pid, signal) }
    }

    public func log() -> String {
        (try? String(contentsOf: logFile, encoding: .utf8)) ?? ""
    }

    public func connect() throws -> TestConnection {
        try TestConnection(path: socketPath)
    }

    /// Runs `body` with a started daemon in a fresh directory; stops it
    /// afterwards. At most a few such tests run at once (Turnstile.daemons).
    public static func with<T>(
        mongoURI: String? = nil, arguments: [String] = [], environment: [String: String] = [:],
        _ body: (DaemonProcess) async throws -> T
    ) async throws -> T {
        try await Turnstile.daemons.inTurn {
            try await withInTurn(mongoURI: mongoURI, arguments: arguments, environment: environment, body)
        }
    }

    private static func withInTurn<T>(
        mongoURI: String?, arguments: [String], environment: [String: String], _ body: (DaemonProcess) async throws -> T
    ) async throws -> T {
        let uri = try mongoURI ?? TestEnvironment.mongoURI()
        return try await withTemporaryDirectory { dir in
            let daemon = DaemonProcess(directory: dir, mongoURI: uri, arguments: arguments, environment: environment)
            do {
                try await daemon.start()
                let result = try await body(daemon)
                await daemon.stop()
                return result
            } catch {
                await daemon.stop()
                throw error
            }
        }
    }
}

extension DaemonProcess {
    /// Two daemons sharing one database, each with a directory (and socket)
    /// of its own under `dir`: `a` started with `arguments`, `b` with
    /// `argumentsB` (the same unless given). Neither is started yet.
    public static func pair(
        in dir: URL, database: String, arguments: [String] = [], argumentsB: [String]? = nil
    ) throws -> (a: DaemonProcess, b: DaemonProcess) {
        let uri = try TestEnvironment.mongoURI()
        let dirA = dir.appendingPathComponent("a"), dirB = dir.appendingPathComponent("b")
        for d in [dirA, dirB] { try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true) }
        return (DaemonProcess(directory: dirA, mongoURI: uri, database: database, arguments: arguments),
                DaemonProcess(directory: dirB, mongoURI: uri, database: database, arguments: argumentsB ?? arguments))
    }
}

extension DaemonProcess {
    /// Starts the daemon under libfaketime, its wall clock `seconds` ahead
    /// of this host's and its monotonic clocks left alone (faked, they break
    /// Swift's timers). It cannot set a clock behind: Swift's `Task.sleep`
    /// then waits the offset too (measured: a 1 s sleep had not ended after
    /// 20 s). Through the `faketime` wrapper, which preloads the library as
    /// it should be for a threaded program (preloading it by hand made the
    /// daemon fail to reach MongoDB here).
    public func startAhead(by seconds: Int) async throws {
        try await start(
            executable: "/usr/bin/env",
            argumentsOverride: ["FAKETIME_DONT_FAKE_MONOTONIC=1", "/usr/bin/faketime", "-f", "+\(seconds)s", try Binaries.path("orchestratord")] + arguments)
    }

    /// Stops a daemon started by `startAhead`: `faketime` does not pass
    /// signals on, so they go to the daemon, its child.
    public func stopAhead(signal: Int32 = SIGTERM) async {
        if let wrapper = pid {
            for child in childPids(of: wrapper) { kill(child, signal) }
        }
        _ = await waitForExit(timeout: .seconds(60))
        await stop()
    }
}
