import MongoKit
import OrchestratorStorage

/// New ids as MongoDB makes them: ObjectIds, which sort by creation time.
public struct ObjectIdSource: IdSource {
    public init() {}

    public func next() -> String { ObjectId.generate().hex }
}
