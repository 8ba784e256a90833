import MongoKit
import TestSupport
import Testing

/// Strings reach MongoDB byte for byte: step output may hold anything a
/// program prints, NULs included, and the log's entries are sent without
/// libmongoc's own check of their keys and strings.
@Suite struct BSONStringTests {
    private static let samples: [String] = [
        "", "a", "short string", "a string longer than fifteen bytes, stored on the heap",
        "nul\u{0}inside", "\u{0}", "ends with nul\u{0}", "naïve café ☕️ 𝄞", String(repeating: "x", count: 70_000),
    ]

    @Test(arguments: [true, false]) func stringsComeBackAsTheyWereSent(validated: Bool) async throws {
        try await withTestPool { pool in
            let stored = try await pool.withClient { client throws(MongoError) -> BSONDocument? in
                let collection = client.collection("strings")
                var document: BSONDocument = ["_id": BSON("sample")]
                for (index, sample) in Self.samples.enumerated() { document["s\(index)"] = BSON(sample) }
                document["nested"] = .document(["inner": BSON("nul\u{0}inside"), "list": .array(Self.samples.map { BSON($0) })])
                try collection.insertOne(document, validate: validated)
                return try collection.findOne(["_id": BSON("sample")])
            }
            let document = try #require(stored)
            for (index, sample) in Self.samples.enumerated() {
                #expect(document["s\(index)"]?.stringValue == sample, "sample \(index)")
            }
            #expect(document["nested"]?.documentValue?["inner"]?.stringValue == "nul\u{0}inside")
            #expect(document["nested"]?.documentValue?["list"]?.arrayValue?.compactMap(\.stringValue) == Self.samples)
        }
    }

    /// An update sent without the driver's check must still be made of
    /// operators: one that is not would replace the whole document (a run's
    /// record, with every step). It is refused, and the document stays whole.
    @Test func anUpdateWithoutOperatorsIsRefusedWhenTheDriversCheckIsSkipped() async throws {
        try await withTestPool { pool in
            let (refusal, stored) = try await pool.withClient { client throws(MongoError) -> (MongoError?, BSONDocument?) in
                let collection = client.collection("updates")
                try collection.insertOne(["_id": BSON("run"), "status": BSON("running"), "steps": .array([BSON("a"), BSON("b")])])
                var refusal: MongoError?
                for update: BSONDocument in [["status": BSON("failed")], ["$set": ["status": BSON("failed")], "steps": .array([])], [:]] {
                    do throws(MongoError) {
                        _ = try collection.updateOne(["_id": BSON("run")], update, validate: false)
                    } catch {
                        refusal = error
                        #expect(error.kind == .client)
                        continue
                    }
                    Issue.record("an update with a key that is no operator was sent: \(update.keys)")
                }
                #expect(try collection.updateOne(["_id": BSON("run")], ["$set": ["status": BSON("succeeded")]], validate: false).matched == 1)
                return (refusal, try collection.findOne(["_id": BSON("run")]))
            }
            #expect(refusal?.message.contains("operators only") == true)
            #expect(stored?["status"]?.stringValue == "succeeded")
            #expect(stored?["steps"]?.arrayValue?.count == 2)
        }
    }

    /// Embedded documents and arrays are written in place in their parent
    /// (and their headers reused at each depth): siblings, deep nesting,
    /// arrays past libbson's table of ready-made keys ("0"…"999") and
    /// children that outgrow their parent's buffer come back as sent.
    @Test func nestedDocumentsAndLongArraysComeBackAsTheyWereSent() async throws {
        func level(_ depth: Int) -> BSON {
            guard depth > 0 else { return .array((0..<1_500).map { .int64(Int64($0)) }) }
            return .document([
                "before": BSON("depth \(depth)"),
                "child": level(depth - 1),
                "sibling": .document(["n": .int64(Int64(depth)), "list": .array([.bool(true), .null, .document(["x": BSON("y")])])]),
                "naïve ☕️": .array([.document([:]), .array([]), .document(["deep": level(0)])]),
                "after": BSON(String(repeating: "z", count: 200 * depth)),
            ])
        }
        var sent: BSONDocument = ["_id": BSON("nested")]
        for name in ["a", "b", "c"] { sent[name] = level(5) }
        let document = sent
        try await withTestPool { pool in
            let stored = try await pool.withClient { client throws(MongoError) -> BSONDocument? in
                let collection = client.collection("nested")
                try collection.insertOne(document)
                return try collection.findOne(["_id": BSON("nested")])
            }
            #expect(stored == document)
        }
    }
}
