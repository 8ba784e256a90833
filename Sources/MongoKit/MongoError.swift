import CMongoC

/// Every failure of libmongoc, classified once so callers decide by kind.
public struct MongoError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// A unique index refused the write (E11000).
        case duplicateKey
        /// No server could be selected or the connection broke: the database
        /// is down or unreachable. Retrying later may succeed.
        case unavailable
        /// The server answered with an error (its code is kept).
        case server(code: Int)
        /// The driver refused the request (bad URI, bad options, ...).
        case client
    }

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
        self.init(kind: Self.classify(domain: error.domain, code: error.code), message: message)
    }

    // Server codes that mean "this node cannot take the operation right now".
    private static let transientServerCodes: Set<UInt32> = [
        6, 7, 89, 91, 189, 262, 9001, 10107, 11600, 11602, 13435, 13436,
    ]
    private static let duplicateKeyCodes: Set<UInt32> = [11000, 11001, 12582]

    static func classify(domain: UInt32, code: UInt32) -> Kind {
        switch domain {
        case MONGOC_ERROR_SERVER_SELECTION.rawValue, MONGOC_ERROR_STREAM.rawValue, MONGOC_ERROR_PROTOCOL.rawValue:
            return .unavailable
        case MONGOC_ERROR_SERVER.rawValue, MONGOC_ERROR_WRITE_CONCERN.rawValue, MONGOC_ERROR_QUERY.rawValue,
            MONGOC_ERROR_COLLECTION.rawValue, MONGOC_ERROR_COMMAND.rawValue:
            if duplicateKeyCodes.contains(code) { return .duplicateKey }
            if transientServerCodes.contains(code) { return .unavailable }
            return .server(code: Int(code))
        default:
            return .client
        }
    }
}
