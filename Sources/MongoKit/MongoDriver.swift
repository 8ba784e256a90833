import CMongoC
import Glibc

/// libmongoc must be initialised once per process and never cleaned up and
/// initialised again (that corrupts its handshakes), so initialisation is a
/// lazily evaluated global, which Swift runs exactly once.
enum MongoDriver {
    private static let initialised: Bool = {
        mongoc_init()
        mongoc_log_set_handler(forwardMongocLog, nil)
        return true
    }()

    static func ensureInitialised() {
        _ = initialised
    }
}

/// libmongoc's own log lines: below warning they are noise for an operator;
/// the errors that matter reach callers as `MongoError`s instead.
private func forwardMongocLog(
    _ level: mongoc_log_level_t, _ domain: UnsafePointer<CChar>?, _ message: UnsafePointer<CChar>?,
    _ userData: UnsafeMutableRawPointer?
) {
    guard level.rawValue <= MONGOC_LOG_LEVEL_WARNING.rawValue, let message else { return }
    let domainText = domain.map { String(cString: $0) } ?? "mongoc"
    writeStderr("libmongoc \(domainText): \(String(cString: message))\n")
}

/// write(2) on fd 2: one call per line, no shared FILE* state. The same as
/// SystemdSupport's `StandardError.write`, which MongoKit cannot see (it
/// depends on neither SystemdSupport nor a module they share).
private func writeStderr(_ text: String) {
    let bytes = Array(text.utf8)
    _ = bytes.withUnsafeBytes { Glibc.write(2, $0.baseAddress, $0.count) }
}
