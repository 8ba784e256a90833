/// Inserts into one collection, sending together the documents of every
/// caller that comes while an earlier insert is on its way (a
/// `GroupCommit` of unordered `insert` commands).
///
/// Each caller learns its own document's outcome and nothing else: one
/// refused document (a duplicate key) does not fail the others, and when the
/// command gets no answer every document in it is unanswered, exactly as a
/// lone insert would have been. A command refused as a whole, for good (the
/// driver will not send one of its documents: too large, an empty key), is
/// sent again one document at a time, so that only the refused one fails.
public final class GroupedInsert: Sendable {
    public let collection: String
    private let group: GroupCommit<BSONDocument, MongoError?>

    /// `validate: false` as for `MongoCollection.insertOne`: for documents
    /// whose keys this program writes itself. `inlineWhenFree`: as for
    /// `MongoPool.withClient`, for the inserts a step waits for.
    public init(into collection: String, pool: MongoPool, validate: Bool = true, inlineWhenFree: Bool = false, mostPerCommand: Int = 64) {
        self.collection = collection
        group = GroupCommit(mostPerSend: mostPerCommand) { documents in
            do throws(MongoError) {
                return try await pool.withClient(inlineWhenFree: inlineWhenFree) { client throws(MongoError) in
                    let target = client.collection(collection)
                    do throws(MongoError) {
                        return try target.insertMany(documents, validate: validate)
                    } catch where !error.isTransient && documents.count > 1 {
                        return documents.map { document in
                            do throws(MongoError) {
                                try target.insertOne(document, validate: validate)
                                return nil
                            } catch {
                                return error
                            }
                        }
                    }
                }
            } catch {
                return Array(repeating: error, count: documents.count)
            }
        }
    }

    /// Documents waiting for the insert that is out to be answered.
    public var waiting: Int { group.waiting }

    /// Returns once `document` is stored; throws its own error otherwise.
    public func insert(_ document: BSONDocument) async throws(MongoError) {
        if let error = await group.submit(document) { throw error }
    }
}
