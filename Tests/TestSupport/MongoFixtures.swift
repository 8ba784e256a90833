import Foundation
import MongoKit

/// A pool on a database of its own on the shared test server; the database is
/// dropped and the pool closed afterwards.
public func withTestPool<T>(
    uri: String? = nil, serverSelectionTimeoutMS: Int32 = 3000, _ body: (MongoPool) async throws -> T
) async throws -> T {
    let configuration = MongoConfiguration(
        uri: try uri ?? TestEnvironment.mongoURI(),
        database: TestEnvironment.uniqueDatabaseName(),
        serverSelectionTimeoutMS: serverSelectionTimeoutMS
    )
    let pool = try MongoPool(configuration)
    do {
        let result = try await body(pool)
        try? await pool.dropDatabase()
        await pool.close()
        return result
    } catch {
        try? await pool.dropDatabase()
        await pool.close()
        throw error
    }
}

extension MongoPool {
    public func dropDatabase() async throws {
        _ = try await withClient { client throws(MongoError) in
            try client.writeCommand(["dropDatabase": .int32(1)])
        }
    }
}
