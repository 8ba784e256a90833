/// JSON-RPC 2.0 error codes: an open set, so a code this version does not
/// know still decodes (as itself) instead of failing.
public struct ErrorCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }

    public static let parseError = ErrorCode(rawValue: -32700)
    public static let invalidRequest = ErrorCode(rawValue: -32600)
    public static let methodNotFound = ErrorCode(rawValue: -32601)
    public static let invalidParams = ErrorCode(rawValue: -32602)
    public static let internalError = ErrorCode(rawValue: -32603)
    public static let notFound = ErrorCode(rawValue: -32001)
    public static let conflict = ErrorCode(rawValue: -32002)
    public static let validationFailed = ErrorCode(rawValue: -32003)
    public static let permissionDenied = ErrorCode(rawValue: -32004)
    public static let storageUnavailable = ErrorCode(rawValue: -32005)
    /// Not in JSON-RPC: sent once before the daemon closes a connection whose
    /// line exceeded the size limit.
    public static let requestTooLarge = ErrorCode(rawValue: -32006)
    /// A write was sent to MongoDB and no answer came: it may have been done.
    public static let outcomeUnknown = ErrorCode(rawValue: -32007)
    /// Sent once to a client beyond `max-connections`, which is then closed.
    public static let tooManyConnections = ErrorCode(rawValue: -32008)

    public var name: String {
        switch self {
        case .parseError: "ParseError"
        case .invalidRequest: "InvalidRequest"
        case .methodNotFound: "MethodNotFound"
        case .invalidParams: "InvalidParams"
        case .internalError: "InternalError"
        case .notFound: "NotFound"
        case .conflict: "Conflict"
        case .validationFailed: "ValidationFailed"
        case .permissionDenied: "PermissionDenied"
        case .storageUnavailable: "StorageUnavailable"
        case .requestTooLarge: "RequestTooLarge"
        case .outcomeUnknown: "OutcomeUnknown"
        case .tooManyConnections: "TooManyConnections"
        default: "Error\(rawValue)"
        }
    }

    public var description: String { "\(name) (\(rawValue))" }
}

public struct RPCError: Error, Sendable, Equatable, CustomStringConvertible {
    public var code: ErrorCode
    public var message: String
    public var data: JSONValue?

    public init(_ code: ErrorCode, _ message: String, data: JSONValue? = nil) {
        self.code = code
        self.message = message
        self.data = data
    }

    public var description: String { message }

    public static func invalidParams(_ message: String) -> RPCError { RPCError(.invalidParams, message) }

    var json: JSONValue {
        var o: [String: JSONValue] = ["code": .int(Int64(code.rawValue)), "message": .string(message)]
        if let data { o["data"] = data }
        return .object(o)
    }

    public init?(json: JSONValue) {
        guard let code = json["code"]?.intValue else { return nil }
        self.init(ErrorCode(rawValue: code), json["message"]?.stringValue ?? "", data: json["data"])
    }
}

/// A request as the server sees it. `id` is nil for a notification.
public struct RPCRequest: Sendable, Equatable {
    public var id: JSONValue?
    public var method: String
    public var params: [String: JSONValue]

    public init(id: JSONValue?, method: String, params: [String: JSONValue] = [:]) {
        self.id = id
        self.method = method
        self.params = params
    }

    public var json: JSONValue {
        var o: [String: JSONValue] = ["jsonrpc": "2.0", "method": .string(method), "params": .object(params)]
        if let id { o["id"] = id }
        return .object(o)
    }
}

/// What one line from a client turned out to be.
public enum IncomingMessage: Sendable, Equatable {
    case request(RPCRequest)
    /// A malformed message that still gets an answer; `id` is the request's
    /// id when it could be read, else null, as JSON-RPC requires.
    case invalid(id: JSONValue, RPCError)
    /// A batch: each element answered on its own, the answers sent as one array.
    case batch([IncomingMessage])
    /// A notification (no `id`) whose params or members are wrong: JSON-RPC
    /// forbids answering any notification, so it is only logged.
    case malformedNotification(RPCError)
}

