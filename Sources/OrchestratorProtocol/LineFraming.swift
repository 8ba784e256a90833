/// Newline-delimited framing with a size cap, as a pure function over bytes
/// so it is tested without sockets. A plain line decoder has no limit, which
/// lets one client exhaust the daemon's memory.
public enum LineFraming {
    public static let defaultMaximumLineBytes = 1 << 20

    public enum Next: Equatable, Sendable {
        /// A complete line of `length` bytes (without its `\n`), then `length + 1` to consume.
        case line(length: Int)
        /// No newline yet and still under the cap: wait for more bytes.
        case needMoreData
        /// The line exceeds the cap; the connection should be closed.
        case tooLong
    }

    /// `scanned` bytes at the start of `buffer` are known to hold no newline
    /// (an earlier call said `needMoreData` about them): the search starts
    /// after them, so a long line arriving in small reads costs time linear
    /// in its length, not quadratic.
    public static func next(in buffer: some Collection<UInt8>, maximumLineBytes: Int, scanned: Int = 0) -> Next {
        let from = buffer.index(buffer.startIndex, offsetBy: min(scanned, buffer.count))
        if let newline = buffer[from...].firstIndex(of: UInt8(ascii: "\n")) {
            let length = buffer.distance(from: buffer.startIndex, to: newline)
            return length > maximumLineBytes ? .tooLong : .line(length: length)
        }
        return buffer.count > maximumLineBytes ? .tooLong : .needMoreData
    }

    /// Drops one trailing `\r`, so lines from `socat`/`nc` with CRLF still parse.
    public static func trimmed<C: BidirectionalCollection<UInt8>>(_ line: C) -> C.SubSequence {
        if let last = line.last, last == UInt8(ascii: "\r") { return line.dropLast() }
        return line[...]
    }
}
