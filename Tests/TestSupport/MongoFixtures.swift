import Foundation
import MongoKit

/// How many tests do a heavy thing at once. Swift Testing starts every
/// test together: a hundred pools connecting at once overflowed the shared
/// test server's accept queue (one Python process) and tests failed with
/// "Failed to connect" within seconds; forty daemons starting at once kept
/// it too busy to answer within the daemons' leases.
public actor Turnstile {
    /// Tests with pools of their own on the shared test server.
    public static let testServer = Turnstile(limit: 12)
    /// Tests with a daemon of their own (`DaemonProcess.with`).
    public static let daemons = Turnstile(limit: 8)
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

    /// `body` once a turn is free; the turn is given back however it ends.
    public nonisolated func inTurn<T>(_ body: () async throws -> T) async throws -> T {
        await take()
        do {
            let result = try await body()
            await give()
            return result
        } catch {
            await give()
            throw error
        }
    }
}

/// A pool on a database of its own on the shared test server; the database is
/// dropped and the pool closed afterwards. At most a few such tests run at
/// once (Turnstile.testServer).
public func withTestPool<T>(
    uri: String? = nil, serverSelectionTimeoutMS: Int32 = 3000, _ body: (MongoPool) async throws -> T
) async throws -> T {
    try await Turnstile.testServer.inTurn {
        try await withTestPoolInTurn(uri: uri, serverSelectionTimeoutMS: serverSelectionTimeoutMS, body)
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

/// Every text a database holds: for each document of each collection, its
/// field names and string values joined, with its collection's name (what
/// a test scans for a value that must never be stored).
public func everyStoredText(uri: String, database: String) async throws -> [(collection: String, text: String)] {
    let pool = try MongoPool(MongoConfiguration(uri: uri, database: database))
    defer { Task { await pool.close() } }
    func strings(_ value: BSON) -> [String] {
        switch value {
        case .string(let s): [s]
        case .document(let d): d.fields.flatMap { [$0.key] + strings($0.value) }
        case .array(let items): items.flatMap(strings)
        default: []
        }
    }
    return try await pool.everyDocument().map { ($0.collection, strings(.document($0.document)).joined(separator: "\n")) }
}
