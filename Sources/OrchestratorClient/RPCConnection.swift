import Foundation
import OrchestratorProtocol

public enum ClientError: Error, CustomStringConvertible {
    /// The socket could not be reached: the daemon is not running, or the
    /// path or permissions are wrong.
    case unreachable(path: String, reason: String)
    /// The daemon answered with an error.
    case rpc(RPCError)
    /// The connection broke or the daemon sent something unreadable.
    case broken(String)

    public var description: String {
        switch self {
        case .unreachable(let path, let reason):
            "cannot reach orchestratord at \(path): \(reason) (is the daemon running? check 'systemctl status orchestratord', --socket or ORCHCTL_SOCKET, and that you are in the socket's group)"
        case .rpc(let error): error.message
        case .broken(let reason): "connection to orchestratord failed: \(reason)"
        }
    }
}

/// A blocking JSON-RPC connection over a Unix socket: what a short-lived
/// CLI needs, with no event loop to start.
public final class RPCConnection {
    public let path: String
    private let fd: Int32
    private var buffer: [UInt8] = []
    private var nextId: Int64 = 1
    /// Called whenever a read waited `idleInterval` without data (e.g. to redraw a progress display).
    public var onIdle: (() -> Void)?

    public init(path: String) throws(ClientError) {
        self.path = path
        do throws(UnixSocket.Failure) {
            fd = try UnixSocket.connect(path: path)
        } catch {
            throw .unreachable(path: path, reason: error.reason)
        }
    }

    deinit {
        close(fd)
    }

    /// Sends one request and waits for its answer; notifications that arrive
    /// meanwhile go to `onNotification`. Untyped: for tests and benchmarks
    /// that speak the raw protocol; callers use the typed `call`/`reply`
    /// over `RPCMethods` (TypedCalls.swift).
    public func call(
        _ method: String, _ params: [String: JSONValue] = [:],
        onNotification: (String, JSONValue) -> Void = { _, _ in }
    ) throws(ClientError) -> JSONValue {
        try exchange(method, params) { (method, params) throws(ClientError) in onNotification(method, params) }
    }

    /// `call`, with a notification handler that may give up (a notification it cannot read).
    func exchange(
        _ method: String, _ params: [String: JSONValue],
        onNotification: (String, JSONValue) throws(ClientError) -> Void
    ) throws(ClientError) -> JSONValue {
        let id = JSONValue.int(nextId)
        nextId += 1
        try send(RPCRequest(id: id, method: method, params: params).json)
        while true {
            switch try receive() {
            case .notification(let method, let params):
                try onNotification(method, params)
            case .result(let answerId, let result) where answerId == id:
                return result
            case .error(let answerId, let error) where answerId == id || answerId == .null:
                throw .rpc(error)
            default:
                continue
            }
        }
    }

    public func send(_ message: JSONValue) throws(ClientError) {
        var bytes = JSONCoding.serializeBytes(message)
        bytes.append(UInt8(ascii: "\n"))
        try sendRaw(bytes)
    }

    public func sendRaw(_ bytes: [UInt8]) throws(ClientError) {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if written < 0 {
                if errno == EINTR { continue }
                throw .broken("write: \(String(cString: strerror(errno)))")
            }
            offset += written
        }
    }

    /// The next line from the daemon, decoded.
    public func receive() throws(ClientError) -> ServerMessage {
        let line = try readLine()
        let value: JSONValue
        do {
            value = try JSONCoding.parse(line)
        } catch {
            throw .broken("unreadable answer: \(error)")
        }
        guard let message = ServerMessage.decode(value) else { throw .broken("unexpected answer: \(String(decoding: line, as: UTF8.self).prefix(200))") }
        return message
    }

    /// One raw line (without `\n`), or nil-equivalent error at end of stream.
    public func readLine() throws(ClientError) -> [UInt8] {
        while true {
            if let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                let line = Array(buffer[..<newline])
                buffer.removeSubrange(...newline)
                return line
            }
            var chunk = [UInt8](repeating: 0, count: 65536)
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count < 0 {
                if errno == EINTR { continue }
                if errno == EAGAIN || errno == EWOULDBLOCK, let onIdle {
                    onIdle()
                    continue
                }
                throw .broken("read: \(String(cString: strerror(errno)))")
            }
            if count == 0 { throw .broken("the daemon closed the connection") }
            buffer += chunk[..<count]
        }
    }

    /// Makes reads return to `onIdle` after `milliseconds` without data.
    public func setIdleInterval(milliseconds: Int) {
        var timeout = timeval(tv_sec: milliseconds / 1000, tv_usec: Int((milliseconds % 1000) * 1000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    /// Closes the sending direction (the daemon still answers what it got).
    public func finishSending() {
        shutdown(fd, Int32(SHUT_WR))
    }
}
