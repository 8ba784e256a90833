import Foundation
import OrchestratorClient
import Testing
import TestSupport

@Suite struct ConfigurationTests {
    private func startExpectingFailure(_ arguments: [String]) async throws -> (status: Int32?, log: String) {
        let uri = try TestEnvironment.mongoURI()
        return try await withTemporaryDirectory { dir in
            let daemon = DaemonProcess(directory: dir, mongoURI: uri)
            try await daemon.start(waitUntilServing: false, argumentsOverride: arguments)
            let status = await daemon.waitForExit()
            await daemon.stop()
            return (status, daemon.log())
        }
    }

    @Test func aBadConfigFileNamesFileLineAndKeyAndExitsNonZero() async throws {
        try await withTemporaryDirectory { dir in
            let file = dir.appendingPathComponent("bad.conf")
            try "# comment\nlog-level = info\nmax-request-bytes = lots\n".write(to: file, atomically: true, encoding: .utf8)
            let (status, log) = try await startExpectingFailure(["--config", file.path])
            #expect(status == 78)
            #expect(log.contains("\(file.path):3: max-request-bytes: 'lots' must be a whole number"), "\(log)")

            try "socket = /tmp/x.sock\ncolour = blue\n".write(to: file, atomically: true, encoding: .utf8)
            let unknown = try await startExpectingFailure(["--config", file.path])
            #expect(unknown.status == 78)
            #expect(unknown.log.contains("\(file.path):2: colour: unknown key"), "\(unknown.log)")

            try "just words\n".write(to: file, atomically: true, encoding: .utf8)
            let garbled = try await startExpectingFailure(["--config", file.path])
            #expect(garbled.log.contains("\(file.path):1: expected 'key = value'"), "\(garbled.log)")
        }
    }

    @Test func badFlagsAndMissingNamedFilesAreRefused() async throws {
        let missing = try await startExpectingFailure(["--config", "/nonexistent/orchestratord.conf"])
        #expect(missing.status == 78)
        #expect(missing.log.contains("/nonexistent/orchestratord.conf: no such file"))
        let badFlag = try await startExpectingFailure(["--log-level", "loud"])
        #expect(badFlag.status == 78)
        #expect(badFlag.log.contains("--log-level: log-level: 'loud' must be one of"))
        let unknownFlag = try await startExpectingFailure(["--colour", "blue"])
        #expect(unknownFlag.status == 64)
        #expect(unknownFlag.log.contains("unknown option '--colour'"))
    }

