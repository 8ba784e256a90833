import CMongoC

/// A client leased from the pool for one operation. It is valid only inside
/// the `MongoPool.withClient` closure that received it (not Sendable, so it
/// cannot leave that thread).
public struct MongoClient {
    let raw: OpaquePointer
    public let database: String

    init(_ raw: OpaquePointer, database: String) {
        self.raw = raw
        self.database = database
    }

    /// A read-only command (e.g. `ping`, `hello`) on `database` (the configured one by default).
    /// Every document of every collection of the client's database, with its collection's name (for checks of what is stored).
    public func everyDocument() throws(MongoError) -> [(collection: String, document: BSONDocument)] {
        let reply = try command(["listCollections": .int32(1), "nameOnly": true])
        let names = (reply["cursor"]?.documentValue?["firstBatch"]?.arrayValue ?? []).compactMap { $0.documentValue?["name"]?.stringValue }
        var all: [(String, BSONDocument)] = []
        for name in names.sorted() {
            for document in try collection(name).find([:]) { all.append((name, document)) }
        }
        return all
    }

    public func command(_ command: BSONDocument, database: String? = nil) throws(MongoError) -> BSONDocument {
        let cmd = BSONHandle(command)
        let reply = ReplyBuffer()
        var error = bson_error_t()
        guard mongoc_client_command_simple(raw, database ?? self.database, cmd.pointer, nil, reply.pointer, &error) else {
            throw MongoError(error)
        }
        return reply.document()
    }

    /// A command that writes (e.g. `createIndexes`), sent with the pool's write concern.
    public func writeCommand(_ command: BSONDocument) throws(MongoError) -> BSONDocument {
        let cmd = BSONHandle(command)
        let reply = ReplyBuffer()
        var error = bson_error_t()
        guard mongoc_client_write_command_with_opts(raw, database, cmd.pointer, nil, reply.pointer, &error) else {
            throw MongoError(error)
        }
        return reply.document()
    }

    public func collection(_ name: String) -> MongoCollection {
        MongoCollection(mongoc_client_get_collection(raw, database, name))
    }
}

public struct UpdateResult: Sendable, Equatable {
    public var matched: Int
    public var modified: Int
}

/// One collection handle, freed when the value goes away. Created inside a
/// `withClient` closure and used only there.
public final class MongoCollection {
    let raw: OpaquePointer

    init(_ raw: OpaquePointer) {
        self.raw = raw
    }

    deinit {
        mongoc_collection_destroy(raw)
    }

    /// `validate: false` skips libmongoc's check of every key and string
    /// before sending: for documents whose keys this program writes itself
    /// (Swift strings are valid UTF-8), where it was 3 % of a step's cost.
    public func insertOne(_ document: BSONDocument, validate: Bool = true) throws(MongoError) {
        let doc = BSONHandle(document)
        let options = validate ? nil : BSONHandle(["validate": .bool(false)])
        let reply = ReplyBuffer()
        var error = bson_error_t()
        guard mongoc_collection_insert_one(raw, doc.pointer, options?.pointer, reply.pointer, &error) else {
            throw MongoError(error)
        }
    }

    /// Inserts every document in one command (libmongoc splits it at the
    /// server's message limits), unordered: one refused document (a
    /// duplicate key) does not stop the others. Throws when nothing is
    /// known of any document (no answer, no server); otherwise returns each
    /// document's error, nil for those stored.
    public func insertMany(_ documents: [BSONDocument], validate: Bool = true) throws(MongoError) -> [MongoError?] {
        guard !documents.isEmpty else { return [] }
        let handles = documents.map(BSONHandle.init)
        var pointers: [OpaquePointer?] = handles.map(\.pointer)
        var options: BSONDocument = ["ordered": false]
        if !validate { options["validate"] = false }
        let opts = BSONHandle(options)
        let reply = ReplyBuffer()
        var error = bson_error_t()
        let stored = withExtendedLifetime(handles) {
            mongoc_collection_insert_many(raw, &pointers, documents.count, opts.pointer, reply.pointer, &error)
        }
        if stored { return Array(repeating: nil, count: documents.count) }
        let answer = reply.document()
        let refused = answer["writeErrors"]?.arrayValue?.compactMap(\.documentValue) ?? []
        guard !refused.isEmpty else { throw MongoError(error) }
        // Stored, but not as durably as asked: as unsure as no answer.
        let unsure = (answer["writeConcernErrors"]?.arrayValue?.first?.documentValue).map {
            MongoError(kind: .unanswered, message: "write concern not satisfied: \($0["errmsg"]?.stringValue ?? "no message")")
        }
        var outcomes = [MongoError?](repeating: unsure, count: documents.count)
        for refusal in refused {
            guard let index = refusal["index"]?.intValue, outcomes.indices.contains(index) else { throw MongoError(error) }
            outcomes[index] = MongoError(server: refusal["code"]?.intValue ?? 0, message: refusal["errmsg"]?.stringValue ?? "")
        }
        return outcomes
    }

