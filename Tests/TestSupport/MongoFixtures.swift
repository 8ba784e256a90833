import Foundation
import MongoKit

/// How many tests use the shared test server through their own pools at
/// once. Swift Testing starts every test at once; a hundred pools
/// connecting together overflowed the server's accept queue (one Python
/// process), and tests failed with "Failed to connect" within seconds.
public actor TestServerTurns {
    public static let shared = TestServerTurns(limit: 12)
    private let limit: Int
    private var inUse = 0
    private var waiting: [CheckedContinuation<Void, Never>] = []

    init(limit: Int) {
        self.limit = limit
    }

    public func take() async {
        guard inUse >= limit else {
            inUse += 1
            return
        }
        await withCheckedContinuation { waiting.append($0) }
    }

    public func give() {
        if waiting.isEmpty {
            inUse -= 1
        } else {
            waiting.removeFirst().resume()
        }
    }
}

/// A pool on a database of its own on the shared test server; the database is
/// dropped and the pool closed afterwards. At most a few such tests run at
/// once (TestServerTurns).
public func withTestPool<T>(
    uri: String? = nil, serverSelectionTimeoutMS: Int32 = 3000, _ body: (MongoPool) async throws -> T
) async throws -> T {
    await TestServerTurns.shared.take()
    do {
        let result = try await withTestPoolInTurn(uri: uri, serverSelectionTimeoutMS: serverSelectionTimeoutMS, body)
        await TestServerTurns.shared.give()
        return result
    } catch {
        await TestServerTurns.shared.give()
        throw error
    }
}

private func withTestPoolInTurn<T>(
    uri: String?, serverSelectionTimeoutMS: Int32, _ body: (MongoPool) async throws -> T
) async throws -> T {
    ignoreBrokenPipes()
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
public func bsonSize(_ document: BSONDocument) -> Int { document.encodedSize }

extension MongoPool {
    /// Every document of every collection of the pool's database, with its collection's name.
    public func everyDocument() async throws -> [(collection: String, document: BSONDocument)] {
        try await withClient { client throws(MongoError) in try client.everyDocument() }
    }
}
