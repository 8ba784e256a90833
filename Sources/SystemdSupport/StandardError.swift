import Glibc

/// Text to stderr in one write(2) on fd 2: no buffer and no shared `FILE*`,
/// so a line goes out whole and at once. What the log handler's stderr sink
/// writes with, and what the daemon says before logging is set up.
public enum StandardError {
    public static func write(_ text: String) {
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBytes { Glibc.write(2, $0.baseAddress, $0.count) }
    }
}