    /// With `upsert`, a filter that matches nothing inserts instead (and a
    /// document with the same `_id` that the filter did not match is a duplicate key).
    /// `validate: false` as for `insertOne`; it also skips the driver's check
    /// that the update holds only operators (without one, MongoDB would
    /// replace the whole document with it), so that check is made here: it
    /// costs a look at the top-level keys, not a walk of every string.
    public func updateOne(
        _ filter: BSONDocument, _ update: BSONDocument, arrayFilters: [BSON]? = nil, upsert: Bool = false, validate: Bool = true
    ) throws(MongoError) -> UpdateResult {
        if !validate, update.isEmpty || update.keys.contains(where: { !$0.hasPrefix("$") }) {
            throw MongoError(
                kind: .client, message: "refused an update that is not made of operators only (keys \(update.keys)): it would replace the document")
        }
        return try performUpdate(mongoc_collection_update_one, filter, update, arrayFilters: arrayFilters, upsert: upsert, validate: validate)
    }

    public func updateMany(_ filter: BSONDocument, _ update: BSONDocument) throws(MongoError) -> UpdateResult {
        try performUpdate(mongoc_collection_update_many, filter, update, arrayFilters: nil)
    }

    private typealias UpdateFunction = (
        OpaquePointer?, OpaquePointer?, OpaquePointer?, OpaquePointer?, OpaquePointer?, UnsafeMutablePointer<bson_error_t>?
    ) -> Bool

    private func performUpdate(
        _ function: UpdateFunction, _ filter: BSONDocument, _ update: BSONDocument, arrayFilters: [BSON]?, upsert: Bool = false,
        validate: Bool = true
    ) throws(MongoError) -> UpdateResult {
        let filterHandle = BSONHandle(filter)
        let updateHandle = BSONHandle(update)
        var options = BSONDocument()
        if let arrayFilters { options["arrayFilters"] = .array(arrayFilters) }
        if upsert { options["upsert"] = true }
        if !validate { options["validate"] = false }
        let opts = options.isEmpty ? nil : BSONHandle(options)
        let reply = ReplyBuffer()
        var error = bson_error_t()
        guard function(raw, filterHandle.pointer, updateHandle.pointer, opts?.pointer, reply.pointer, &error) else {
            throw MongoError(error)
        }
        let result = reply.document()
        return UpdateResult(matched: result["matchedCount"]?.intValue ?? 0, modified: result["modifiedCount"]?.intValue ?? 0)
    }

    /// Returns how many documents were deleted (0 or 1).
    public func deleteOne(_ filter: BSONDocument) throws(MongoError) -> Int {
        try performDelete(mongoc_collection_delete_one, filter)
    }

    /// Returns how many documents were deleted.
    public func deleteMany(_ filter: BSONDocument) throws(MongoError) -> Int {
        try performDelete(mongoc_collection_delete_many, filter)
    }

    private typealias DeleteFunction = (
        OpaquePointer?, OpaquePointer?, OpaquePointer?, OpaquePointer?, UnsafeMutablePointer<bson_error_t>?
    ) -> Bool

    private func performDelete(_ function: DeleteFunction, _ filter: BSONDocument) throws(MongoError) -> Int {
        let filterHandle = BSONHandle(filter)
        let reply = ReplyBuffer()
        var error = bson_error_t()
        guard function(raw, filterHandle.pointer, nil, reply.pointer, &error) else {
            throw MongoError(error)
        }
        return reply.document()["deletedCount"]?.intValue ?? 0
    }

    /// Every matching document, read eagerly; `limit` bounds how many.
    public func find(
        _ filter: BSONDocument, sort: BSONDocument? = nil, limit: Int? = nil, projection: BSONDocument? = nil
    ) throws(MongoError) -> [BSONDocument] {
        var options = BSONDocument()
        if let sort { options["sort"] = .document(sort) }
        if let limit { options["limit"] = .int64(Int64(limit)) }
        if let projection { options["projection"] = .document(projection) }
        let filterHandle = BSONHandle(filter)
        let optionsHandle = BSONHandle(options)
        guard let cursor = mongoc_collection_find_with_opts(raw, filterHandle.pointer, optionsHandle.pointer, nil) else {
            throw MongoError(kind: .client, message: "libmongoc returned no cursor")
        }
        defer { mongoc_cursor_destroy(cursor) }
        var documents: [BSONDocument] = []
        var current: OpaquePointer?
        while mongoc_cursor_next(cursor, &current) {
            if let current { documents.append(BSONReader.document(from: current)) }
        }
        var error = bson_error_t()
        if mongoc_cursor_error(cursor, &error) {
            throw MongoError(error)
        }
        return documents
    }

    public func findOne(_ filter: BSONDocument, projection: BSONDocument? = nil) throws(MongoError) -> BSONDocument? {
        try find(filter, limit: 1, projection: projection).first
    }
}
