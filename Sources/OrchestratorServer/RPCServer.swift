import CSystemd
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import OrchestratorProtocol

/// Where the server listens.
public enum ListenAddress: Sendable, Equatable {
    /// A path the server binds itself: mode 0660, owned by `group`.
    case path(String, group: String)
    /// A socket inherited from systemd (socket activation).
    case inherited(fd: Int32, path: String)

    var path: String {
        switch self {
        case .path(let path, _), .inherited(_, let path): path
        }
    }
}

public struct ServerStartError: Error, CustomStringConvertible {
    public let description: String
}

/// The JSON-RPC server on a Unix socket: accepts connections, reads the
/// peer's credentials, frames lines with a cap, and answers each request in
/// order. One connection's failure never reaches another.
public final class RPCServer: Sendable {
    private typealias Connection = (channel: NIOAsyncChannel<Frame, ByteBuffer>, peer: PeerCredentials)

    private let listener: Channel
    private let connections: AsyncStream<Connection>
    private let connectionsContinuation: AsyncStream<Connection>.Continuation
    private let registry: ConnectionRegistry
    private let dispatcher: RPCDispatcher
    private let authorizer: Authorizer
    /// Group lookups may go to NSS (LDAP, sssd) and block: they run here,
    /// never on an event loop or Swift's cooperative pool.
    private let lookups: NIOThreadPool
    private let logger: Logger
    private let ownsPath: SocketFile?

