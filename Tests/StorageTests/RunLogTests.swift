import Foundation
import MongoKit
import OrchestratorModel
@testable import MongoStorage
import OrchestratorStorage
import TestSupport
import Testing

/// The run's log: step transitions of a run in flight are entries of their
/// own, folded into the run's document when it starts and ends. Readers see
/// one run either way, and the log fences a daemon that lost its lease.
@Suite struct RunLogTests {
    @Test func stepTransitionsAreLoggedAndFoldedIntoTheDocumentAtTheEnd() async throws {
        try await withRunStore { store, pool in
            let id = try await queuedRun(store, steps: ["backup", "push"])
            let claimed = try #require(try await store.claim(id: id, owner: "a", until: .distantFuture, now: .now))
            var log = try #require(try await store.apply(started(claimed.run), to: id, owner: "a", log: claimed.log))
            log = try #require(try await store.apply(step(claimed.run, 0, .succeeded, sequence: 2), to: id, owner: "a", log: log))

            // The transition is an entry of the log; the run's document still shows the step pending.
            #expect(try await logEntries(pool, id) >= 1)
            #expect(try await documentStepStatus(pool, id, 0) == "pending")
            let read = try await store.run(id: id)
            #expect(read.steps.map(\.status) == [.succeeded, .pending])
            #expect(read.events.map(\.sequence) == [0, 1, 2])
            let page = try await store.listRuns(workflow: "wf", status: .running, limit: 10, after: nil)
            #expect(page.items.first?.steps.map(\.status) == [.succeeded, .pending])

            log = try #require(try await store.apply(step(claimed.run, 1, .succeeded, sequence: 3), to: id, owner: "a", log: log))
            _ = try #require(try await store.apply(
                RunChange(status: .succeeded, finishedAt: .now, events: [event(4, nil, "succeeded")]), to: id, owner: "a", log: log))

