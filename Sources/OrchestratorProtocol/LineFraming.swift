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

    public static func next(in buffer: some Collection<UInt8>, maximumLineBytes: Int) -> Next {
        if let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
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
