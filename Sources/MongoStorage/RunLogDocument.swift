import Foundation
import MongoKit
import OrchestratorModel
import OrchestratorStorage

/// The shape of run logs in the `run_log` collection. A run in flight
/// records its steps' transitions as small entries here, one per write,
/// instead of updating its document: storage engines rewrite a document
/// whole on every update, and a run's document (definition, every step,
/// every event) grows with the workflow (measured on SecantusDB: 37 ms per
/// update at 200 steps, 2 ms to insert an entry). Changes to the run's own
/// fields (its start, its end) fold the entries into the run's document
/// and move its `logNext` past them, so the run's status is always in its
/// document, and a finished run is whole there.
///
/// Entries of a run are numbered from 0 without gaps, and the unique index
/// on (runId, seq) is the lease's fence: whoever takes a run over writes a
/// claim entry at the next number, so the previous owner's next write meets
/// a taken number and fails. That number is exactly where the previous
/// owner would write next, so claim entries outlive the run's end (they are
/// rare: one per take-over) and the rest of the log is deleted.
enum RunLogDocument {
    static let collectionName = "run_log"

    static let indexes: [BSON] = [["key": ["runId": 1, "seq": 1], "name": "run_seq", "unique": true]]

    static func encode(runId: ObjectId, seq: Int, writer: String, change: RunChange, claim: Bool = false) -> BSONDocument {
        var entry: BSONDocument = [
            "runId": .objectId(runId), "seq": BSON(seq), "writer": BSON(writer),
            "steps": .array(change.steps.sorted { $0.key < $1.key }.map { ["index": BSON($0.key), "record": .document(RunDocument.encode($0.value))] }),
            "events": .array(change.events.map { .document(RunDocument.encode($0)) }),
        ]
        if claim { entry["claim"] = true }
        return entry
    }

    /// The entries of a run that are folded into its document (below
    /// `logNext`) and fence nobody: what may be deleted once it has ended.
    static func spent(runId: ObjectId, before logNext: Int) -> BSONDocument {
        ["runId": .objectId(runId), "seq": ["$lt": BSON(logNext)], "claim": ["$ne": true]]
    }

    static func seq(_ entry: BSONDocument) -> Int { entry["seq"]?.intValue ?? -1 }

    static func writer(_ entry: BSONDocument) -> String? { entry["writer"]?.stringValue }

    static func change(_ entry: BSONDocument) -> RunChange {
        var change = RunChange()
        for item in entry["steps"]?.arrayValue ?? [] {
            guard let item = item.documentValue, let index = item["index"]?.intValue, let record = item["record"]?.documentValue else { continue }
            change.steps[index] = RunDocument.decodeStep(record)
        }
        change.events = (entry["events"]?.arrayValue ?? []).compactMap { $0.documentValue.map(RunDocument.decodeEvent) }
        return change
    }

    /// A run's entries from `seq` on; sort by `order` to read them in order.
    static func filter(runId: ObjectId, from seq: Int = 0) -> BSONDocument {
        seq > 0 ? ["runId": .objectId(runId), "seq": ["$gte": BSON(seq)]] : ["runId": .objectId(runId)]
    }

    static let order: BSONDocument = ["runId": 1, "seq": 1]

    /// The run as its document and its log entries (in order) tell it, and
    /// where the log continues. Entries already folded into the document
    /// (a fold leaves them behind until the run ends) are skipped. Only
    /// entries that continue the document's `logNext` without a gap count:
    /// each fold takes a number no entry has, so entries read after the
    /// document never carry it past its next fold, whichever was read first.
    static func fold(_ document: BSONDocument, _ entries: [BSONDocument]) -> (Run, RunLogPosition) {
        var run = RunDocument.decode(document)
        let folded = RunDocument.logNext(document)
        var position = RunLogPosition(folded: folded, next: folded, unfolded: RunChange())
        for entry in entries where seq(entry) >= position.next {
            guard seq(entry) == position.next else { break }
            let change = change(entry)
            run.apply(change)
            position.unfolded.merge(change)
            position.next = seq(entry) + 1
        }
        return (run, position)
    }
}
