import NIOCore
import OrchestratorProtocol

/// What the transport hands the connection loop: a line, or the news that
/// the client sent more than the cap without a newline.
enum Frame: Sendable {
    case line(ByteBuffer)
    case tooLong
}

/// `LineFraming` as a NIO decoder. After `tooLong` it discards everything:
/// the connection is about to be closed.
struct CappedLineDecoder: ByteToMessageDecoder {
    typealias InboundOut = Frame
    let maximumLineBytes: Int
    private var overflowed = false
    /// Readable bytes already searched for a newline, none found.
    private var scanned = 0

    init(maximumLineBytes: Int) {
        self.maximumLineBytes = maximumLineBytes
    }

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        if overflowed {
            buffer.moveReaderIndex(to: buffer.writerIndex)
            return .needMoreData
        }
        switch LineFraming.next(in: buffer.readableBytesView, maximumLineBytes: maximumLineBytes, scanned: scanned) {
        case .line(let length):
            scanned = 0
            // The framing just found `length` readable bytes and a newline after them.
            let line = buffer.readSlice(length: length) ?? ByteBuffer()
            buffer.moveReaderIndex(forwardBy: 1)
            context.fireChannelRead(wrapInboundOut(.line(line)))
            return .continue
        case .needMoreData:
            scanned = buffer.readableBytes
            return .needMoreData
        case .tooLong:
            overflowed = true
            buffer.moveReaderIndex(to: buffer.writerIndex)
            context.fireChannelRead(wrapInboundOut(.tooLong))
            return .needMoreData
        }
    }

    /// At end of input a last line without its newline still counts, so
    /// `printf '{…}' | socat` gets its answer.
    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        while try decode(context: context, buffer: &buffer) == .continue {}
        if !overflowed, buffer.readableBytes > 0 {
            let rest = buffer.readSlice(length: buffer.readableBytes) ?? ByteBuffer()
            context.fireChannelRead(wrapInboundOut(.line(rest)))
        }
        return .needMoreData
    }
}
