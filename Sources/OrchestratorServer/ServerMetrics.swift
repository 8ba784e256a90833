import Metrics
import OrchestratorProtocol

/// What the daemon's front counts (see EngineMetrics for the engine's).
enum ServerMetrics {
    /// Client connections open now.
    static let connections = Gauge(label: "orchestrator_connections")
    /// Client connections accepted since the daemon started.
    static let connectionsAccepted = Counter(label: "orchestrator_connections_accepted_total")

    /// One request answered: by method (`unknown` for a name the daemon does
    /// not serve, so a caller cannot add series) and outcome (`ok`, or the
    /// JSON-RPC error code).
    static func request(_ method: String, known: Bool, outcome: Result<JSONValue, RPCError>) {
        let result: String
        switch outcome {
        case .success: result = "ok"
        case .failure(let error): result = String(error.code.rawValue)
        }
        Counter(label: "orchestrator_rpc_requests_total", dimensions: [("method", known ? method : "unknown"), ("outcome", result)]).increment()
    }
}
