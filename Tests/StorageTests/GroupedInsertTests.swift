import Foundation
import MongoKit
import TestSupport
import Testing

/// Inserts that come while another is out go together, and each caller
/// still learns exactly what became of its own document.
@Suite struct GroupedInsertTests {
    private static let collection = "grouped"

    /// A pool that reaches the test database through a proxy which counts,
    /// and can hold, the inserts into `collection`. A held insert must not
    /// time out while the test queues others behind it (on a loaded machine
    /// that takes seconds), so only a test that drops replies asks for a
    /// short `socketTimeoutMS`.
    private func withProxiedPool(
        socketTimeoutMS: Int = 120_000, _ body: (MongoPool, FlakyProxy) async throws -> Void
    ) async throws {
        let upstream = try #require(URLComponents(string: try TestEnvironment.mongoURI())?.port)
        let proxy = try FlakyProxy(to: upstream)
        defer { proxy.stop() }
        try await withTestPool(uri: "mongodb://127.0.0.1:\(proxy.port)/?socketTimeoutMS=\(socketTimeoutMS)") { pool in
            try await body(pool, proxy)
        }
    }

    private func stored(_ pool: MongoPool) async throws -> [Int] {
        try await pool.withClient { client throws(MongoError) in
            try client.collection(Self.collection).find([:]).compactMap { $0["_id"]?.intValue }.sorted()
        }
    }

    /// Starts an insert of `{_id: id}` (with a key the driver refuses to
    /// send when `refused`: an empty one) and returns its outcome: nil when stored.
    private func inserting(_ id: Int, _ inserts: GroupedInsert, refused: Bool = false) -> Task<MongoError?, Never> {
        var document: BSONDocument = ["_id": .int64(Int64(id))]
        if refused { document[""] = "an empty key, which the driver does not send" }
        return Task { [document] in
            do throws(MongoError) {
                try await inserts.insert(document)
                return nil
            } catch {
                return error
            }
        }
    }

    /// Holds the insert of `first` at the proxy until those of `ids` wait behind it.
    private func holdFirst(
        _ first: Int, thenQueue ids: [Int], refusing: Set<Int> = [], _ inserts: GroupedInsert, _ proxy: FlakyProxy
    ) async throws -> [Int: Task<MongoError?, Never>] {
        proxy.set(.holdCommands("insert", into: Self.collection))
        var tasks = [first: inserting(first, inserts)]
        // Bounded: a held insert that times out lets the others go one by
        // one, and they would never all wait at once.
        try #require(await eventually { proxy.commands("insert", into: Self.collection) > 0 }, "the first insert reaches the proxy")
        for id in ids { tasks[id] = inserting(id, inserts, refused: refusing.contains(id)) }
        try #require(await eventually { inserts.waiting == ids.count }, "\(ids.count) inserts wait behind the first")
        return tasks
    }

    @Test func callersThatComeWhileAnInsertIsOutGoTogetherInTheNextCommand() async throws {
        try await withProxiedPool { pool, proxy in
            let inserts = GroupedInsert(into: Self.collection, pool: pool)
            let tasks = try await holdFirst(1, thenQueue: Array(2...6), inserts, proxy)
            proxy.set(.countCommands("insert", into: Self.collection))
            for (id, task) in tasks { #expect(await task.value == nil, "insert \(id)") }
            #expect(try await stored(pool) == Array(1...6))
            #expect(proxy.commands("insert", into: Self.collection) == 2, "the first alone, then the five that waited")

            // A lone caller does not wait for company.
            #expect(await inserting(7, inserts).value == nil)
            #expect(proxy.commands("insert", into: Self.collection) == 3)
        }
    }

    @Test func aCommandHoldsAtMostItsLimitAndTheRestFollowInTurn() async throws {
        try await withProxiedPool { pool, proxy in
            let inserts = GroupedInsert(into: Self.collection, pool: pool, mostPerCommand: 2)
            let tasks = try await holdFirst(1, thenQueue: Array(2...6), inserts, proxy)
            proxy.set(.countCommands("insert", into: Self.collection))
            for (id, task) in tasks { #expect(await task.value == nil, "insert \(id)") }
            #expect(try await stored(pool) == Array(1...6))
            #expect(proxy.commands("insert", into: Self.collection) == 4, "1, then 2 + 3, 4 + 5, 6")
        }
    }

    @Test func aRefusedDocumentFailsOnlyItsOwnCaller() async throws {
        try await withProxiedPool { pool, proxy in
            let inserts = GroupedInsert(into: Self.collection, pool: pool)
            #expect(await inserting(3, inserts).value == nil)
            let tasks = try await holdFirst(1, thenQueue: [2, 3, 4], inserts, proxy)
            proxy.set(.countCommands("insert", into: Self.collection))
            #expect(await tasks[1]?.value == nil)
            #expect(await tasks[2]?.value == nil)
            #expect(await tasks[3]?.value?.kind == .duplicateKey)
            #expect(await tasks[4]?.value == nil)
            #expect(try await stored(pool) == [1, 2, 3, 4])
        }
    }

    /// The driver refuses a whole command for one document it will not
    /// send (an empty key): the others are then sent alone, and
    /// only that document's caller is refused.
    @Test func aDocumentTheDriverRefusesFailsOnlyItsOwnCallerAndTheOthersAreStored() async throws {
        try await withProxiedPool { pool, proxy in
            let inserts = GroupedInsert(into: Self.collection, pool: pool)
            let tasks = try await holdFirst(1, thenQueue: [2, 3, 4], refusing: [3], inserts, proxy)
            proxy.set(.countCommands("insert", into: Self.collection))
            #expect(await tasks[1]?.value == nil)
            #expect(await tasks[2]?.value == nil)
            let refused = await tasks[3]?.value
            #expect(refused != nil && refused?.isTransient == false, "\(String(describing: refused))")
            #expect(await tasks[4]?.value == nil)
            #expect(try await stored(pool) == [1, 2, 4])
        }
    }

    @Test func aCommandWithoutAnAnswerLeavesEachOfItsCallersUnsure() async throws {
        try await withProxiedPool(socketTimeoutMS: 5_000) { pool, proxy in
            let inserts = GroupedInsert(into: Self.collection, pool: pool)
            let tasks = try await holdFirst(1, thenQueue: [2, 3], inserts, proxy)
            proxy.set(.dropRepliesToInserts(into: Self.collection))
            for (id, task) in tasks {
                let error = await task.value
                #expect(error?.kind == .unanswered, "insert \(id): \(String(describing: error))")
            }
            // Both commands reached the server: every document is stored, though no caller was told.
            proxy.set(.forward)
            #expect(try await stored(pool) == [1, 2, 3])
            // And the next caller sends again.
            #expect(await inserting(4, inserts).value == nil)
        }
    }
}
