import CSystemd
import Foundation
import Logging
import NIOConcurrencyHelpers

/// Where log lines go: the native journal under systemd, stderr otherwise.
public enum LogTarget: String, Sendable, CaseIterable {
    case auto, journal, stderr

    /// `auto` means the journal when systemd connected our stderr to it
    /// (`JOURNAL_STREAM`) and its socket exists; `sd_journal_sendv` returns 0
    /// even when nobody listens, so its return code cannot decide.
    public func resolved() -> LogTarget {
        guard self == .auto else { return self }
        let env = ProcessInfo.processInfo.environment
        if env["JOURNAL_STREAM"] != nil, FileManager.default.fileExists(atPath: "/run/systemd/journal/socket") {
            return .journal
        }
        return .stderr
    }
}

/// The log level, shared by every logger so SIGHUP can change it live.
public final class SharedLogLevel: Sendable {
    private let box: NIOLockedValueBox<Logger.Level>

    public init(_ level: Logger.Level) { box = NIOLockedValueBox(level) }

    public var level: Logger.Level {
        get { box.withLockedValue { $0 } }
        set { box.withLockedValue { $0 = newValue } }
    }
}

/// Journal field names are upper-case `[A-Z0-9_]`; metadata keys in camelCase
/// (`runId`) become `RUN_ID`, so callers may use either spelling.
public enum JournalFieldName {
    public static func normalize(_ key: String) -> String? {
        var out = ""
        var previousWasLower = false
        for scalar in key.unicodeScalars {
            switch scalar {
            case "A"..."Z":
                if previousWasLower { out.append("_") }
                out.unicodeScalars.append(scalar)
                previousWasLower = false
            case "a"..."z":
                out += String(scalar).uppercased()
                previousWasLower = true
            case "0"..."9":
                out.unicodeScalars.append(scalar)
                previousWasLower = true
            default:
                if !out.isEmpty && !out.hasSuffix("_") { out.append("_") }
                previousWasLower = false
            }
        }
        while out.hasPrefix("_") { out.removeFirst() }
        while out.hasSuffix("_") { out.removeLast() }
        guard let first = out.unicodeScalars.first, !("0"..."9").contains(first), out.count <= 64 else { return nil }
        return out
    }
}

/// The daemon's swift-log handler. Both targets get the same fields: the
/// journal as native structured entries through `sd_journal_sendv` (the
/// variadic `sd_journal_send` is not callable from Swift), stderr as one
/// line with `KEY=value` pairs. The level is shared so SIGHUP can change it.
public struct DaemonLogHandler: LogHandler {
    public enum Sink: Sendable {
        case journal
        case stderr
    }

    public var metadata: Logger.Metadata = [:]
    private let sharedLevel: SharedLogLevel
    private let identifier: String
    private let sink: Sink

    public init(identifier: String, level: SharedLogLevel, sink: Sink) {
        self.identifier = identifier
        self.sharedLevel = level
        self.sink = sink
    }

    public var logLevel: Logger.Level {
        get { sharedLevel.level }
        set { sharedLevel.level = newValue }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let merged = metadata.merging(event.metadata ?? [:]) { _, new in new }
        let fields = merged.keys.sorted().compactMap { key in
            JournalFieldName.normalize(key).map { "\($0)=\(merged[key].map { "\($0)" } ?? "")" }
        }
        switch sink {
        case .journal:
            Self.send([
                "MESSAGE=\(event.message)", "PRIORITY=\(Self.priority(event.level))", "SYSLOG_IDENTIFIER=\(identifier)",
                "CODE_FILE=\(event.file)", "CODE_LINE=\(event.line)", "CODE_FUNC=\(event.function)",
            ] + fields)
        case .stderr:
            StandardError.write("\(identifier)[\(getpid())] \(event.level): \(event.message)\(fields.isEmpty ? "" : " " + fields.joined(separator: " "))\n")
        }
    }

    static func send(_ fields: [String]) {
        let buffers = fields.map { Array($0.utf8) }
        var iovecs: [iovec] = []
        iovecs.reserveCapacity(buffers.count)
        // Pointers into `buffers` stay valid while the closure nesting below runs.
        func sendAll(_ index: Int) {
            if index == buffers.count {
                _ = iovecs.withUnsafeBufferPointer { sd_journal_sendv($0.baseAddress, Int32($0.count)) }
                return
            }
            buffers[index].withUnsafeBytes { raw in
                iovecs.append(iovec(iov_base: UnsafeMutableRawPointer(mutating: raw.baseAddress), iov_len: raw.count))
                sendAll(index + 1)
            }
        }
        sendAll(0)
    }

    static func priority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: 7
        case .info: 6
        case .notice: 5
        case .warning: 4
        case .error: 3
        case .critical: 2
        }
    }
}
