import CMongoC

/// The changes to one collection from the moment it is opened (MongoDB's
/// `watch`), one change document at a time. The daemon does not use it: it
/// is for tools that must see every write another program makes, exactly
/// as it was made (the bench replays a run's log entries from it). Like the
/// client it came from, it is used only inside that client's `withClient`
/// closure.
public final class MongoChangeStream {
    private let raw: OpaquePointer

    init(_ raw: OpaquePointer) {
        self.raw = raw
    }

    deinit {
        mongoc_change_stream_destroy(raw)
    }

    /// The next change; nil when none came within the stream's
    /// `maxAwaitTimeMS` (ask again to keep waiting).
    public func next() throws(MongoError) -> BSONDocument? {
        var current: OpaquePointer?
        if mongoc_change_stream_next(raw, &current), let current {
            return BSONReader.document(from: current)
        }
        if let error = failure(of: raw) { throw error }
        return nil
    }
}

extension MongoCollection {
    /// Opens a change stream: the server has it before this returns, so a
    /// write made afterwards, by anyone, is reported. `next()` waits at most
    /// `maxAwaitMilliseconds` for a change.
    public func watch(maxAwaitMilliseconds: Int = 200) throws(MongoError) -> MongoChangeStream {
        let pipeline = BSONHandle(["pipeline": .array([])])
        let options = BSONHandle(["maxAwaitTimeMS": .int64(Int64(maxAwaitMilliseconds))])
        guard let stream = mongoc_collection_watch(raw, pipeline.pointer, options.pointer) else {
            throw MongoError(kind: .client, message: "libmongoc returned no change stream")
        }
        let opened = MongoChangeStream(stream)
        // libmongoc runs the opening aggregate in mongoc_collection_watch and
        // keeps its failure for the stream's first next(): surfaced here, so
        // a caller that goes on does not miss writes while believing it watches.
        if let error = failure(of: stream) { throw error }
        return opened
    }
}

private func failure(of stream: OpaquePointer) -> MongoError? {
    var error = bson_error_t()
    var reply: OpaquePointer?
    return mongoc_change_stream_error_document(stream, &error, &reply) ? MongoError(error) : nil
}
