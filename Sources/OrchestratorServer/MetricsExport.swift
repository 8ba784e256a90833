import Metrics
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import OrchestratorProtocol
import Prometheus
import ServiceLifecycle

/// The daemon's figures (EngineMetrics, ServerMetrics, the database's), kept
/// by swift-prometheus: swift-metrics is bootstrapped with it once per
/// process, on first use, before anything counts.
final class MetricsExport: Sendable {
    static let shared = MetricsExport()

    private let registry = PrometheusCollectorRegistry()

    private init() {
        var factory = PrometheusMetricsFactory(registry: registry)
        // Steps last from a second to an hour; a database operation, from a millisecond to a timeout.
        factory.durationHistogramBuckets = [
            "orchestrator_step_duration_seconds": [0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600].map { Duration.milliseconds(Int64($0 * 1000)) },
            "orchestrator_mongodb_operation_duration_seconds": [0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5].map {
                Duration.microseconds(Int64($0 * 1_000_000))
            },
        ]
        MetricsSystem.bootstrap(factory)
        // Shown from the start, not from the first change.
        for gauge in ["orchestrator_active_runs", "orchestrator_connections"] { Gauge(label: gauge).record(0) }
        Meter(label: "orchestrator_active_steps").set(0)
    }

    /// Everything, in Prometheus's text format.
    var text: String { registry.emitToString() }
}

/// Serves `GET /metrics` over HTTP on a loopback address, for a Prometheus
/// on this host (no authentication: never on another address). Bound
/// before the daemon says it is ready; closed when the daemon stops.
struct MetricsListener: Service {
    let channel: any Channel

    /// A scraper needs one connection; a few are let in, each closed after
    /// a quiet half minute, so no local user can use up the daemon's files.
    static let maximumConnections = 8
    static let idleTimeout = TimeAmount.seconds(30)

    static func bind(_ address: MetricsAddress, text: @escaping @Sendable () -> String) async throws -> MetricsListener {
        let open = NIOLockedValueBox(0)
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                let admitted = open.withLockedValue { count -> Bool in
                    guard count < maximumConnections else { return false }
                    count += 1
                    return true
                }
                guard admitted else { return channel.close() }
                channel.closeFuture.whenComplete { _ in open.withLockedValue { $0 -= 1 } }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(IdleStateHandler(allTimeout: idleTimeout))
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(MetricsHTTPHandler(text: text))
                }
            }
            .bind(host: address.host, port: address.port).get()
        return MetricsListener(channel: channel)
    }

    func run() async throws {
        try? await gracefulShutdown()
        try? await channel.close()
    }
}

private final class MetricsHTTPHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let text: @Sendable () -> String

    init(text: @escaping @Sendable () -> String) {
        self.text = text
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard event is IdleStateHandler.IdleStateEvent else { return context.fireUserInboundEventTriggered(event) }
        context.close(promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .head(let request) = unwrapInboundIn(data) else { return }
        let path = request.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? request.uri
        let (status, body, type): (HTTPResponseStatus, String, String)
        switch (path, request.method) {
        case ("/metrics", .GET), ("/metrics", .HEAD): (status, body, type) = (.ok, text(), MetricsText.contentType)
        case ("/metrics", _): (status, body, type) = (.methodNotAllowed, "only GET /metrics\n", "text/plain; charset=utf-8")
        default: (status, body, type) = (.notFound, "orchestratord serves /metrics only\n", "text/plain; charset=utf-8")
        }
        var headers = HTTPHeaders([("Content-Type", type), ("Content-Length", String(body.utf8.count))])
        if !request.isKeepAlive { headers.add(name: "Connection", value: "close") }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: request.version, status: status, headers: headers))), promise: nil)
        if request.method != .HEAD { context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: body)))), promise: nil) }
        let (keepAlive, channel) = (request.isKeepAlive, context.channel)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in
            if !keepAlive { channel.close(promise: nil) }
        }
    }
}
