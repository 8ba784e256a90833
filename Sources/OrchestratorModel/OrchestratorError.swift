/// The one error type of the domain. The transport maps `kind` to a
/// JSON-RPC code in one place; nothing below it knows about JSON-RPC.
public struct OrchestratorError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// `resource` is e.g. "workflow", `key` the name or id asked for.
        case notFound(resource: String, key: String)
        case conflict
        case validationFailed([FieldError])
        case permissionDenied
        /// The database could not be reached; nothing was written.
        case storageUnavailable
        /// A write was sent but its answer never came: it may have been
        /// done. `details` may name the `requestId` to retry with.
        case outcomeUnknown
        case invalidParams
        case internalError
    }

    public var kind: Kind
    public var message: String
    /// Extra machine-readable details for the caller (e.g. the versions of a conflict).
    public var details: [String: String]

    public init(_ kind: Kind, _ message: String, details: [String: String] = [:]) {
        self.kind = kind
        self.message = message
        self.details = details
    }

    public var description: String { message }

    /// Whether the same request may succeed later: the database was
    /// unreachable or did not answer.
    public var isTransient: Bool { kind == .storageUnavailable || kind == .outcomeUnknown }

    /// Whether the database refused it for good (too large, rejected by a
    /// validator): the same write will never succeed.
    public var isRefusedForGood: Bool {
        if case .validationFailed = kind { true } else { false }
    }

    public var isNotFound: Bool {
        if case .notFound = kind { true } else { false }
    }

    public static func notFound(_ resource: String, _ key: String, message: String? = nil) -> OrchestratorError {
        OrchestratorError(.notFound(resource: resource, key: key), message ?? "\(resource) '\(key)' not found")
    }

    public static func validation(_ errors: [FieldError]) -> OrchestratorError {
        let summary = errors.map { "\($0.field): \($0.message)" }.joined(separator: "; ")
        return OrchestratorError(.validationFailed(errors), "validation failed: \(summary)")
    }

    public static func conflict(_ message: String, details: [String: String] = [:]) -> OrchestratorError {
        OrchestratorError(.conflict, message, details: details)
    }
}

/// One problem with one input field; `field` is a path such as `steps[2].action.exec`.
public struct FieldError: Sendable, Equatable, CustomStringConvertible {
    public var field: String
    public var message: String

    public init(field: String, message: String) {
        self.field = field
        self.message = message
    }

    public var description: String { "\(field): \(message)" }
}
