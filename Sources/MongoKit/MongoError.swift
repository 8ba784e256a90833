import CMongoC

/// Every failure of libmongoc, classified once so callers decide by kind.
public struct MongoError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// A unique index refused the write (E11000).
        case duplicateKey
        /// No server could be selected, the connection could not be made, or
        /// the server said it cannot take the operation: nothing was done.
        /// Retrying later may succeed.
        case unavailable
        /// The request was sent but no answer came back (the connection
        /// broke, a socket timeout), or the write was not acknowledged as
        /// asked (a write-concern error): it may or may not have been done.
        case unanswered
        /// The document (or the one an update would make) exceeds the
        /// server's size limit: refused for good.
        case tooLarge
        /// A document validator (`collMod` validator, schema) rejected the write: refused for good.
        case rejected
        /// The server answered with an error (its code is kept).
        case server(code: Int)
        /// The driver refused the request (bad URI, bad options, ...).
        case client
    }

    /// Whether trying the same thing again later may succeed.
    public var isTransient: Bool { kind == .unavailable || kind == .unanswered }

    public let kind: Kind
    public let message: String

    public init(kind: Kind, message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }

    /// The one place where a `bson_error_t` becomes a Swift error.
    init(_ error: bson_error_t) {
        var error = error
        let message = withUnsafeBytes(of: &error.message) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        self.init(kind: Self.classify(domain: error.domain, code: error.code, message: message), message: message)
    }

    /// One document's refusal in a write's answer (its `writeErrors`).
    init(server code: Int, message: String) {
        let code = UInt32(clamping: code)
        self.init(kind: Self.classify(domain: MONGOC_ERROR_SERVER.rawValue, code: code, message: message), message: message)
    }

    /// Server codes that mean "this node cannot take the operation now"
    /// (not primary, ...): refused before anything was done.
    private static let refusedForNowCodes: Set<UInt32> = [262, 10107, 13435, 13436]
    /// Server codes that can interrupt an operation already under way
    /// (network errors between nodes, shutdown, step-down).
    private static let interruptedCodes: Set<UInt32> = [6, 7, 89, 91, 189, 9001, 11600, 11602]
    private static let duplicateKeyCodes: Set<UInt32> = [11000, 11001, 12582]
    /// BSONObjectTooLarge, and "the document after the update is too large".
    private static let tooLargeCodes: Set<UInt32> = [10334, 17419, 17420]

    static func classify(domain: UInt32, code: UInt32, message: String = "") -> Kind {
        switch domain {
        case MONGOC_ERROR_SERVER_SELECTION.rawValue:
            return .unavailable
        case MONGOC_ERROR_STREAM.rawValue:
            let beforeSending = [MONGOC_ERROR_STREAM_NAME_RESOLUTION.rawValue, MONGOC_ERROR_STREAM_CONNECT.rawValue].contains(code)
            return beforeSending ? .unavailable : .unanswered
        case MONGOC_ERROR_PROTOCOL.rawValue, MONGOC_ERROR_WRITE_CONCERN.rawValue:
            return .unanswered
        case MONGOC_ERROR_SERVER.rawValue, MONGOC_ERROR_QUERY.rawValue, MONGOC_ERROR_COLLECTION.rawValue, MONGOC_ERROR_COMMAND.rawValue:
            if duplicateKeyCodes.contains(code) { return .duplicateKey }
            if refusedForNowCodes.contains(code) { return .unavailable }
            if interruptedCodes.contains(code) { return .unanswered }
            if tooLargeCodes.contains(code) || saysTooLarge(message) { return .tooLarge }
            if code == 121 { return .rejected }
            return .server(code: Int(code))
        case MONGOC_ERROR_BSON.rawValue, MONGOC_ERROR_CLIENT.rawValue:
            return saysTooLarge(message) ? .tooLarge : .client
        default:
            return .client
        }
    }

    /// libmongoc refuses an oversized document itself ("Document is N
    /// bytes, max is M"), and servers do not all use the same code for it.
    private static func saysTooLarge(_ message: String) -> Bool {
        let lowered = message.lowercased()
        return lowered.contains("too large") || (lowered.contains("bytes") && lowered.contains("max is"))
    }
}
