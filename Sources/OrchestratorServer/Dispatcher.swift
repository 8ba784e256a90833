import Logging
import OrchestratorModel
import OrchestratorProtocol

/// What a handler knows about its caller.
public struct CallContext: Sendable {
    public let peer: PeerCredentials
    public let mayMutate: Bool
    public let logger: Logger
    /// Sends JSON lines (each ending with a newline) to the caller now, in
    /// one write (one wake-up of the caller however many there are); false
    /// once the caller is gone.
    public let sendLines: @Sendable (_ lines: [UInt8]) async -> Bool
    /// False once the caller has closed its connection (a caller that only
    /// closed its sending side still counts as connected: it may be waiting
    /// for answers).
    public let isConnected: @Sendable () -> Bool
    /// Waits `duration`, waking no other thread for it: on a connection, a
    /// timer of its own event loop, where its handlers run.
    public let pause: @Sendable (_ duration: Duration) async -> Void
}

extension CallContext {
    /// Sends one notification to the caller now; false once the caller is gone.
    public func notify(_ method: String, _ params: JSONValue) async -> Bool {
        var line = JSONCoding.serializeBytes(RPCCodec.notification(method: method, params: params))
        line.append(UInt8(ascii: "\n"))
        return await sendLines(line)
    }
}

public typealias RPCHandler = @Sendable (ParamReader, CallContext) async throws(RPCError) -> JSONValue

public struct Route: Sendable {
    let mutates: Bool
    /// The handler decides who may call it (an approval's group need not be
    /// admins); it is audited as a mutation all the same.
    let authorizesItself: Bool
    let handler: RPCHandler

    public init(mutates: Bool, authorizesItself: Bool = false, _ handler: @escaping RPCHandler) {
        self.mutates = mutates
        self.authorizesItself = authorizesItself
        self.handler = handler
    }
}

/// Turns one request line into one response (or none, for notifications):
/// decoding, authorization, routing, audit logging, and error mapping.
/// It never throws, so one bad request cannot hurt its connection.
public struct RPCDispatcher: Sendable {
    private let routes: [String: Route]
    private let logger: Logger
    private let maximumBatch: Int

    /// Told after each line is handled (see `MemoryTrim`).
    private let handled: @Sendable () -> Void

    public init(routes: [String: Route], maximumBatch: Int = 100, logger: Logger, handled: @escaping @Sendable () -> Void = {}) {
        self.routes = routes
        self.maximumBatch = maximumBatch
        self.logger = logger
        self.handled = handled
    }

    public func handle(
        line: some Collection<UInt8>, peer: PeerCredentials, mayMutate: Bool,
        sendLines: @escaping @Sendable ([UInt8]) async -> Bool = { _ in false },
        isConnected: @escaping @Sendable () -> Bool = { true },
        pause: @escaping @Sendable (Duration) async -> Void = { try? await Task.sleep(for: $0) }
    ) async -> JSONValue? {
        let context = CallContext(
            peer: peer, mayMutate: mayMutate, logger: logger, sendLines: sendLines, isConnected: isConnected, pause: pause)
        defer { handled() }
        switch RPCCodec.decode(line: line) {
        case .batch(let messages) where messages.count > maximumBatch:
            logger.debug("refused a batch of \(messages.count) requests", metadata: ["peerUid": "\(peer.uid)"])
            return RPCCodec.response(id: .null, error: RPCError(
                .invalidRequest, "invalid request: a batch of \(messages.count) requests; at most \(maximumBatch) are accepted (max-batch)"))
        case .batch(let messages):
            var answers: [JSONValue] = []
            for message in messages {
                if let answer = await answer(message, context) { answers.append(answer) }
            }
            return answers.isEmpty ? nil : .array(answers)
        case let message:
            return await answer(message, context)
        }
    }

    private func answer(_ message: IncomingMessage, _ context: CallContext) async -> JSONValue? {
        switch message {
        case .invalid(let id, let error):
            logger.debug("refused a malformed request", metadata: ["peerUid": "\(context.peer.uid)", "error": "\(error.message)"])
            return RPCCodec.response(id: id, error: error)
        case .batch:
            return RPCCodec.response(id: .null, error: RPCError(.invalidRequest, "invalid request: batches cannot be nested"))
        case .malformedNotification(let error):
            logger.debug("ignored a malformed notification", metadata: ["peerUid": "\(context.peer.uid)", "error": "\(error.message)"])
            return nil
        case .request(let request):
            let outcome = await call(request, context)
            ServerMetrics.request(request.method, known: routes[request.method] != nil, outcome: outcome)
            guard let id = request.id else { return nil }
            switch outcome {
            case .success(let result): return RPCCodec.response(id: id, result: result)
            case .failure(let error): return RPCCodec.response(id: id, error: error)
            }
        }
    }

    private func call(_ request: RPCRequest, _ context: CallContext) async -> Result<JSONValue, RPCError> {
        guard let route = routes[request.method] else {
            return .failure(RPCError(.methodNotFound, "method not found: '\(request.method.prefix(100))'"))
        }
        var audit = Logger.Metadata()
        if route.mutates {
            audit = ["rpcMethod": "\(request.method)", "peerUid": "\(context.peer.uid)", "peerPid": "\(context.peer.pid)"]
            for key in ["workflow", "name", "id"] {
                guard let value = request.params[key]?.stringValue else { continue }
                let field = key == "name" && request.method.hasPrefix("workflow.") ? "workflow" : key == "id" ? "runId" : key
                audit[field] = "\(value.prefix(100))"
            }
            guard context.mayMutate || route.authorizesItself else {
                logger.notice("refused \(request.method): caller is not an admin", metadata: audit)
                return .failure(RPCError(.permissionDenied, "permission denied: \(request.method) changes state; only root and members of the admin group may call it"))
            }
        }
        do {
            let result = try await route.handler(ParamReader(request.params), context)
            if route.mutates { logger.notice("\(request.method) by uid \(context.peer.uid) succeeded", metadata: audit) }
            return .success(result)
        } catch {
            if route.mutates { logger.notice("\(request.method) by uid \(context.peer.uid) failed: \(error.message)", metadata: audit) }
            return .failure(error)
        }
    }
}

/// Runs a domain call and reports its error the way the wire expects.
func domain<T>(_ body: () async throws(OrchestratorError) -> T) async throws(RPCError) -> T {
    do {
        return try await body()
    } catch {
        throw error.rpcError
    }
}
