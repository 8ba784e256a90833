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

/// A pool on `database` of the shared test server (a daemon's, say), left as it is afterwards.
public func withPool<T>(database: String, _ body: (MongoPool) async throws -> T) async throws -> T {
    let pool = try MongoPool(MongoConfiguration(uri: try TestEnvironment.mongoURI(), database: database, serverSelectionTimeoutMS: 3000))
    do {
        let result = try await body(pool)
        await pool.close()
        return result
    } catch {
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

/// The size of a document as BSON stores it (what MongoDB's 16 MiB limit counts).
public func bsonSize(_ document: BSONDocument) -> Int {
    func element(_ key: String, _ value: BSON) -> Int { 1 + key.utf8.count + 1 + size(value) }
    func size(_ value: BSON) -> Int {
        switch value {
        case .double, .date, .int64: 8
        case .int32: 4
        case .bool: 1
        case .null, .unsupported: 0
        case .objectId: 12
        case .string(let s): 4 + s.utf8.count + 1
        case .document(let d): bsonSize(d)
        case .array(let items): 4 + items.enumerated().reduce(0) { $0 + element(String($1.offset), $1.element) } + 1
        }
    }
    return 4 + document.fields.reduce(0) { $0 + element($1.key, $1.value) } + 1
}

extension MongoPool {
    /// Every document of every collection of the pool's database, with its collection's name.
    public func everyDocument() async throws -> [(collection: String, document: BSONDocument)] {
        try await withClient { client throws(MongoError) in
            let reply = try client.command(["listCollections": .int32(1), "nameOnly": true])
            let names = (reply["cursor"]?.documentValue?["firstBatch"]?.arrayValue ?? []).compactMap { $0.documentValue?["name"]?.stringValue }
            var all: [(String, BSONDocument)] = []
            for name in names.sorted() {
                for document in try client.collection(name).find([:]) { all.append((name, document)) }
            }
            return all
        }
    }
}
