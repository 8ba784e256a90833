import CMongoC
import Foundation
import NIOConcurrencyHelpers
import NIOPosix

/// How to reach the database and how hard to insist.
public struct MongoConfiguration: Sendable, Equatable {
    public var uri: String
    public var database: String
    /// How long an operation waits for a usable server before failing with
    /// `unavailable`; applied unless the URI sets serverSelectionTimeoutMS.
    public var serverSelectionTimeoutMS: Int32
    /// Bounds a single network read or write; applied unless the URI sets socketTimeoutMS.
    public var socketTimeoutMS: Int32
    /// Clients in the pool, and threads that run blocking driver calls.
    public var maxConnections: Int
    /// Applied unless the URI sets `w`: `majority` with journaling by default,
    /// so an acknowledged change survives the loss of a replica set's primary.
    public var writeConcern: WriteConcern
    public var journal: Bool

    public enum WriteConcern: Sendable, Equatable {
        case majority
        case nodes(Int32)
    }

    public init(
        uri: String, database: String, serverSelectionTimeoutMS: Int32 = 3000, socketTimeoutMS: Int32 = 15000,
        maxConnections: Int = 8, writeConcern: WriteConcern = .majority, journal: Bool = true
    ) {
        self.uri = uri
        self.database = database
        self.serverSelectionTimeoutMS = serverSelectionTimeoutMS
        self.socketTimeoutMS = socketTimeoutMS
        self.maxConnections = maxConnections
        self.writeConcern = writeConcern
        self.journal = journal
    }
}

/// The shared handle on the database: a libmongoc client pool plus the
/// dedicated threads the blocking driver calls run on, so no libmongoc call
/// ever blocks an event loop, and only one call at a time (`InlineLane`) may
/// block Swift's cooperative pool. The pool holds a client for each thread
/// and one for the inline call, so leasing a client never waits.
public final class MongoPool: Sendable {
    /// libmongoc's pool is documented thread-safe; the pointers are only read
    /// after init and freed in deinit, when no lease can exist any more.
    private let handles: PoolHandles
    private let threads: NIOThreadPool
    private let health = PoolHealth()
    private let inlineLane: InlineLane
    /// The calls on their callers' threads under way, and whether `close()`
    /// has begun (and waits for them: it destroys the clients they use).
    private let inlineCalls = NIOLockedValueBox(InlineCalls())

    private struct InlineCalls {
        var closing = false
        var underWay = 0
        var waiting: [CheckedContinuation<Void, Never>] = []
    }
    public let configuration: MongoConfiguration

    public init(_ configuration: MongoConfiguration, inlineLane: InlineLane = .shared) throws(MongoError) {
        MongoDriver.ensureInitialised()
        self.configuration = configuration
        self.inlineLane = inlineLane
        handles = try PoolHandles(configuration)
        threads = NIOThreadPool(numberOfThreads: configuration.maxConnections)
        threads.start()
    }

    /// Waits for the calls made on their callers' threads (`InlineLane`; new
    /// ones hop from now on), stops the driver threads (pending operations
    /// finish first), then destroys the client pool, which stops libmongoc's
    /// own monitoring threads: nothing of the driver is left running when
    /// the process exits.
    public func close() async {
        await withCheckedContinuation { (drained: CheckedContinuation<Void, Never>) in
            let now = inlineCalls.withLockedValue { calls -> Bool in
                calls.closing = true
                guard calls.underWay > 0 else { return true }
                calls.waiting.append(drained)
                return false
            }
            if now { drained.resume() }
        }
        try? await threads.shutdownGracefully()
        handles.destroy()
    }

    /// Runs `body` on a driver thread with a client leased from the pool; the
    /// client goes back to the pool when `body` returns or throws.
    ///
    /// `inlineWhenFree`: run it on the calling thread instead when
    /// `InlineLane` allows (one such call at a time, never on an event loop,
    /// only while the database answers such calls). For the one write a step
    /// cannot do without; every other call hops.
    public func withClient<T: Sendable>(
        inlineWhenFree: Bool = false, _ body: @escaping @Sendable (MongoClient) throws(MongoError) -> T
    ) async throws(MongoError) -> T {
        if inlineWhenFree, let answer = try onCallingThread(body) { return answer }
        let handles = self.handles
        let database = configuration.database
        // Only the calls that may run inline tell whether they get an answer.
        let health = inlineWhenFree ? self.health : nil
        do {
            return try await threads.runIfActive {
                guard let raw = mongoc_client_pool_pop(handles.pool) else {
                    throw MongoError(kind: .client, message: "the MongoDB client pool returned no client")
                }
                return try Self.run(body, leasing: raw, from: handles.pool, database: database, noting: health)
            }
        } catch let error as MongoError {
            throw error
        } catch {
            throw MongoError(kind: .unavailable, message: "the database driver is shut down: \(error)")
        }
    }

