import MongoKit
import OrchestratorModel

extension OrchestratorError {
    /// Database failures as the domain reports them. A duplicate key becomes
    /// the conflict message the caller gives, because only it knows which
    /// unique thing was taken.
    static func from(_ error: MongoError, duplicate: @autoclosure () -> OrchestratorError? = nil) -> OrchestratorError {
        switch error.kind {
        case .unavailable:
            OrchestratorError(.storageUnavailable, "MongoDB is unavailable: \(error.message)")
        case .duplicateKey:
            duplicate() ?? OrchestratorError(.conflict, "a unique value is already taken: \(error.message)")
        case .server, .client:
            OrchestratorError(.internalError, "database error: \(error.message)")
        }
    }
}

/// Runs one leased-client operation and translates its errors into the domain's.
func withDatabase<T: Sendable>(
    _ pool: MongoPool,
    onDuplicate: OrchestratorError? = nil,
    _ body: @escaping @Sendable (MongoClient) throws(MongoError) -> T
) async throws(OrchestratorError) -> T {
    do {
        return try await pool.withClient(body)
    } catch {
        throw OrchestratorError.from(error, duplicate: onDuplicate)
    }
}

/// Creates a collection's indexes (idempotent: an index that exists is kept).
func createIndexes(_ pool: MongoPool, collection: String, _ indexes: [BSON]) async throws(OrchestratorError) {
    _ = try await withDatabase(pool) { client throws(MongoError) in
        try client.writeCommand(["createIndexes": BSON(collection), "indexes": .array(indexes)])
    }
}
