import Glibc

/// A socket at a Unix socket path, connected or bound: the one place that
/// fills in a `sockaddr_un` for the client, the tests and the benchmarks.
public enum UnixSocket {
    public enum Kind: Sendable {
        case stream, datagram
    }

    /// Why no socket could be made, connected or bound at `path`.
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public let path: String
        /// The `errno` of the call that failed; nil when the path does not fit in `sun_path`.
        public let code: Int32?

        /// What strerror says, or that the path is too long.
        public var reason: String {
            code.map { String(cString: strerror($0)) } ?? "the path is too long for a Unix socket"
        }

        public var description: String { "\(path): \(reason)" }
    }

    /// A new socket connected to `path`. The caller owns (and closes) it.
    public static func connect(path: String, kind: Kind = .stream) throws(Failure) -> Int32 {
        try socket(at: path, kind) { Glibc.connect($0, $1, $2) }
    }

    /// A new socket bound at `path`, which must not exist yet. The caller owns (and closes) it.
    public static func bind(path: String, kind: Kind = .stream) throws(Failure) -> Int32 {
        try socket(at: path, kind) { Glibc.bind($0, $1, $2) }
    }

    private static func socket(
        at path: String, _ kind: Kind, _ attach: (Int32, UnsafePointer<sockaddr>, socklen_t) -> Int32
    ) throws(Failure) -> Int32 {
        let fd = Glibc.socket(AF_UNIX, Int32((kind == .stream ? SOCK_STREAM : SOCK_DGRAM).rawValue), 0)
        guard fd >= 0 else { throw Failure(path: path, code: errno) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            close(fd)
            throw Failure(path: path, code: nil)
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        let attached = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { attach(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) == 0 }
        }
        guard attached else {
            let code = errno
            close(fd)
            throw Failure(path: path, code: code)
        }
        return fd
    }
}
