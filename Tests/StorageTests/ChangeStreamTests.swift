import MongoKit
import Testing
import TestSupport

/// A change stream reports every write made after it opened, as it was
/// made, and says so when it cannot watch (the bench relies on both to
/// replay a run's writes).
@Suite struct ChangeStreamTests {
    @Test func everyInsertAfterTheStreamOpenedIsReportedInOrderAsWritten() async throws {
        try await withTestPool { pool in
            let (changes, afterwards) = try await pool.withClient { client throws(MongoError) -> ([BSONDocument], BSONDocument?) in
                let collection = client.collection("changes")
                try collection.insertOne(["_id": 0, "note": "before the stream"])
                let stream = try collection.watch(maxAwaitMilliseconds: 100)
                for id in 1...3 { try collection.insertOne(["_id": .int64(Int64(id)), "note": BSON("entry \(id)")]) }
                _ = try collection.deleteMany(["_id": 2])
                var changes: [BSONDocument] = []
                // Bounded: a stream that lost a change would otherwise be read forever.
                for _ in 0..<50 where changes.count < 4 {
                    if let change = try stream.next() { changes.append(change) }
                }
                return (changes, try stream.next())
            }
            #expect(changes.map { $0["operationType"]?.stringValue } == ["insert", "insert", "insert", "delete"])
            #expect(changes.prefix(3).map { $0["fullDocument"]?.documentValue?["note"]?.stringValue } == ["entry 1", "entry 2", "entry 3"])
            #expect(changes.last?["documentKey"]?.documentValue?["_id"]?.intValue == 2)
            #expect(afterwards == nil, "nothing was written after the delete")
        }
    }

    @Test func aStreamThatCannotOpenSaysSoAtOnce() async throws {
        let port = try await DatabaseServer.with { $0.port }  // a port that was just freed
        try await withTestPool(uri: "mongodb://127.0.0.1:\(port)/", serverSelectionTimeoutMS: 500) { pool in
            var error: MongoError?
            do {
                try await pool.withClient { client throws(MongoError) in _ = try client.collection("changes").watch() }
            } catch let failure as MongoError {
                error = failure
            }
            #expect(error?.kind == .unavailable, "got \(String(describing: error))")
        }
    }
}