    @Test func withoutItsStepGateTheDaemonRefusesToStartAndSaysWhereItBelongs() async throws {
        let uri = try TestEnvironment.mongoURI()
        try await withTemporaryDirectory { dir in
            let lonely = dir.appendingPathComponent("bin/orchestratord")
            try FileManager.default.createDirectory(at: lonely.deletingLastPathComponent(), withIntermediateDirectories: true)
            // Copied by cp, not by this process: while this process holds the new file open for
            // writing, a child that another test forks meanwhile inherits the descriptor, and
            // executing the file then fails with ETXTBSY (seen once in CI).
            let copy = try await runCommand("/bin/cp", [try Binaries.path("orchestratord"), lonely.path])
            try #require(copy.status == 0, "\(copy)")
            let socket = dir.appendingPathComponent("orchestratord.sock").path
            let result = try await runCommand(lonely.path, ["--socket", socket, "--mongodb-uri", uri, "--log-target", "stderr"])
            #expect(result.status == 69, "\(result)")
            #expect(result.stderr.contains(
                "orchestrator-step-gate is missing: it must be installed in \(dir.path)/libexec/orchestrator/ or next to \(lonely.path)"), "\(result)")
            #expect(!FileManager.default.fileExists(atPath: socket))
        }
    }

    @Test func flagsWinOverTheFileAndSighupReloadsTheLogLevel() async throws {
        let uri = try TestEnvironment.mongoURI()
        try await withTemporaryDirectory { dir in
            let file = dir.appendingPathComponent("orchestratord.conf")
            try "socket = /nonexistent/dir/never.sock\nlog-level = info\n".write(to: file, atomically: true, encoding: .utf8)
            let daemon = DaemonProcess(directory: dir, mongoURI: uri, arguments: ["--config", file.path])
            try await daemon.start()
            let pid = daemon.pid
            _ = try await daemon.connect().call("daemon.status")
            #expect(!daemon.log().contains("connection opened"))

            try "socket = /nonexistent/dir/never.sock\nlog-level = debug\n".write(to: file, atomically: true, encoding: .utf8)
            daemon.send(signal: SIGHUP)
            #expect(await eventually { daemon.log().contains("configuration reloaded; log level debug") }, "\(daemon.log())")
            _ = try await daemon.connect().call("daemon.status")
            #expect(await eventually { daemon.log().contains("connection opened") })
            #expect(daemon.pid == pid && daemon.isRunning)
            #expect(await daemon.stop() == 0)
        }
    }

    /// The debug log names the daemon's services in a word each, not by a
    /// printout of everything each one holds (the pool, the engine, the
    /// daemon's record: kilobytes per line, and reflection at every start).
    @Test func theDebugLogNamesTheDaemonsServicesInAWordEach() async throws {
        try await DaemonProcess.with(arguments: ["--log-level", "debug"]) { daemon in
            let started = { daemon.log().split(separator: "\n").first { $0.contains("Starting service lifecycle") }.map(String.init) }
            #expect(await eventually { started() != nil }, "\(daemon.log())")
            let line = try #require(started())
            #expect(line.contains(#"SL_SERVICES=["identity", "health", "server", "engine", "scheduler", "signals"]"#), "\(line)")
            #expect(!line.contains("Service("), "\(line)")
            #expect(await daemon.stop() == 0)
        }
    }

    /// `mongodb://host/ops` means the database ops, unless `database` says otherwise.
    @Test func theDatabaseNamedInTheURIIsUsedUnlessDatabaseIsSet() async throws {
        let uri = try TestEnvironment.mongoURI()
        func naming(_ database: String) -> String {
            let options = uri.firstIndex(of: "?").map { String(uri[$0...]) } ?? ""
            var base = String(uri.prefix { $0 != "?" })
            if base.hasSuffix("/") { base.removeLast() }
            return base + "/" + database + options
        }
        /// The daemon's arguments without `--database NAME`.
        func withoutDatabase(_ arguments: [String]) -> [String] {
            arguments.enumerated().filter { index, word in word != "--database" && (index == 0 || arguments[index - 1] != "--database") }.map(\.element)
        }
        let inURI = TestEnvironment.uniqueDatabaseName("uri")
        try await withTemporaryDirectory { dir in
            let daemon = DaemonProcess(directory: dir, mongoURI: naming(inURI))
            try await daemon.start(argumentsOverride: withoutDatabase(daemon.arguments))
            #expect(try await daemon.connect().call("daemon.status")["database"] == .string(inURI))
            #expect(await daemon.stop() == 0)
        }
        try await withTemporaryDirectory { dir in
            let daemon = DaemonProcess(directory: dir, mongoURI: naming(inURI))
            try await daemon.start()
            #expect(try await daemon.connect().call("daemon.status")["database"] == .string(daemon.database))
            #expect(await daemon.stop() == 0)
        }
        // The server's own databases (admin: where a user authenticates) and paths in options are not it.
        try await withTemporaryDirectory { dir in
            let daemon = DaemonProcess(directory: dir, mongoURI: naming("admin"))
            try await daemon.start(argumentsOverride: withoutDatabase(daemon.arguments))
            #expect(try await daemon.connect().call("daemon.status")["database"] == "orchestrator")
            #expect(await daemon.stop() == 0)
        }
        let (status, log) = try await startExpectingFailure(["--mongodb-uri", naming("bad.name"), "--log-target", "stderr"])
        #expect(status == 78, "\(log)")
        #expect(log.contains("names database 'bad.name'"), "\(log)")
    }

    @Test func aLiveDaemonOnThePathIsNotDisplacedButAStaleFileIs() async throws {
        try await DaemonProcess.with { first in
            let second = DaemonProcess(directory: first.directory.appendingPathComponent("second"), mongoURI: first.mongoURI)
            try FileManager.default.createDirectory(at: second.directory, withIntermediateDirectories: true)
            try await second.start(waitUntilServing: false, argumentsOverride: first.arguments)
            #expect(await second.waitForExit() == 1)
            #expect(second.log().contains("another daemon is already serving \(first.socketPath)"), "\(second.log())")
            #expect(try await first.connect().call("daemon.status")["mongodb"] == "ok")
        }
        try await withTemporaryDirectory { dir in
            let daemon = DaemonProcess(directory: dir, mongoURI: try TestEnvironment.mongoURI())
            // A socket file nobody listens on, as a killed daemon leaves behind.
            close(try UnixSocket.bind(path: daemon.socketPath))
            #expect(FileManager.default.fileExists(atPath: daemon.socketPath))
            try await daemon.start()
            #expect(try await daemon.connect().call("daemon.status")["mongodb"] == "ok")
            await daemon.stop()
        }
    }
}

/// MongoDB down at start, and going down while the daemon serves.
@Suite struct DatabaseOutageTests {
    @Test func theDaemonWaitsForMongoDBBeforeReady() async throws {
        try await DatabaseServer.with { server in
            await server.stop()
            try await withTemporaryDirectory { dir in
                let notify = try NotifyListener(directory: dir)
                defer { notify.stop() }
                let daemon = DaemonProcess(
                    directory: dir, mongoURI: server.uri, arguments: ["--server-selection-timeout-ms", "300"],
                    environment: ["NOTIFY_SOCKET": notify.path])
                try await daemon.start(waitUntilServing: false)
                #expect(await notify.waitFor(prefix: "STATUS=waiting for MongoDB"))
                #expect(!notify.assignments.contains("READY=1"))
                #expect(daemon.isRunning)
                try await server.start()
                #expect(await notify.waitFor("READY=1", timeout: .seconds(60)))
                #expect(try await daemon.connect().call("daemon.status")["mongodb"] == "ok")
                #expect(await daemon.stop() == 0)
            }
        }
    }

    @Test func requestsFailFastWithStorageUnavailableAndTheDaemonRecovers() async throws {
        try await DatabaseServer.with { server in
            try await DaemonProcess.with(mongoURI: server.uri, arguments: ["--server-selection-timeout-ms", "1000"]) { daemon in
                let c = try daemon.connect()
                _ = try await c.call("workflow.create", ["name": "before"])
                await server.stop()
                let result = try await call(c, "workflow.create", ["name": "during"])
                #expect(result.errorCode == .storageUnavailable)
                // daemon.status answers at once from the last background ping (every 2 s).
                #expect(await eventually { (try? await c.call("daemon.status"))?["mongodb"]?.stringValue?.hasPrefix("unavailable") == true })
                #expect(daemon.isRunning)

                try await server.start()
                #expect(await eventually(timeout: .seconds(30)) { (try? await call(c, "workflow.create", ["name": "after"]))?.value != nil })
                #expect(try await call(c, "workflow.get", ["name": "before"]).value != nil)
                #expect(try await call(c, "workflow.get", ["name": "during"]).errorCode == .notFound)
            }
        }
    }
}