public enum RPCCodec {
    /// Decodes one line. Never throws: every malformed input becomes an
    /// `.invalid` message that can be answered.
    public static func decode(line: some Collection<UInt8>) -> IncomingMessage {
        let value: JSONValue
        do {
            value = try JSONCoding.parse(line)
        } catch {
            return .invalid(id: .null, RPCError(.parseError, "parse error: \(error)"))
        }
        if case .array(let elements) = value {
            guard !elements.isEmpty else {
                return .invalid(id: .null, RPCError(.invalidRequest, "invalid request: an empty batch"))
            }
            return .batch(elements.map(decode(value:)))
        }
        return decode(value: value)
    }

    static func decode(value: JSONValue) -> IncomingMessage {
        guard case .object(let object) = value else {
            return .invalid(id: .null, RPCError(.invalidRequest, "invalid request: expected a JSON object, got \(value.typeName)"))
        }
        let rawId = object["id"]
        let answerId: JSONValue
        switch rawId {
        case .none, .some(.null): answerId = .null
        case .some(.string), .some(.int), .some(.double): answerId = rawId ?? .null
        case .some(let other):
            return .invalid(id: .null, RPCError(.invalidRequest, "invalid request: id must be a string or a number, got \(other.typeName)"))
        }
        let isNotification = if case .none = rawId { true } else { false }
        guard object["jsonrpc"] == .string("2.0") else {
            return .invalid(id: answerId, RPCError(.invalidRequest, "invalid request: \"jsonrpc\" must be \"2.0\""))
        }
        guard case .string(let method)? = object["method"], !method.isEmpty else {
            return .invalid(id: answerId, RPCError(.invalidRequest, "invalid request: \"method\" must be a non-empty string"))
        }
        let params: [String: JSONValue]
        switch object["params"] {
        case .none, .some(.null): params = [:]
        case .some(.object(let p)): params = p
        case .some(let other):
            let error = RPCError(.invalidParams, "invalid params: params must be an object of named parameters, got \(other.typeName)")
            return isNotification ? .malformedNotification(error) : .invalid(id: answerId, error)
        }
        let unknownMembers = Set(object.keys).subtracting(["jsonrpc", "id", "method", "params"])
        if let member = unknownMembers.sorted().first {
            let error = RPCError(.invalidRequest, "invalid request: unknown member \"\(member)\"")
            return isNotification ? .malformedNotification(error) : .invalid(id: answerId, error)
        }
        return .request(RPCRequest(id: isNotification ? nil : answerId, method: method, params: params))
    }

    public static func response(id: JSONValue, result: JSONValue) -> JSONValue {
        ["jsonrpc": "2.0", "id": id, "result": result]
    }

    public static func response(id: JSONValue, error: RPCError) -> JSONValue {
        ["jsonrpc": "2.0", "id": id, "error": error.json]
    }

    public static func notification(method: String, params: JSONValue) -> JSONValue {
        ["jsonrpc": "2.0", "method": .string(method), "params": params]
    }
}

/// What a client reads back: a response to one of its requests, or a
/// server notification (e.g. `run.event` during a watch).
public enum ServerMessage: Sendable, Equatable {
    case result(id: JSONValue, JSONValue)
    case error(id: JSONValue, RPCError)
    case notification(method: String, params: JSONValue)

    public static func decode(_ value: JSONValue) -> ServerMessage? {
        guard case .object(let o) = value else { return nil }
        if let method = o["method"]?.stringValue, o.index(forKey: "id") == nil {
            return .notification(method: method, params: o["params"] ?? .null)
        }
        let id = o["id"] ?? .null
        if let result = o["result"] { return .result(id: id, result) }
        if let error = o["error"].flatMap(RPCError.init(json:)) { return .error(id: id, error) }
        return nil
    }
}