    public static func start(
        _ address: ListenAddress, maximumLineBytes: Int, maximumConnections: Int = 256, dispatcher: RPCDispatcher, authorizer: Authorizer,
        connections: ConnectionRegistry, logger: Logger
    ) async throws -> RPCServer {
        let (stream, continuation) = AsyncStream<Connection>.makeStream()
        let bootstrap = ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 256)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelInitializer { channel in
                // SO_PEERCRED is read now: later the fd may already be closed.
                peerCredentials(of: channel).flatMapThrowing { peer in
                    // One too many: told why once it is active, then closed, without a task of its own.
                    guard connections.admit(channel, maximum: maximumConnections) else {
                        try channel.pipeline.syncOperations.addHandler(TurnAway(maximumConnections: maximumConnections))
                        if let turnedAway = connections.noteTurnedAway() {
                            logger.warning("turned away \(turnedAway) connections: \(maximumConnections) are served at once (max-connections)")
                        }
                        return
                    }
                    channel.closeFuture.whenComplete { _ in connections.release(channel) }
                    try channel.pipeline.syncOperations.addHandler(connections.tracker())
                    try channel.pipeline.syncOperations.addHandler(
                        ByteToMessageHandler(CappedLineDecoder(maximumLineBytes: maximumLineBytes)))
                    let asyncChannel = try NIOAsyncChannel<Frame, ByteBuffer>(wrappingChannelSynchronously: channel)
                    if case .terminated = continuation.yield((asyncChannel, peer)) {
                        // Accepted while stopping: nobody will serve it.
                        channel.close(promise: nil)
                    }
                }
            }
        let listener: Channel
        var ownsPath: SocketFile?
        switch address {
        case .path(let path, let group):
            try prepareSocketPath(path)
            // Bound under a temporary name, given its mode and group, then
            // renamed into place: nobody can connect before the permissions hold.
            let staging = "\(path).\(getpid()).new"
            unlink(staging)
            listener = try await bootstrap.bind(unixDomainSocketPath: staging, cleanupExistingSocketFile: false).get()
            do {
                try restrictSocketFile(staging, group: group, logger: logger)
                guard rename(staging, path) == 0 else {
                    throw ServerStartError(description: "cannot move the socket into place at \(path): \(String(cString: strerror(errno)))")
                }
            } catch {
                try? await listener.close()
                unlink(staging)
                throw error
            }
            ownsPath = SocketFile(path)
        case .inherited(let fd, _):
            listener = try await bootstrap.withBoundSocket(fd).get()
        }
        return RPCServer(
            listener: listener, connections: stream, continuation: continuation, registry: connections,
            dispatcher: dispatcher, authorizer: authorizer, logger: logger, ownsPath: ownsPath)
    }

    private init(
        listener: Channel, connections: AsyncStream<Connection>, continuation: AsyncStream<Connection>.Continuation,
        registry: ConnectionRegistry, dispatcher: RPCDispatcher, authorizer: Authorizer,
        logger: Logger, ownsPath: SocketFile?
    ) {
        self.listener = listener
        self.connections = connections
        self.connectionsContinuation = continuation
        self.registry = registry
        self.dispatcher = dispatcher
        self.authorizer = authorizer
        self.lookups = NIOThreadPool(numberOfThreads: 2)
        self.lookups.start()
        self.logger = logger
        self.ownsPath = ownsPath
    }

    /// Serves until `stop()` and every connection has ended. Connections run
    /// in a discarding task group, so finished ones cost nothing.
    public func run() async {
        await withDiscardingTaskGroup { group in
            for await connection in connections {
                group.addTask { await self.serve(connection.channel, peer: connection.peer) }
            }
        }
    }

    /// Stops accepting, then ends every connection once its current request
    /// is answered (their input is closed, so nothing new is read).
    public func stop() async {
        try? await listener.close()
        connectionsContinuation.finish()
        for channel in registry.stop() {
            try? await channel.close(mode: .input)
        }
        // Once the socket stops accepting, a new daemon may put its own in
        // place (a restart outside systemd); this one's file goes, never that.
        ownsPath?.removeIfStillThere()
        try? await lookups.shutdownGracefully()
    }

    /// Proves the event loop that serves connections is responsive.
    public func eventLoopResponds() async -> Bool {
        (try? await listener.eventLoop.submit { true }.get()) ?? false
    }

    private func serve(_ channel: NIOAsyncChannel<Frame, ByteBuffer>, peer: PeerCredentials) async {
        let authorizer = self.authorizer
        let mayMutate = (try? await lookups.runIfActive { authorizer.mayMutate(peer) }) ?? false
        logger.debug("connection opened", metadata: ["peerUid": "\(peer.uid)", "peerPid": "\(peer.pid)"])
        await withTaskExecutorPreference(EventLoopExecutor(channel.channel.eventLoop)) {
            await answer(channel, peer: peer, mayMutate: mayMutate)
        }
    }

    private func answer(_ channel: NIOAsyncChannel<Frame, ByteBuffer>, peer: PeerCredentials, mayMutate: Bool) async {
        // NIO closes a channel whose peer hung up even while its input is
        // not being read (a request is still being answered); a peer that
        // only shut down its sending side keeps it open.
        let connection = channel.channel
        let isConnected: @Sendable () -> Bool = { connection.isActive }
        let eventLoop = connection.eventLoop
        // The timer fires on the loop the handlers run on: the paused task goes on with no thread woken for it.
        let pause: @Sendable (Duration) async -> Void = { duration in
            try? await eventLoop.scheduleTask(in: TimeAmount(duration)) {}.futureResult.get()
        }
        do {
            try await channel.executeThenClose { inbound, outbound in
                for try await frame in inbound {
                    switch frame {
                    case .line(let buffer):
                        let line = LineFraming.trimmed(buffer.readableBytesView)
                        if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { continue }
                        // run.watch streams notifications before its answer.
                        let sendLines: @Sendable ([UInt8]) async -> Bool = { lines in
                            do {
                                try await outbound.write(ByteBuffer(bytes: lines))
                                return true
                            } catch {
                                return false
                            }
                        }
                        if let answer = await dispatcher.handle(line: line, peer: peer, mayMutate: mayMutate, sendLines: sendLines, isConnected: isConnected, pause: pause) {
                            try await outbound.write(Self.encode(answer))
                        }
                    case .tooLong:
                        logger.warning("closing a connection whose request line exceeded the size limit", metadata: ["peerUid": "\(peer.uid)"])
                        let error = RPCError(.requestTooLarge, "request line exceeds the size limit; closing the connection")
                        try await outbound.write(Self.encode(RPCCodec.response(id: .null, error: error)))
                        return
                    }
                }
            }
        } catch {
            logger.debug("connection ended with an error: \(error)", metadata: ["peerUid": "\(peer.uid)"])
        }
    }

    private static func encode(_ value: JSONValue) -> ByteBuffer {
        var bytes = JSONCoding.serializeBytes(value)
        bytes.append(UInt8(ascii: "\n"))
        return ByteBuffer(bytes: bytes)
    }
}

