import Foundation
import Logging
import SystemdSupport
import OrchestratorModel

/// Everything the daemon can be configured with. Each key is a line
/// `key = value` in the config file and a `--key value` flag; flags win.
public struct DaemonSettings: Sendable, Equatable {
    public var socketPath = "/run/orchestrator/orchestratord.sock"
    /// The group that owns the socket file; members can connect (read-only unless admins).
    public var socketGroup = "orchestrator"
    /// Members of this group (and root) may change things.
    public var adminGroup = "orchestrator-admin"
    public var mongodbURI = "mongodb://127.0.0.1:27017/"
    /// The `database` key, when given; else the database the URI names
    /// (`mongodb://host/ops`), else `orchestrator`.
    public var explicitDatabase: String?
    public var database: String { explicitDatabase ?? Self.database(in: mongodbURI) ?? "orchestrator" }
    public var maxRequestBytes = 1 << 20
    /// Connections served at once; the next gets TooManyConnections and is closed.
    public var maxConnections = 256
    /// Requests in one batch; a longer batch is refused whole.
    public var maxBatch = 100
    public var logLevel: Logger.Level = .info
    public var logTarget: LogTarget = .auto
    public var serverSelectionTimeoutMS = 3000
    /// `majority` (the default) or a number of nodes, e.g. `1`.
    public var writeConcern = "majority"
    public var journalWrites = true
    public var maxParallelSteps = 8
    public var stopTimeoutSeconds = 30
    public var leaseSeconds = 30
    /// Ended runs are removed this many days after their end; 0 keeps them.
    public var runRetentionDays = 90
    /// How far this daemon's wall clock runs ahead of the host's (negative: behind).
    public var clockOffsetSeconds = 0
    /// This daemon's name in run leases; empty means `<hostname>/<machine-id>:<socket>`.
    public var daemonId = ""
    /// The key secrets are sealed with (AES-256), readable by the daemon's user only.
    public var secretKeyFile = "/etc/orchestrator/secret.key"
    /// During a key rotation, the key secrets were sealed with before: they are sealed again under the current one.
    public var secretPreviousKeyFile = ""
    /// The users steps may run as (`runAs`); none by default.
    public var runAsUsers: [String] = []
    /// Where Prometheus may scrape `/metrics` over HTTP (a loopback address
    /// and port); nil: no listener (`metrics.get` serves them on the socket).
    public var metricsListen: MetricsAddress?

    public init() {}

    /// One row per key: its name and how a text value is applied.
    struct Key: Sendable {
        let name: String
        let help: String
        let apply: @Sendable (inout DaemonSettings, String) throws(SettingError) -> Void
    }

    struct SettingError: Error {
        let message: String
    }

