import Foundation

/// Writes to stderr directly: before logging is set up, nothing else may.
func writeStderr(_ text: String) {
    let bytes = Array(text.utf8)
    _ = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
}