            #expect(try await documentStepStatus(pool, id, 0) == "succeeded")
            #expect(try await documentStepStatus(pool, id, 1) == "succeeded")
            #expect(try await logEntries(pool, id) == 0)
            let finished = try await store.run(id: id)
            #expect(finished.status == .succeeded)
            #expect(finished.events.map(\.sequence) == [0, 1, 2, 3, 4])
        }
    }

    /// A run's insert and its folds skip libmongoc's own check of every key
    /// and string: what the model allows must still be stored and read back
    /// whole (parameter names with dots, values with `$`, quotes, NUL and
    /// non-ASCII text).
    @Test func whatTheModelAllowsIsStoredAndReadBackWhole() async throws {
        try await withRunStore { store, _ in
            let odd = "$HOME.x \"é\" \u{0}ü"
            let definition = [Step(name: "push", executionOrder: 0, action: Action(exec: ["/bin/echo", odd], env: ["VLAN_ID": odd]))]
            let params = ["site.name": odd, "vlan-id": "$100"]
            let run = Run(
                id: ObjectId.generate().hex, workflowId: ObjectId.generate().hex, workflowName: "wf", workflowVersion: 1,
                definition: definition, params: params, status: .queued, steps: [RunStep(name: "push", executionOrder: 0)],
                requestedBy: Requester(uid: 0, gid: 0, pid: 1), createdAt: .now, events: [event(0, nil, "queued")])
            try await store.createRun(run)
            let claimed = try #require(try await store.claim(id: run.id, owner: "a", until: .distantFuture, now: .now))
            var log = try #require(try await store.apply(started(claimed.run), to: run.id, owner: "a", log: claimed.log))
            var done = step(claimed.run, 0, .succeeded, sequence: 2)
            done.steps[0]?.stdout = odd
            log = try #require(try await store.apply(done, to: run.id, owner: "a", log: log))
            _ = try #require(try await store.apply(
                RunChange(status: .succeeded, finishedAt: .now, events: [event(3, nil, "succeeded")]), to: run.id, owner: "a", log: log))

            let read = try await store.run(id: run.id)
            #expect(read.status == .succeeded)
            #expect(read.params == params)
            #expect(read.definition.first?.action.exec == ["/bin/echo", odd])
            #expect(read.definition.first?.action.env == ["VLAN_ID": odd])
            #expect(read.steps.first?.stdout == odd)
        }
    }

    /// What MongoDB refuses for good (here a document over its 16 MiB
    /// limit) is not an outage: an executor must end the run, not retry.
    @Test func aWriteOverTheDocumentLimitIsRefusedForGoodAndEndRefusedEndsTheRun() async throws {
        try await withRunStore { store, pool in
            let id = try await queuedRun(store, steps: ["backup", "push"])
            let claimed = try #require(try await store.claim(id: id, owner: "a", until: .distantFuture, now: .now))
            var log = try #require(try await store.apply(started(claimed.run), to: id, owner: "a", log: claimed.log))
            var loud = step(claimed.run, 0, .succeeded, sequence: 2)
            loud.steps[0]?.stdout = String(repeating: "x", count: 9 * 1024 * 1024)
            log = try #require(try await store.apply(loud, to: id, owner: "a", log: log))
            loud = step(claimed.run, 1, .succeeded, sequence: 3)
            loud.steps[1]?.stdout = String(repeating: "y", count: 9 * 1024 * 1024)
            log = try #require(try await store.apply(loud, to: id, owner: "a", log: log))

            // The end folds 18 MiB of output into the run's document.
            let end = RunChange(status: .succeeded, finishedAt: .now, events: [event(4, nil, "succeeded")])
            let refusal = await errorOf { try await store.apply(end, to: id, owner: "a", log: log) }
            #expect(refusal?.isTransient == false, "\(String(describing: refusal))")
            #expect(refusal?.message.contains("16 MiB") == true, "\(String(describing: refusal))")

            let current = try await store.run(id: id)
            var steps = current.steps
            for index in steps.indices { (steps[index].stdout, steps[index].stderr) = ("", "") }
            var ending = RunChange(status: .failed, finishedAt: .now)
            ending.events = log.unfolded.events + [event(4, nil, "failed")]
            #expect(try await store.endRefused(id: id, owner: "b", steps: steps, change: ending, log: log) == false)
            #expect(try await store.endRefused(id: id, owner: "a", steps: steps, change: ending, log: log))
            let ended = try await store.run(id: id)
            #expect(ended.status == .failed)
            #expect(ended.steps.map(\.status) == [.succeeded, .succeeded])
            #expect(ended.events.map(\.sequence) == [0, 1, 2, 3, 4])
            #expect(try await logEntries(pool, id) == 0)
            #expect(try await store.hasActiveRun(workflowId: current.workflowId) == false)
        }
    }

    @Test func aTakeOverFencesThePreviousOwnerAndKeepsWhatItWrote() async throws {
        try await withRunStore { store, _ in
            let (id, first, aLog, second) = try await takenOver(store)
            #expect(second.run.steps[0].status == .running)
            #expect(second.run.events.count == 3)

            // a's next step write and its end are refused: the run is b's.
            #expect(try await store.apply(step(first.run, 0, .succeeded, sequence: 3), to: id, owner: "a", log: aLog) == nil)
            #expect(try await store.apply(
                RunChange(status: .failed, finishedAt: .now, events: [event(3, nil, "failed")]), to: id, owner: "a", log: aLog) == nil)

            try await endTakenOverRun(store, id, second)
            try await expectEndedByTheTakeOver(store, id)
        }
    }

    @Test func aPreviousOwnerStaysFencedAfterTheNewOwnerEndedTheRun() async throws {
        try await withRunStore { store, pool in
            // b takes over and ends the run while a is stalled; the end deletes the log, but not b's claim.
            let (id, first, aLog, second) = try await takenOver(store)
            try await endTakenOverRun(store, id, second)
            #expect(try await logEntries(pool, id) == 1)

            // a wakes up: its next write (which would let it start the next step) is refused.
            #expect(try await store.apply(step(first.run, 0, .succeeded, sequence: 3), to: id, owner: "a", log: aLog) == nil)
            try await expectEndedByTheTakeOver(store, id)
        }
    }

    /// Runs that end while another run's spent entries are being deleted
    /// share the next delete (one `$or` of their filters); every ended run's
    /// spent entries go, and a run still in flight keeps its own.
    @Test func runsThatEndTogetherDeleteTheirSpentLogsInOneCommandAndNothingElse() async throws {
        let upstream = try #require(URLComponents(string: try TestEnvironment.mongoURI())?.port)
        let proxy = try FlakyProxy(to: upstream)
        defer { proxy.stop() }
        // The held delete must not time out while the others queue behind it.
        try await withTestPool(uri: "mongodb://127.0.0.1:\(proxy.port)/?socketTimeoutMS=120000") { pool in
            let store = MongoRunStore(pool: pool)
            try await store.prepare()
            var positions: [String: RunLogPosition] = [:]
            for _ in 0..<4 {
                let id = try await queuedRun(store, steps: ["backup"])
                let claimed = try #require(try await store.claim(id: id, owner: "a", until: .distantFuture, now: .now))
                let log = try #require(try await store.apply(started(claimed.run), to: id, owner: "a", log: claimed.log))
                let stepped = try #require(try await store.apply(step(claimed.run, 0, .succeeded, sequence: 2), to: id, owner: "a", log: log))
                positions[id] = stepped
            }
            let logs = positions
            let ids = logs.keys.sorted()
            let (ending, inFlight) = (Array(ids.prefix(3)), ids[3])
            let inFlightEntries = try await logEntries(pool, inFlight)
            #expect(inFlightEntries >= 1)
            func end(_ id: String) -> Task<RunLogPosition?, any Error> {
                Task { try await store.apply(RunChange(status: .succeeded, finishedAt: .now, events: [event(3, nil, "succeeded")]), to: id, owner: "a", log: logs[id]!) }
            }

            proxy.set(.holdCommands("delete", into: RunLogDocument.collectionName))
            let first = end(ending[0])
            try #require(await eventually { proxy.commands("delete", into: RunLogDocument.collectionName) > 0 }, "the first delete reaches the proxy")
            let others = ending.dropFirst().map(end)
            try #require(await eventually { store.spentLogDeletesWaiting == 2 }, "two deletes wait behind the first")
            proxy.set(.countCommands("delete", into: RunLogDocument.collectionName))
            for task in [first] + others { _ = try #require(try await task.value) }

            #expect(proxy.commands("delete", into: RunLogDocument.collectionName) == 2, "the first alone, then the two that ended meanwhile")
            for id in ending {
                #expect(try await logEntries(pool, id) == 0, "run \(id)")
                #expect(try await store.run(id: id).status == .succeeded)
            }
            #expect(try await logEntries(pool, inFlight) == inFlightEntries)
            #expect(try await store.run(id: inFlight).steps.map(\.status) == [.succeeded])
        }
    }

    @Test func theSweepRemovesWhatEndedRunsLeftInTheLogAndNothingElse() async throws {
        try await withRunStore { store, pool in
            // An ended run whose log deletion did not happen: its entries are put back as they were.
            let ended = try await queuedRun(store, steps: ["backup"])
            let claimed = try #require(try await store.claim(id: ended, owner: "a", until: .distantFuture, now: .now))
            var log = try #require(try await store.apply(started(claimed.run), to: ended, owner: "a", log: claimed.log))
            log = try #require(try await store.apply(step(claimed.run, 0, .running, sequence: 2), to: ended, owner: "a", log: log))
            let entries = try await pool.withClient { client throws(MongoError) in
                try client.collection(RunLogDocument.collectionName).find(["runId": .objectId(ObjectId(ended)!)])
            }
            _ = try #require(try await store.apply(
                RunChange(status: .succeeded, finishedAt: .now, events: [event(3, nil, "succeeded")]), to: ended, owner: "a", log: log))
            try await pool.withClient { client throws(MongoError) in
                for entry in entries { try client.collection(RunLogDocument.collectionName).insertOne(entry) }
            }
            // A run in flight, taken over once: its entries and its claim stay.
            let (active, _, _, b) = try await takenOver(store)
            _ = try #require(try await store.apply(step(b.run, 0, .interrupted, sequence: 3), to: active, owner: "b", log: b.log))
            let activeEntries = try await logEntries(pool, active)

            #expect(try await logEntries(pool, ended) == entries.count)
            #expect(try await store.sweepLogs() == entries.count)
            #expect(try await logEntries(pool, ended) == 0)
            #expect(try await logEntries(pool, active) == activeEntries)
            #expect(try await store.sweepLogs() == 0)
            #expect(try await store.run(id: ended).steps.map(\.status) == [.running])
            #expect(try await store.run(id: active).steps.map(\.status) == [.interrupted, .pending])
        }
    }

    @Test func aWriteRetriedAfterItLandedIsRecordedOnce() async throws {
        try await withRunStore { store, _ in
            let id = try await queuedRun(store, steps: ["backup"])
            let claimed = try #require(try await store.claim(id: id, owner: "a", until: .distantFuture, now: .now))
            let start = started(claimed.run)
            let afterStart = try #require(try await store.apply(start, to: id, owner: "a", log: claimed.log))
            // As if the answer to the first attempt was lost and the same write went again.
            let again = try #require(try await store.apply(start, to: id, owner: "a", log: claimed.log))
            #expect(again.next == afterStart.next)

            let change = step(claimed.run, 0, .succeeded, sequence: 2)
            let afterStep = try #require(try await store.apply(change, to: id, owner: "a", log: afterStart))
            let stepAgain = try #require(try await store.apply(change, to: id, owner: "a", log: afterStart))
            #expect(stepAgain.next == afterStep.next)
            #expect(try await store.run(id: id).events.map(\.sequence) == [0, 1, 2])
        }
    }

    @Test func watchersGetEveryEventOnceAcrossTheLogAndTheDocument() async throws {
        try await withRunStore { store, _ in
            let id = try await queuedRun(store, steps: ["backup", "push"])
            var cursor = RunEventCursor(fromEvent: 0)
            var seen: [Int] = []
            func poll(evenIfQuiet: Bool = false) async throws -> Bool {
                let page = try await store.events(id: id, after: cursor, evenIfQuiet: evenIfQuiet)
                seen += page.events.map(\.sequence)
                cursor = page.cursor
                return page.finished
            }
            #expect(try await poll(evenIfQuiet: true) == false)
            #expect(seen == [0])
            let claimed = try #require(try await store.claim(id: id, owner: "a", until: .distantFuture, now: .now))
            var log = try #require(try await store.apply(started(claimed.run), to: id, owner: "a", log: claimed.log))
            // The start is in the document only: a quiet log hides it until the document is read.
            #expect(try await poll() == false)
            #expect(seen == [0])
            #expect(try await poll(evenIfQuiet: true) == false)
            #expect(seen == [0, 1])
            log = try #require(try await store.apply(step(claimed.run, 0, .succeeded, sequence: 2), to: id, owner: "a", log: log))
            log = try #require(try await store.apply(step(claimed.run, 1, .running, sequence: 3), to: id, owner: "a", log: log))
            // Steps come from the log alone.
            #expect(try await poll() == false)
            #expect(seen == [0, 1, 2, 3])
            log = try #require(try await store.apply(step(claimed.run, 1, .succeeded, sequence: 4), to: id, owner: "a", log: log))
            _ = try #require(try await store.apply(
                RunChange(status: .succeeded, finishedAt: .now, events: [event(5, nil, "succeeded")]), to: id, owner: "a", log: log))
            // The end folded and deleted the log: the document has the rest, and says it is over.
            #expect(try await poll(evenIfQuiet: true) == true)
            #expect(seen == [0, 1, 2, 3, 4, 5])

            // A watcher that comes after the end gets the whole story from the document.
            let late = try await store.events(id: id, after: RunEventCursor(fromEvent: 0), evenIfQuiet: true)
            #expect(late.events.map(\.sequence) == [0, 1, 2, 3, 4, 5])
            #expect(late.finished)
        }
    }

    @Test func cancellingAnIdleQueuedRunFencesAClaimThatExpired() async throws {
        try await withRunStore { store, _ in
            let id = try await queuedRun(store, steps: ["backup"])
            let claimed = try #require(try await store.claim(id: id, owner: "a", until: .now.addingTimeInterval(-1), now: .now))
            let cancelled = try await store.cancelIdle(id: id, eventCount: 1, change: RunChange(status: .cancelled, finishedAt: .now), now: .now)
            #expect(cancelled)
            // The daemon whose claim expired must not start the cancelled run.
            #expect(try await store.apply(started(claimed.run), to: id, owner: "a", log: claimed.log) == nil)
            #expect(try await store.run(id: id).status == .cancelled)
        }
    }

    @Test func aRunRecordedBeforeThereWasALogStillRuns() async throws {
        try await withRunStore { store, pool in
            let id = try await queuedRun(store, steps: ["backup"])
            // As an older daemon wrote it: no log fields in the document.
            let oid = try #require(ObjectId(id))
            _ = try await pool.withClient { client throws(MongoError) in
                try client.collection(MongoRunStore.collectionName).updateOne(["_id": .objectId(oid)], ["$unset": ["logNext": "", "logWriter": ""]])
            }
            let claimed = try #require(try await store.claim(id: id, owner: "a", until: .distantFuture, now: .now))
            var log = try #require(try await store.apply(started(claimed.run), to: id, owner: "a", log: claimed.log))
            log = try #require(try await store.apply(step(claimed.run, 0, .succeeded, sequence: 2), to: id, owner: "a", log: log))
            _ = try #require(try await store.apply(
                RunChange(status: .succeeded, finishedAt: .now, events: [event(3, nil, "succeeded")]), to: id, owner: "a", log: log))
            let finished = try await store.run(id: id)
            #expect(finished.status == .succeeded)
            #expect(finished.steps.map(\.status) == [.succeeded])
        }
    }

    @Test func aDocumentReadBeforeAFoldIsNotMixedWithEntriesWrittenAfterIt() async throws {
        try await withRunStore { store, pool in
            let id = try await queuedRun(store, steps: ["backup", "push"])
            let oid = try #require(ObjectId(id))
            let before = try #require(try await pool.withClient { client throws(MongoError) in
                try client.collection(MongoRunStore.collectionName).findOne(["_id": .objectId(oid)])
            })
            let claimed = try #require(try await store.claim(id: id, owner: "a", until: .distantFuture, now: .now))
            let log = try #require(try await store.apply(started(claimed.run), to: id, owner: "a", log: claimed.log))
            _ = try #require(try await store.apply(step(claimed.run, 0, .running, sequence: 2), to: id, owner: "a", log: log))
            let entries = try await pool.withClient { client throws(MongoError) in
                try client.collection(RunLogDocument.collectionName).find(["runId": .objectId(oid)], sort: RunLogDocument.order)
            }
            // The document says queued: a step running would not be a state the run ever had.
            let (run, _) = RunLogDocument.fold(before, entries)
            #expect(run.status == .queued)
            #expect(run.steps.map(\.status) == [.pending, .pending])
            let (now, _) = RunLogDocument.fold(try #require(try await pool.withClient { client throws(MongoError) in
                try client.collection(MongoRunStore.collectionName).findOne(["_id": .objectId(oid)])
            }), entries)
            #expect(now.status == .running)
            #expect(now.steps.map(\.status) == [.running, .pending])
        }
    }
}

