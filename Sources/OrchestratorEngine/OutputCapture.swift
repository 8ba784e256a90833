import OrchestratorModel

/// Keeps the last `limit` bytes of a stream (what the run record stores)
/// and hands complete lines to a sink (what goes to the journal), with a cap
/// on how many lines are forwarded so a chatty step cannot flood the journal.
struct OutputCapture {
    static let tailBytes = Limits.stepOutputBytes
    static let maximumLineBytes = 8 * 1024
    static let maximumForwardedLines = 10_000

    private(set) var tail: [UInt8] = []
    private var partialLine: [UInt8] = []
    private var forwardedLines = 0
    private(set) var droppedLines = 0

    mutating func append(_ bytes: ArraySlice<UInt8>, sink: (String) -> Void) {
        tail.append(contentsOf: bytes)
        if tail.count > Self.tailBytes { tail.removeFirst(tail.count - Self.tailBytes) }
        for byte in bytes {
            if byte == UInt8(ascii: "\n") {
                emit(sink)
            } else if partialLine.count < Self.maximumLineBytes {
                partialLine.append(byte)
            }
        }
    }

    mutating func finish(sink: (String) -> Void) {
        if !partialLine.isEmpty { emit(sink) }
    }

    /// Said once where a stream's lines stop being forwarded, so whoever
    /// reads them (the journal, a follower) knows that they stop there.
    static let capNotice = "[orchestrator: more than \(maximumForwardedLines) lines on this stream; the rest is not forwarded. The run keeps its last 64 KiB: orchctl run logs]"

    private mutating func emit(_ sink: (String) -> Void) {
        defer { partialLine.removeAll(keepingCapacity: true) }
        guard forwardedLines < Self.maximumForwardedLines else {
            if droppedLines == 0 { sink(Self.capNotice) }
            droppedLines += 1
            return
        }
        forwardedLines += 1
        sink(String(decoding: partialLine, as: UTF8.self))
    }

    /// The tail as text; a multi-byte character cut at the start is dropped.
    var text: String {
        var start = 0
        while start < tail.count, start < 4, tail[start] & 0xC0 == 0x80 { start += 1 }
        let decoded = String(decoding: tail[start...], as: UTF8.self)
        guard decoded.utf8.count > Self.tailBytes else { return decoded }
        // Bytes that are not UTF-8 became U+FFFD, three bytes each: cut again to the limit.
        var kept = decoded.utf8.suffix(Self.tailBytes)
        while let first = kept.first, first & 0xC0 == 0x80 { kept = kept.dropFirst() }
        return String(decoding: kept, as: UTF8.self)
    }
}