    /// `body`'s answer, run on the calling thread with a client of its own;
    /// nil when it must hop: `InlineLane` is taken or forbids it here, the
    /// database did not answer the last call, or the pool is closing.
    private func onCallingThread<T>(_ body: (MongoClient) throws(MongoError) -> T) throws(MongoError) -> T? {
        guard health.isAnswering, inlineLane.enter() else { return nil }
        defer { inlineLane.leave() }
        let started = inlineCalls.withLockedValue { calls -> Bool in
            guard !calls.closing else { return false }
            calls.underWay += 1
            return true
        }
        guard started else { return nil }
        defer {
            let drained = inlineCalls.withLockedValue { calls -> [CheckedContinuation<Void, Never>] in
                calls.underWay -= 1
                guard calls.underWay == 0 else { return [] }
                defer { calls.waiting = [] }
                return calls.waiting
            }
            for waiter in drained { waiter.resume() }
        }
        // The pool holds a client more than there are driver threads, so
        // this never takes one a driver thread waits for.
        guard let raw = mongoc_client_pool_try_pop(handles.pool) else { return nil }
        return try Self.run(body, leasing: raw, from: handles.pool, database: configuration.database, noting: health)
    }

    /// `body` with the client `raw`, handed back to `pool` after; its
    /// outcome told to `health` (the calls that may run inline).
    private static func run<T>(
        _ body: (MongoClient) throws(MongoError) -> T, leasing raw: OpaquePointer, from pool: OpaquePointer, database: String,
        noting health: PoolHealth?
    ) throws(MongoError) -> T {
        defer { mongoc_client_pool_push(pool, raw) }
        let outcome = Result { () throws(MongoError) in try body(MongoClient(raw, database: database)) }
        health?.note(outcome)
        return try outcome.get()
    }

    /// The same lease on the calling thread, for tools (benchmarks) that run
    /// on threads of their own. Never call it from Swift's cooperative pool
    /// or an event loop: it blocks.
    public func withClientBlocking<T>(_ body: (MongoClient) throws(MongoError) -> T) throws(MongoError) -> T {
        guard let raw = mongoc_client_pool_pop(handles.pool) else {
            throw MongoError(kind: .client, message: "the MongoDB client pool returned no client")
        }
        defer { mongoc_client_pool_push(handles.pool, raw) }
        return try body(MongoClient(raw, database: configuration.database))
    }

    /// Asks the server to answer a `ping`: the check behind readiness and `daemon.status`.
    public func ping() async throws(MongoError) {
        _ = try await withClient { client throws(MongoError) in
            try client.command(["ping": .int32(1)], database: "admin")
        }
    }
}

/// Owns the URI and the client pool. `@unchecked Sendable`: libmongoc's pool is
/// thread-safe by contract, the URI is read only while the pool is built, and
/// `destroyed` is guarded by `lock`. The pool is destroyed only after the
/// driver threads stopped, so no lease can be in use then.
private final class PoolHandles: @unchecked Sendable {
    let uri: OpaquePointer
    let pool: OpaquePointer
    private let lock = NIOLock()
    private var destroyed = false

    init(_ configuration: MongoConfiguration) throws(MongoError) {
        var error = bson_error_t()
        guard let uri = mongoc_uri_new_with_error(configuration.uri, &error) else {
            throw MongoError(kind: .client, message: "invalid MongoDB URI '\(configuration.uri)': \(MongoError(error).message)")
        }
        Self.applyDefaults(configuration, to: uri)
        guard let pool = mongoc_client_pool_new(uri) else {
            mongoc_uri_destroy(uri)
            throw MongoError(kind: .client, message: "libmongoc refused to create a client pool for '\(configuration.uri)'")
        }
        mongoc_client_pool_set_error_api(pool, 2)
        mongoc_client_pool_set_appname(pool, "orchestrator")
        // One client more than there are driver threads: the one an inline call (`InlineLane`) leases.
        mongoc_client_pool_max_size(pool, UInt32(configuration.maxConnections + 1))
        self.uri = uri
        self.pool = pool
    }

    func destroy() {
        lock.withLock {
            guard !destroyed else { return }
            destroyed = true
            mongoc_client_pool_destroy(pool)
            mongoc_uri_destroy(uri)
        }
    }

    deinit {
        destroy()
    }

    private static func applyDefaults(_ configuration: MongoConfiguration, to uri: OpaquePointer) {
        if !mongoc_uri_has_option(uri, MONGOC_URI_SERVERSELECTIONTIMEOUTMS) {
            mongoc_uri_set_option_as_int32(uri, MONGOC_URI_SERVERSELECTIONTIMEOUTMS, configuration.serverSelectionTimeoutMS)
        }
        if !mongoc_uri_has_option(uri, MONGOC_URI_SOCKETTIMEOUTMS) {
            mongoc_uri_set_option_as_int32(uri, MONGOC_URI_SOCKETTIMEOUTMS, configuration.socketTimeoutMS)
        }
        if !mongoc_uri_has_option(uri, MONGOC_URI_CONNECTTIMEOUTMS) {
            mongoc_uri_set_option_as_int32(uri, MONGOC_URI_CONNECTTIMEOUTMS, min(configuration.serverSelectionTimeoutMS, 5000))
        }
        if !mongoc_uri_has_option(uri, MONGOC_URI_W) && !mongoc_uri_has_option(uri, MONGOC_URI_JOURNAL) {
            let concern = mongoc_write_concern_new()
            switch configuration.writeConcern {
            case .majority: mongoc_write_concern_set_wmajority(concern, 0)
            case .nodes(let n): mongoc_write_concern_set_w(concern, n)
            }
            mongoc_write_concern_set_journal(concern, configuration.journal)
            mongoc_uri_set_write_concern(uri, concern)
            mongoc_write_concern_destroy(concern)
        }
    }
}
