import Foundation

/// Where the test run's database and tools are, as `scripts/test` exports them.
public enum TestEnvironment {
    public static let mongoURIVariable = "ORCH_TEST_MONGODB_URI"
    public static let secantusdVariable = "ORCH_TEST_SECANTUSD"

    public struct Missing: Error, CustomStringConvertible {
        public let description: String
    }

    private static let howToStart = """
        The integration tests need a MongoDB-compatible server. Run the whole suite with \
        `scripts/test` (it installs and starts SecantusDB on a free port), or start one by hand: \
        `scripts/test-db start` and export the \(mongoURIVariable) and \(secantusdVariable) it prints.
        """

    /// The URI of the shared test server; throws a message that says how to start one.
    public static func mongoURI() throws -> String {
        guard let uri = ProcessInfo.processInfo.environment[mongoURIVariable], !uri.isEmpty else {
            throw Missing(description: "\(mongoURIVariable) is not set. \(howToStart)")
        }
        return uri
    }

    /// Ansible's `ansible-inventory`, for round trips of inventories through Ansible itself.
    public static func ansibleInventory() throws -> String {
        guard let path = ProcessInfo.processInfo.environment["ORCH_TEST_ANSIBLE_INVENTORY"], !path.isEmpty else {
            throw Missing(description: "ORCH_TEST_ANSIBLE_INVENTORY is not set. `scripts/test-db start` installs ansible-core into the venv and prints it")
        }
        return path
    }

    /// The venv's Python, with croniter: a second opinion on cron fire times.
    public static func python() throws -> String {
        guard let path = ProcessInfo.processInfo.environment["ORCH_TEST_PYTHON"], !path.isEmpty else {
            throw Missing(description: "ORCH_TEST_PYTHON is not set. `scripts/test-db start` installs croniter into the venv and prints it")
        }
        return path
    }

    /// Debian's Prometheus server, to scrape the daemon's metrics for real.
    public static func prometheus() throws -> String {
        let path = ProcessInfo.processInfo.environment["ORCH_TEST_PROMETHEUS"] ?? "/usr/bin/prometheus"
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw Missing(description: "\(path) is missing: install Debian's prometheus package (scripts/test does), or set ORCH_TEST_PROMETHEUS")
        }
        return path
    }

    /// The `secantusd-py` executable, for tests that start and stop their own server.
    public static func secantusd() throws -> String {
        guard let path = ProcessInfo.processInfo.environment[secantusdVariable], !path.isEmpty else {
            throw Missing(description: "\(secantusdVariable) is not set. \(howToStart)")
        }
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw Missing(description: "\(secantusdVariable)=\(path) is not an executable. \(howToStart)")
        }
        return path
    }

    /// A database name no other test uses, so tests can run in parallel on one server.
    public static func uniqueDatabaseName(_ prefix: String = "test") -> String {
        "\(prefix)_\(UInt64.random(in: 0...UInt64.max) & 0xFFFF_FFFF_FFFF)"
    }
}

/// A temporary directory removed when the body returns or throws.
public func withTemporaryDirectory<T>(_ body: (URL) async throws -> T) async throws -> T {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("orch-test-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: url) }
    return try await body(url)
}

extension TestEnvironment {
    /// The secret key every test daemon of this test process shares (like
    /// the daemons of one site): made once, mode 0600, in a temporary directory.
    public static let secretKeyFile: String = {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("orch-test-key-\(getpid())")
        try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let path = directory.appendingPathComponent("secret.key").path
        let key = (0..<32).map { _ in UInt8.random(in: 0...255) }
        _ = FileManager.default.createFile(atPath: path, contents: Data(Data(key).base64EncodedString().utf8), attributes: [.posixPermissions: 0o600])
        return path
    }()
}
