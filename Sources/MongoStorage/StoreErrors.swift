import Metrics
import MongoKit
import OrchestratorModel

extension OrchestratorError {
    /// Database failures as the domain reports them. A duplicate key becomes
    /// the conflict message the caller gives, because only it knows which
    /// unique thing was taken. An unanswered write may have been done
    /// (OutcomeUnknown); an unanswered read changed nothing.
    static func from(_ error: MongoError, duplicate: @autoclosure () -> OrchestratorError? = nil, writes: Bool = false) -> OrchestratorError {
        switch error.kind {
        case .unavailable:
            OrchestratorError(.storageUnavailable, "MongoDB is unavailable: \(error.message)")
        case .unanswered where writes:
            OrchestratorError(.outcomeUnknown, "MongoDB did not answer whether the change was made: \(error.message)")
        case .unanswered:
            OrchestratorError(.storageUnavailable, "MongoDB did not answer: \(error.message)")
        case .duplicateKey:
            duplicate() ?? OrchestratorError(.conflict, "a unique value is already taken: \(error.message)")
        case .tooLarge:
            OrchestratorError.validation([FieldError(
                field: "document", message: "MongoDB refused to store it: larger than its 16 MiB document limit (\(error.message))")])
        case .rejected:
            OrchestratorError.validation([FieldError(field: "document", message: "MongoDB's document validation rejected it (\(error.message))")])
        case .server, .client:
            OrchestratorError(.internalError, "database error: \(error.message)")
        }
    }
}

/// Runs one leased-client operation and translates its errors into the domain's.
func withDatabase<T: Sendable>(
    _ pool: MongoPool,
    onDuplicate: OrchestratorError? = nil,
    writes: Bool = false,
    _ body: @escaping @Sendable (MongoClient) throws(MongoError) -> T
) async throws(OrchestratorError) -> T {
    try await measured(onDuplicate: onDuplicate, writes: writes) { () async throws(MongoError) -> T in try await pool.withClient(body) }
}

/// Times one database operation, counts its failure, and translates its
/// errors into the domain's: `withDatabase` for operations that are not
/// one leased client's (a grouped insert, a lease then another).
func measured<T: Sendable>(
    onDuplicate: OrchestratorError? = nil,
    writes: Bool = false,
    _ operation: () async throws(MongoError) -> T
) async throws(OrchestratorError) -> T {
    let began = ContinuousClock.now
    do {
        let result = try await operation()
        DatabaseMetrics.operations.record(duration: ContinuousClock.now - began)
        return result
    } catch {
        DatabaseMetrics.operations.record(duration: ContinuousClock.now - began)
        DatabaseMetrics.failed(error)
        throw OrchestratorError.from(error, duplicate: onDuplicate, writes: writes)
    }
}

/// MongoDB's share of the daemon's figures (see EngineMetrics).
enum DatabaseMetrics {
    /// How long each store operation took, waiting for a connection included.
    static let operations = Timer(label: "orchestrator_mongodb_operation_duration_seconds")

    /// An operation failed: by the kind of error (a duplicate key is often
    /// expected, and is counted all the same).
    static func failed(_ error: MongoError) {
        Counter(label: "orchestrator_mongodb_errors_total", dimensions: [("kind", name(of: error.kind))]).increment()
    }

    private static func name(of kind: MongoError.Kind) -> String {
        switch kind {
        case .duplicateKey: "duplicate_key"
        case .unavailable: "unavailable"
        case .unanswered: "unanswered"
        case .tooLarge: "too_large"
        case .rejected: "rejected"
        case .server: "server"
        case .client: "client"
        }
    }
}

/// Creates a collection's indexes (idempotent: an index that exists is kept).
func createIndexes(_ pool: MongoPool, collection: String, _ indexes: [BSON]) async throws(OrchestratorError) {
    _ = try await withDatabase(pool) { client throws(MongoError) in
        try client.writeCommand(["createIndexes": BSON(collection), "indexes": .array(indexes)])
    }
}