private func withRunStore(_ body: (MongoRunStore, MongoPool) async throws -> Void) async throws {
    try await withTestPool { pool in
        let store = MongoRunStore(pool: pool)
        try await store.prepare()
        try await body(store, pool)
    }
}

private func queuedRun(_ store: MongoRunStore, steps names: [String]) async throws -> String {
    let definition = names.map { Step(name: $0, executionOrder: 0, action: Action(exec: ["/bin/true"])) }
    let run = Run(
        id: ObjectId.generate().hex, workflowId: ObjectId.generate().hex, workflowName: "wf", workflowVersion: 1, definition: definition,
        params: [:], status: .queued, steps: names.map { RunStep(name: $0, executionOrder: 0) },
        requestedBy: Requester(uid: 0, gid: 0, pid: 1), createdAt: .now, events: [event(0, nil, "queued")])
    try await store.createRun(run)
    return run.id
}

/// A run that a started (its first step running) and b took over once a's lease had expired.
private func takenOver(_ store: MongoRunStore) async throws -> (id: String, a: ClaimedRun, aLog: RunLogPosition, b: ClaimedRun) {
    let id = try await queuedRun(store, steps: ["backup", "push"])
    let a = try #require(try await store.claim(id: id, owner: "a", until: .now.addingTimeInterval(-1), now: .now))
    var aLog = try #require(try await store.apply(started(a.run), to: id, owner: "a", log: a.log))
    aLog = try #require(try await store.apply(step(a.run, 0, .running, sequence: 2), to: id, owner: "a", log: aLog))
    let b = try #require(try await store.claim(id: id, owner: "b", until: .distantFuture, now: .now))
    return (id, a, aLog, b)
}