/// Answers a connection beyond `max-connections` with TooManyConnections
/// once it is active, then closes it (after the answer is written).
private final class TurnAway: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    let maximumConnections: Int

    init(maximumConnections: Int) {
        self.maximumConnections = maximumConnections
    }

    func channelActive(context: ChannelHandlerContext) {
        let error = RPCError(.tooManyConnections, "too many connections: \(maximumConnections) are served at once (max-connections); try again later")
        var bytes = JSONCoding.serializeBytes(RPCCodec.response(id: .null, error: error))
        bytes.append(UInt8(ascii: "\n"))
        let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
        context.writeAndFlush(wrapOutboundOut(ByteBuffer(bytes: bytes))).whenComplete { _ in loopBound.value.close(promise: nil) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}
}

private func peerCredentials(of channel: Channel) -> EventLoopFuture<PeerCredentials> {
    guard let provider = channel as? any SocketOptionProvider else {
        return channel.eventLoop.makeFailedFuture(ServerStartError(description: "channel has no socket options"))
    }
    let future: EventLoopFuture<orch_ucred> = provider.unsafeGetSocketOption(
        level: SocketOptionLevel(SOL_SOCKET), name: SocketOptionName(SO_PEERCRED))
    return future.map { PeerCredentials(pid: $0.pid, uid: $0.uid, gid: $0.gid) }
}

/// A stale socket file from a dead daemon is removed; a live daemon on the
/// path is a reason to refuse to start; anything that is not a socket is left alone.
private func prepareSocketPath(_ path: String) throws {
    let directory = (path as NSString).deletingLastPathComponent
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
    var info = stat()
    guard lstat(path, &info) == 0 else { return }
    guard (info.st_mode & S_IFMT) == S_IFSOCK else {
        throw ServerStartError(description: "\(path) exists and is not a socket; refusing to replace it")
    }
    if UnixSocketProbe.accepts(path) { throw UnixSocketProbe.served(path) }
    unlink(path)
}

private func restrictSocketFile(_ path: String, group: String, logger: Logger) throws {
    guard chmod(path, 0o660) == 0 else {
        throw ServerStartError(description: "cannot chmod 0660 \(path): \(String(cString: strerror(errno)))")
    }
    if let entry = getgrnam(group) {
        if chown(path, uid_t.max, entry.pointee.gr_gid) != 0 {
            logger.warning("cannot give the socket to group \(group): \(String(cString: strerror(errno)))")
        }
    } else {
        logger.warning("socket group '\(group)' does not exist; the socket keeps its default group, so only root and that group can connect")
    }
}

/// Tries to connect to a Unix socket path (used to tell a live daemon from a stale file).
public enum UnixSocketProbe {
    static func served(_ path: String) -> ServerStartError {
        ServerStartError(description: "another daemon is already serving \(path); stop it first or choose another --socket")
    }

    public static func accepts(_ path: String) -> Bool {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { return false }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) == 0
            }
        }
    }
}

/// The socket file this daemon put in place, known by its device and inode:
/// removed at most once (`stop()` runs at the stop signal and again at the
/// end), and only while the path still names that very file. Once removed,
/// a new daemon's socket at the path may even reuse its inode number.
final class SocketFile: Sendable {
    let path: String
    private let identity: NIOLockedValueBox<(device: UInt64, inode: UInt64)?>

    init(_ path: String) {
        self.path = path
        identity = NIOLockedValueBox(Self.identity(of: path))
    }

    func removeIfStillThere() {
        identity.withLockedValue { identity in
            defer { identity = nil }
            guard let ours = identity, let now = Self.identity(of: path), now == ours else { return }
            unlink(path)
        }
    }

    private static func identity(of path: String) -> (device: UInt64, inode: UInt64)? {
        var info = stat()
        guard lstat(path, &info) == 0 else { return nil }
        return (UInt64(info.st_dev), UInt64(info.st_ino))
    }
}
