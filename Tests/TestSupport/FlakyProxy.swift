import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A TCP proxy between a daemon and its database that a test can make
/// misbehave: forward everything, drop the database's replies (requests
/// still reach it: a write lands, its answer never comes back), drop the
/// replies on every connection that inserts into one collection (the
/// reads before it are answered), or partition (nothing gets through).
public final class FlakyProxy: @unchecked Sendable {
    public enum Mode: Sendable, Equatable {
        case forward, dropReplies, dropRepliesToInserts(into: String), partition
        /// Commands of that name (`insert`, `delete`) into the collection
        /// wait at the proxy until the mode changes; both modes count them
        /// (`commands(_:into:)`).
        case holdCommands(String, into: String), countCommands(String, into: String)
    }

    /// One proxied connection: once it carried a write whose reply is to be lost, none of its replies get through.
    private final class Link: @unchecked Sendable {
        private let lock = NSLock()
        private var silenced = false
        var isSilenced: Bool { lock.withLock { silenced } }
        func silence() { lock.withLock { silenced = true } }
    }

    public let port: Int
    private let upstreamPort: Int
    private let listener: Int32
    private let lock = NSLock()
    private var mode = Mode.forward
    private let modeChanged = NSCondition()
    /// Commands seen by the counting modes, by "name collection".
    private var counted: [String: Int] = [:]
    private var sockets: [Int32] = []
    private var stopped = false

    /// Listens on a free loopback port and forwards to `upstreamPort`.
    public init(to upstreamPort: Int) throws {
        ignoreBrokenPipes()
        self.upstreamPort = upstreamPort
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        self.listener = listener
        var yes: Int32 = 1
        setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = Self.loopback(port: 0)
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard bound == 0, listen(listener, 64) == 0 else { throw TestEnvironment.Missing(description: "the proxy cannot listen: errno \(errno)") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) } }
        self.port = Int(UInt16(bigEndian: address.sin_port))
        Thread.detachNewThread { [self] in acceptLoop() }
    }

    public var uri: String { "mongodb://127.0.0.1:\(port)/" }

    public func set(_ mode: Mode) {
        lock.withLock { self.mode = mode }
        modeChanged.withLock { modeChanged.broadcast() }
    }

    /// How many `command` commands into `collection` came through (held ones included).
    public func commands(_ command: String, into collection: String) -> Int {
        lock.withLock { counted["\(command) \(collection)", default: 0] }
    }

    /// Counts a request that carries the command the mode names, and holds
    /// it while the mode says so.
    private func passCommand(_ bytes: ArraySlice<UInt8>) {
        let (command, collection): (String, String)
        switch currentMode {
        case .holdCommands(let name, let into), .countCommands(let name, let into): (command, collection) = (name, into)
        default: return
        }
        guard Self.isCommand(command, into: collection, bytes) else { return }
        lock.withLock { counted["\(command) \(collection)", default: 0] += 1 }
        modeChanged.withLock {
            while currentMode == .holdCommands(command, into: collection) { modeChanged.wait() }
        }
    }

    /// Closes every connection (the daemon then reconnects through the proxy).
    public func dropConnections() {
        let open = lock.withLock { () -> [Int32] in
            defer { sockets.removeAll() }
            return sockets
        }
        for fd in open { shutdown(fd, Int32(SHUT_RDWR)) }
    }

    public func stop() {
        lock.withLock { stopped = true }
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
        dropConnections()
    }

    private var currentMode: Mode { lock.withLock { mode } }

    /// Whether a request carries `command` into `collection`: the BSON
    /// element `<command>: "<collection>"` that starts an OP_MSG body.
    private static func isCommand(_ command: String, into collection: String, _ bytes: ArraySlice<UInt8>) -> Bool {
        var pattern: [UInt8] = [0x02] + Array(command.utf8) + [0]
        withUnsafeBytes(of: Int32(collection.utf8.count + 1).littleEndian) { pattern += $0 }
        pattern += Array(collection.utf8) + [0]
        guard bytes.count >= pattern.count else { return false }
        let array = Array(bytes)
        return (0...(array.count - pattern.count)).contains { array[$0..<($0 + pattern.count)].elementsEqual(pattern) }
    }

    private static func loopback(port: UInt16) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return address
    }

    private func acceptLoop() {
        while true {
            let client = accept(listener, nil, nil)
            if client < 0 {
                if lock.withLock({ stopped }) { return }
                continue
            }
            let server = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = Self.loopback(port: UInt16(upstreamPort))
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(server, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard connected == 0 else {
                close(client)
                close(server)
                continue
            }
            lock.withLock { sockets += [client, server] }
            let link = Link()
            Thread.detachNewThread { [self] in pump(from: client, to: server, isReply: false, link) }
            Thread.detachNewThread { [self] in pump(from: server, to: client, isReply: true, link) }
        }
    }

    /// Copies one direction until either side closes; what the mode drops is read and discarded.
    private func pump(from source: Int32, to destination: Int32, isReply: Bool, _ link: Link) {
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(source, $0.baseAddress, $0.count) }
            if count <= 0 { break }
            if !isReply { passCommand(buffer[..<count]) }
            let mode = currentMode
            if case .dropRepliesToInserts(let collection) = mode, !isReply, Self.isCommand("insert", into: collection, buffer[..<count]) { link.silence() }
            if mode == .partition || (isReply && (mode == .dropReplies || link.isSilenced)) { continue }
            var sent = 0
            while sent < count {
                let written = buffer.withUnsafeBytes { write(destination, $0.baseAddress! + sent, count - sent) }
                if written <= 0 { break }
                sent += written
            }
        }
        shutdown(destination, Int32(SHUT_RDWR))
        shutdown(source, Int32(SHUT_RDWR))
    }
}