/// b records the first step interrupted (its process was a's) and ends the run failed.
private func endTakenOverRun(_ store: MongoRunStore, _ id: String, _ b: ClaimedRun) async throws {
    let log = try #require(try await store.apply(step(b.run, 0, .interrupted, sequence: 3), to: id, owner: "b", log: b.log))
    _ = try #require(try await store.apply(
        RunChange(status: .failed, finishedAt: .now, events: [event(4, nil, "failed")]), to: id, owner: "b", log: log))
}

private func expectEndedByTheTakeOver(_ store: MongoRunStore, _ id: String) async throws {
    let finished = try await store.run(id: id)
    #expect(finished.status == .failed)
    #expect(finished.steps.map(\.status) == [.interrupted, .pending])
    #expect(finished.events.map(\.status) == ["queued", "running", "running", "interrupted", "failed"])
}

private func event(_ sequence: Int, _ step: String?, _ status: String) -> RunEvent {
    RunEvent(sequence: sequence, step: step, status: status, at: .now)
}

private func started(_ run: Run) -> RunChange {
    RunChange(status: .running, startedAt: .now, events: [event(1, nil, "running")])
}

private func step(_ run: Run, _ index: Int, _ status: StepStatus, sequence: Int) -> RunChange {
    var record = run.steps[index]
    record.status = status
    return RunChange(steps: [index: record], events: [event(sequence, record.name, status.rawValue)])
}

private func logEntries(_ pool: MongoPool, _ id: String) async throws -> Int {
    let oid = try #require(ObjectId(id))
    return try await pool.withClient { client throws(MongoError) in
        try client.collection("run_log").find(["runId": .objectId(oid)]).count
    }
}

private func documentStepStatus(_ pool: MongoPool, _ id: String, _ index: Int) async throws -> String? {
    let oid = try #require(ObjectId(id))
    let document = try await pool.withClient { client throws(MongoError) in
        try client.collection(MongoRunStore.collectionName).findOne(["_id": .objectId(oid)])
    }
    return document?["steps"]?.arrayValue?[index].documentValue?["status"]?.stringValue
}
