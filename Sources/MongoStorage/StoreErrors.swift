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
    do {
        return try await pool.withClient(body)
    } catch {
        throw OrchestratorError.from(error, duplicate: onDuplicate, writes: writes)
    }
}

/// Creates a collection's indexes (idempotent: an index that exists is kept).
func createIndexes(_ pool: MongoPool, collection: String, _ indexes: [BSON]) async throws(OrchestratorError) {
    _ = try await withDatabase(pool) { client throws(MongoError) in
        try client.writeCommand(["createIndexes": BSON(collection), "indexes": .array(indexes)])
    }
}
