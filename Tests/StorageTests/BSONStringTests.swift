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