    static let keys: [Key] = [
        Key(name: "socket", help: "path of the Unix socket to serve") { s, v throws(SettingError) in
            guard v.hasPrefix("/") else { throw SettingError(message: "must be an absolute path") }
            guard v.utf8.count < 108 else { throw SettingError(message: "must be shorter than 108 bytes (the sun_path limit)") }
            s.socketPath = v
        },
        Key(name: "socket-group", help: "group owning the socket file (mode 0660)") { s, v throws(SettingError) in s.socketGroup = try group(v) },
        Key(name: "admin-group", help: "group whose members may change things") { s, v throws(SettingError) in s.adminGroup = try group(v) },
        Key(name: "mongodb-uri", help: "MongoDB connection string; a database it names (mongodb://host/ops) is used unless database is set") { s, v throws(SettingError) in
            guard v.hasPrefix("mongodb://") || v.hasPrefix("mongodb+srv://") else {
                throw SettingError(message: "must start with mongodb:// or mongodb+srv://")
            }
            if let named = database(in: v), let problem = databaseNameProblem(named) { throw SettingError(message: "names database '\(named)', which \(problem)") }
            s.mongodbURI = v
        },
        Key(name: "database", help: "MongoDB database name (default: the one mongodb-uri names, else orchestrator)") { s, v throws(SettingError) in
            if let problem = databaseNameProblem(v) { throw SettingError(message: problem) }
            s.explicitDatabase = v
        },
        Key(name: "max-request-bytes", help: "longest request line accepted; longer closes the connection") { s, v throws(SettingError) in
            s.maxRequestBytes = try int(v, 1024...(64 << 20))
        },
        Key(name: "max-connections", help: "clients served at once; the next gets -32008 TooManyConnections and is closed") { s, v throws(SettingError) in
            s.maxConnections = try int(v, 1...65536)
        },
        Key(name: "max-batch", help: "requests in one JSON-RPC batch; a longer batch is refused with -32600") { s, v throws(SettingError) in
            s.maxBatch = try int(v, 1...10_000)
        },
        Key(name: "log-level", help: "trace, debug, info, notice, warning, error or critical") { s, v throws(SettingError) in
            guard let level = Logger.Level(rawValue: v.lowercased()) else {
                throw SettingError(message: "must be one of \(Logger.Level.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            s.logLevel = level
        },
        Key(name: "log-target", help: "auto (journal under systemd, else stderr), journal or stderr") { s, v throws(SettingError) in
            guard let target = LogTarget(rawValue: v) else { throw SettingError(message: "must be auto, journal or stderr") }
            s.logTarget = target
        },
        Key(name: "server-selection-timeout-ms", help: "how long a request waits for MongoDB before StorageUnavailable") { s, v throws(SettingError) in
            s.serverSelectionTimeoutMS = try int(v, 100...120_000)
        },
        Key(name: "write-concern", help: "majority, or a number of nodes to acknowledge writes") { s, v throws(SettingError) in
            guard v == "majority" || Int(v).map({ (1...50).contains($0) }) == true else {
                throw SettingError(message: "must be majority or a number from 1 to 50")
            }
            s.writeConcern = v
        },
        Key(name: "journal-writes", help: "wait for MongoDB's journal before acknowledging (j: true)") { s, v throws(SettingError) in
            s.journalWrites = try bool(v)
        },
        Key(name: "max-parallel-steps", help: "steps run at once across all runs") { s, v throws(SettingError) in
            s.maxParallelSteps = try int(v, 1...1024)
        },
        Key(name: "stop-timeout-seconds", help: "on SIGTERM, how long running steps may finish") { s, v throws(SettingError) in
            s.stopTimeoutSeconds = try int(v, 0...3600)
        },
        Key(name: "run-retention-days", help: "remove runs this many days after they ended (0: keep them for ever)") { s, v throws(SettingError) in
            s.runRetentionDays = try int(v, 0...36500)
        },
        Key(
            name: "clock-offset-seconds",
            help: "run this daemon's wall clock this many seconds ahead of the host's (negative: behind): when schedules fire and windows open, and the times runs record. For rehearsals and tests; leases keep the database's clock"
        ) { s, v throws(SettingError) in
            s.clockOffsetSeconds = try int(v, -31_622_400...31_622_400)
        },
        Key(name: "lease-seconds", help: "how long a run's ownership lasts without renewal") { s, v throws(SettingError) in
            s.leaseSeconds = try int(v, 3...3600)
        },
        Key(name: "secret-key-file", help: "the key secrets are encrypted with: 32 bytes (raw, base64 or hex), mode 0600, owned by the daemon's user") { s, v throws(SettingError) in
            guard v.hasPrefix("/") else { throw SettingError(message: "must be an absolute path") }
            s.secretKeyFile = v
        },
        Key(name: "secret-previous-key-file", help: "during a key rotation, the old key: secrets sealed with it are re-encrypted under secret-key-file at start (empty: none)") { s, v throws(SettingError) in
            guard v.isEmpty || v.hasPrefix("/") else { throw SettingError(message: "must be an absolute path, or empty") }
            s.secretPreviousKeyFile = v
        },
        Key(name: "run-as-users", help: "the users steps may run as (runAs), comma-separated; empty: steps run as the daemon's user only") { s, v throws(SettingError) in
            let users = v.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            for user in users where !RunAs.isValidName(user) { throw SettingError(message: "'\(user)' is not a user name") }
            s.runAsUsers = users
        },
        Key(name: "metrics-listen", help: "loopback address and port where Prometheus scrapes /metrics over HTTP, e.g. 127.0.0.1:9469 (empty: none, the default)") { s, v throws(SettingError) in
            if v.isEmpty {
                s.metricsListen = nil
                return
            }
            guard let address = MetricsAddress(v) else {
                throw SettingError(message: "must be a loopback address and a port, such as 127.0.0.1:9469 or [::1]:9469 (the listener has no authentication)")
            }
            s.metricsListen = address
        },
        Key(name: "daemon-id", help: "this daemon's name in run leases, unique among live daemons (default <hostname>/<machine-id, 12 chars>:<socket>)") { s, v throws(SettingError) in
            guard v.utf8.count <= 200, !v.contains("\n") else { throw SettingError(message: "must be one line of at most 200 bytes") }
            s.daemonId = v
        },
    ]

    private static func int(_ v: String, _ range: ClosedRange<Int>) throws(SettingError) -> Int {
        guard let n = Int(v), range.contains(n) else {
            throw SettingError(message: "must be a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return n
    }

    private static func bool(_ v: String) throws(SettingError) -> Bool {
        switch v.lowercased() {
        case "true", "yes", "on", "1": return true
        case "false", "no", "off", "0": return false
        default: throw SettingError(message: "must be true or false")
        }
    }

    private static func group(_ v: String) throws(SettingError) -> String {
        guard !v.isEmpty, v.utf8.count <= 32, v.allSatisfy({ $0.isLetter || $0.isNumber || "-_.".contains($0) }) else {
            throw SettingError(message: "must be a group name")
        }
        return v
    }
}

/// A configuration problem, located for the operator: which file and line,
/// or which flag, and which key.
public struct ConfigurationError: Error, CustomStringConvertible, Equatable {
    public let location: String
    public let key: String?
    public let message: String

    public var description: String {
        if let key { return "\(location): \(key): \(message)" }
        return "\(location): \(message)"
    }
}

extension DaemonSettings {
    public static var keyNames: [String] { keys.map(\.name) }
    public static func help(for key: String) -> String { keys.first { $0.name == key }?.help ?? "" }

    /// Applies one `key = value`; `location` says where it came from for errors.
    public mutating func apply(key: String, value: String, location: String) throws(ConfigurationError) {
        guard let entry = Self.keys.first(where: { $0.name == key }) else {
            throw ConfigurationError(location: location, key: key, message: "unknown key (known keys: \(Self.keyNames.joined(separator: ", ")))")
        }
        do {
            try entry.apply(&self, value)
        } catch {
            throw ConfigurationError(location: location, key: key, message: "'\(value)' \(error.message)")
        }
    }

    /// Parses a config file's text: `key = value` lines, `#` comments, blank lines.
    public mutating func apply(fileText: String, path: String) throws(ConfigurationError) {
        for (index, rawLine) in fileText.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let location = "\(path):\(index + 1)"
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            guard let equals = line.firstIndex(of: "=") else {
                throw ConfigurationError(location: location, key: nil, message: "expected 'key = value', got '\(line.prefix(80))'")
            }
            let key = line[..<equals].trimmingCharacters(in: .whitespaces)
            var value = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            if value.count >= 2, value.hasPrefix("\""), value.hasSuffix("\"") { value = String(value.dropFirst().dropLast()) }
            try apply(key: key, value: value, location: location)
        }
    }

    /// The database a connection string names: the path after its hosts, before its options.
    /// `admin`, `local` and `config` are the server's own (in a URI, `admin`
    /// is usually where the user authenticates): never the daemon's database.
    static func database(in uri: String) -> String? {
        guard let scheme = uri.range(of: "://") else { return nil }
        var rest = uri[scheme.upperBound...]
        // After the user info (never read: a password may hold '/'), the hosts end at the first '/' or '?'.
        if let at = rest.prefix(while: { $0 != "?" }).lastIndex(of: "@") { rest = rest[rest.index(after: at)...] }
        guard let end = rest.firstIndex(where: { $0 == "/" || $0 == "?" }), rest[end] == "/" else { return nil }
        let path = rest[rest.index(after: end)...].prefix { $0 != "?" }
        guard !path.isEmpty else { return nil }
        let name = path.removingPercentEncoding ?? String(path)
        return ["admin", "local", "config"].contains(name) ? nil : name
    }

    static func databaseNameProblem(_ name: String) -> String? {
        guard !name.isEmpty, name.utf8.count <= 63, !name.contains(where: { "/\\. \"$".contains($0) }) else {
            return "must be 1-63 characters without / \\ . space \" $"
        }
        return nil
    }

    /// Defaults, then the file (when it exists or was named), then the flags.
    public static func load(
        file: String, fileIsExplicit: Bool, flags: [(key: String, value: String)]
    ) throws(ConfigurationError) -> DaemonSettings {
        var settings = DaemonSettings()
        if FileManager.default.fileExists(atPath: file) {
            guard let handle = FileHandle(forReadingAtPath: file) else {
                throw ConfigurationError(location: file, key: nil, message: "cannot be read: \(String(cString: strerror(errno)))")
            }
            defer { try? handle.close() }
            guard let text = String(data: handle.readDataToEndOfFile(), encoding: .utf8) else {
                throw ConfigurationError(location: file, key: nil, message: "is not UTF-8 text")
            }
            try settings.apply(fileText: text, path: file)
        } else if fileIsExplicit {
            throw ConfigurationError(location: file, key: nil, message: "no such file")
        }
        for flag in flags {
            try settings.apply(key: flag.key, value: flag.value, location: "--\(flag.key)")
        }
        return settings
    }
}

/// A loopback address and a TCP port: the metrics listener serves no one
/// but this host (it has no authentication).
public struct MetricsAddress: Sendable, Equatable, CustomStringConvertible {
    public let host: String
    public let port: Int

    /// `127.0.0.1:9469`, `localhost:9469` or `[::1]:9469`; nil for anything else.
    public init?(_ text: String) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (1...65535).contains(port) else { return nil }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        if host == "localhost" { host = "127.0.0.1" }
        // Four decimal octets as written canonically (a leading zero may be read as octal: 0127 is not 127).
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        let canonical = parts.count == 4 && parts.allSatisfy { part in UInt8(part).map { String($0) == part } ?? false }
        guard host == "::1" || (canonical && parts.first == "127") else { return nil }
        (self.host, self.port) = (host, port)
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}
