// Benchmarks of orchestratord, each against its floor measured in the same
// run (these machines are noisy, so only ratios side by side mean much).
// Started by scripts/bench, which brings up the database and the daemon.
//
//   orchestrator-bench --socket PATH --pid PID --mongodb-uri URI --database DB [--quick]

import Foundation
import MongoKit
import OrchestratorClient
import OrchestratorProtocol

func argument(_ name: String) -> String? {
    guard let index = CommandLine.arguments.firstIndex(of: name), index + 1 < CommandLine.arguments.count else { return nil }
    return CommandLine.arguments[index + 1]
}

guard let socketPath = argument("--socket"), let pidText = argument("--pid"), let daemonPid = Int32(pidText),
    let mongoURI = argument("--mongodb-uri"), let database = argument("--database")
else {
    FileHandle.standardError.write(Data("usage: orchestrator-bench --socket PATH --pid PID --mongodb-uri URI --database DB [--db-pid PID] [--quick] [--scale-divisor N] [--sections rpc,dispatch,start,concurrent,throughput,scale,fleet]\n".utf8))
    exit(64)
}
let quick = CommandLine.arguments.contains("--quick")
/// The database server's process, when it runs here: its CPU is measured too.
let databasePid = argument("--db-pid").flatMap { Int32($0) }
func databaseCPU() -> Double { databasePid.map { ProcessUsage(pid: $0).cpuSeconds } ?? 0 }
let scale = quick ? 10 : 1
/// The scale section alone can be shrunk: on SecantusDB its full sizes take very long.
let scaleDivisor = Int(argument("--scale-divisor") ?? "") ?? scale
/// Every section by default; `--sections dispatch,scale` reruns a few (each sets up what it needs).
let sections = Set((argument("--sections") ?? "rpc,dispatch,start,concurrent,throughput,scale,fleet").split(separator: ",").map(String.init))

nonisolated(unsafe) var report: [String] = []  // written only by the main flow, one line at a time
func say(_ line: String) {
    print(line)
    fflush(nil)
    report.append(line)
}

let path = socketPath
let rpc: @Sendable () throws -> RPCConnection = { try RPCConnection(path: path) }

let step: @Sendable (String, Int) -> JSONValue = { name, order in
    ["name": .string(name), "executionOrder": .int(Int64(order)), "action": ["exec": ["/bin/true"]]]
}

/// Runs a workflow and waits for its end; returns the run.
@Sendable func runToEnd(_ connection: RPCConnection, _ workflow: String) throws -> JSONValue {
    let run = try connection.call("run.start", ["workflow": .string(workflow)])
    return try connection.call("run.watch", ["id": run["id"] ?? .null])
}

func runSeconds(_ run: JSONValue) -> Double {
    guard let start = run["startedAt"]?.stringValue.flatMap(RFC3339.parse), let end = run["finishedAt"]?.stringValue.flatMap(RFC3339.parse)
    else { return .nan }
    return end.timeIntervalSince(start)
}

let justStarted = ProcessUsage(pid: daemonPid)
say(String(format: "daemon RSS just started, idle: %.1f MiB", Double(justStarted.rssKiB) / 1024))
let pool = try MongoPool(MongoConfiguration(uri: mongoURI, database: database, maxConnections: 16))
let setup = try rpc()

// MARK: 1. RPC round trips against their floors

if sections.contains("rpc") {
say("## RPC round trip")
let echo = try EchoServer(path: socketPath + ".echo")
let statusLine = Array((#"{"jsonrpc":"2.0","id":1,"method":"daemon.status"}"# + "\n").utf8)
for i in 0..<16 {
    _ = try setup.call("workflow.create", ["name": .string("get-\(i)"), "steps": .array((0..<5).map { step("s\($0)", $0) })])
    _ = try setup.call("workflow.create", ["name": .string("add-d-\(i)")])
    _ = try setup.call("workflow.create", ["name": .string("add-f-\(i)")])
}
for clients in [1, 16] {
    let iterations = (clients == 1 ? 2000 : 300) / scale
    let (floor, status) = sideBySide(
        clients: clients, iterations: iterations,
        floor: Side(setUp: { _ in try RPCConnection(path: echo.path) }) { c, _ in
            try c.sendRaw(statusLine)
            _ = try c.readLine()
        },
        measured: Side(setUp: { _ in try rpc() }) { c, _ in _ = try c.call("daemon.status") })
    say("daemon.status, \(clients) client(s): \(status) | echo floor: \(floor) | p50 ratio \(String(format: "%.1f", status.p50 / floor.p50))x")

    let (dbGet, get) = sideBySide(
        clients: clients, iterations: iterations / 2,
        floor: Side(setUp: { $0 }) { index, _ in
            _ = try pool.withClientBlocking { client throws(MongoError) in
                try client.collection("workflows").findOne(["name": BSON("get-\(index)")])
            }
        },
        measured: Side(setUp: { _ in try rpc() }) { c, i in _ = try c.call("workflow.get", ["name": .string("get-\(i % 16)")]) })
    say("workflow.get, \(clients) client(s): \(get) | libmongoc floor: \(dbGet) | p50 ratio \(String(format: "%.2f", get.p50 / dbGet.p50))x")

    let adds = (clients == 1 ? 400 : 40) / scale
    let (dbAdd, add) = sideBySide(
        clients: clients, iterations: adds,
        floor: Side(setUp: { $0 }) { index, i in
            let name = "f\(clients)-\(i)"
            _ = try pool.withClientBlocking { client throws(MongoError) in
                let collection = client.collection("workflows")
                _ = try collection.updateOne(
                    ["name": BSON("add-f-\(index)"), "steps.name": ["$ne": BSON(name)], "steps.999": ["$exists": false]],
                    // The step as the daemon stores it (every field, defaults included): SecantusDB
                    // rewrites the whole document on every update, so its size is the cost.
                    ["$push": ["steps": [
                        "name": BSON(name), "description": "", "executionOrder": 0, "action": ["exec": ["/bin/true"], "env": [:]],
                        "retries": 0, "retryDelaySeconds": 1, "continueOnFailure": false, "idempotent": false, "status": "pending",
                     ]],
                     "$inc": ["version": 1], "$set": ["updatedAt": BSON(Date())]])
                return try collection.findOne(["name": BSON("add-f-\(index)")])
            }
        },
        measured: Side(setUp: { try (rpc(), $0) }) { pair, i in
            _ = try pair.0.call("step.add", ["workflow": .string("add-d-\(pair.1)"), "step": step("d\(clients)-\(i)", 0)])
        })
    say("step.add, \(clients) client(s): \(add) | libmongoc floor (update_one + find_one): \(dbAdd) | p50 ratio \(String(format: "%.2f", add.p50 / dbAdd.p50))x")
}

}

/// Wall-clock seconds of a shell script: the floors that run the same processes without the daemon.
func shell(_ script: String) throws -> Double {
    try seconds {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", script]
        try p.run()
        p.waitUntilExit()
    }
}

// MARK: 2. Step dispatch overhead

if sections.contains("dispatch") {
say("## Step dispatch")
let stepCount = 200 / scale
_ = try setup.call("workflow.create", ["name": "dispatch-seq", "steps": .array((0..<stepCount).map { step("s\($0)", $0) })])
_ = try setup.call("workflow.create", ["name": "dispatch-par", "steps": .array((0..<stepCount).map { step("s\($0)", $0 / 8) })])
let seqFloor = try shell("i=0; while [ $i -lt \(stepCount) ]; do /bin/true; i=$((i+1)); done")
let parFloor = try shell("seq \(stepCount) | xargs -P 8 -n 1 /bin/true")
let beforeSeq = ProcessUsage(pid: daemonPid)
let beforeSeqDatabase = databaseCPU()
let beforeSeqOperations = try operationCounts()
let seqRecord = try runToEnd(setup, "dispatch-seq")
let seqRun = runSeconds(seqRecord)
let seqDatabaseCPU = databaseCPU() - beforeSeqDatabase
let seqOperations = try operationCounts().subtracting(beforeSeqOperations)
// The kernel counts a process's CPU in ticks of 10 ms: over one run of 200
// steps that is 0.05 ms per step either way. The same run four times more
// makes it 0.01: the CPU and context switches per step are over all five.
let cpuRuns = 5
for _ in 1..<cpuRuns { _ = try runToEnd(setup, "dispatch-seq") }
let afterSeqRuns = ProcessUsage(pid: daemonPid)
let seqCPU = afterSeqRuns.cpuSeconds - beforeSeq.cpuSeconds
let cpuSteps = Double(stepCount * cpuRuns)
let beforeParOperations = try operationCounts()
let parRun = runSeconds(try runToEnd(setup, "dispatch-par"))
let parOperations = try operationCounts().subtracting(beforeParOperations)
// Once more with the run log watched, for the writes to replay: the
// watching adds its own reads, so the figure above comes from a run without it.
let (parRecord, parLog) = try logEntriesWritten(pool: pool, collection: "run_log") { try runToEnd(setup, "dispatch-par") }
let beforeReplayDatabase = databaseCPU()
let writesFloor = try replayRunWrites(seqRecord["id"]?.stringValue ?? "").seconds
let replayDatabaseCPU = databaseCPU() - beforeReplayDatabase
say(String(format: "%d steps sequential: %.2f s (shell floor %.3f s) = %.1f ms per step above the floor", stepCount, seqRun, seqFloor, (seqRun - seqFloor) / Double(stepCount) * 1000))
say(String(format: "  database floor: the run's %d writes replayed through libmongoc on copies of its document and log: %.2f s = %.1f ms per step; the rest, %.1f ms per step, is the daemon's work (CPU %.2f ms per step over %d such runs, each watched) and the other database work during the run (watcher's reads, shown statuses, leases)",
           stepCount, writesFloor, writesFloor / Double(stepCount) * 1000, (seqRun - seqFloor - writesFloor) / Double(stepCount) * 1000, seqCPU / cpuSteps * 1000, cpuRuns))
say("  database operations during it (serverStatus opcounters; the watcher's included): \(seqOperations.described(per: stepCount))")
say(String(format: "  daemon context switches per sequential step (its threads, the watcher's included; over the %d runs): %.1f",
           cpuRuns, Double(afterSeqRuns.contextSwitches - beforeSeq.contextSwitches) / cpuSteps))
if databasePid != nil {
    say(String(format: "  database CPU per sequential step: %.2f ms during the run (everything the daemon asked of it), %.2f ms for the replayed writes alone",
               seqDatabaseCPU / Double(stepCount) * 1000, replayDatabaseCPU / Double(stepCount) * 1000))
}
say(String(format: "%d steps in groups of 8: %.2f s (shell floor, 8 at a time, %.3f s) = %.1f ms per step above the floor", stepCount, parRun, parFloor, (parRun - parFloor) / Double(stepCount) * 1000))
if let parLog, let parId = parRecord["id"]?.stringValue, let parOid = ObjectId(parId) {
    let entries = parLog.filter { $0["runId"]?.objectIdValue == parOid }
    let (parWritesFloor, parWrites) = try replayRunWrites(parId, log: entries)
    let watchedRun = runSeconds(parRecord)
    say(String(format: "  database floor: a second run, its log watched (%.2f s, %.1f ms per step above the floor): its %d writes (%d log entries, captured as the daemon wrote them) replayed through libmongoc: %.2f s = %.1f ms per step; the rest, %.1f ms per step, is the daemon's work and the other database work during the run (the watching's included)",
               watchedRun, (watchedRun - parFloor) / Double(stepCount) * 1000, parWrites, entries.count, parWritesFloor, parWritesFloor / Double(stepCount) * 1000,
               (watchedRun - parFloor - parWritesFloor) / Double(stepCount) * 1000))
} else {
    say("  database floor: not measured (the run log's writes could not be captured; see above)")
}
say("  database operations during the first (serverStatus opcounters): \(parOperations.described(per: stepCount))")
}

/// The largest document the daemon stored, and where.
func largestDocument() throws -> (collection: String, size: Int)? {
    try pool.withClientBlocking { client throws(MongoError) in
        try client.everyDocument().map { (collection: $0.collection, size: $0.document.encodedSize) }.max { $0.size < $1.size }
    }
}

/// The server's operation counters (serverStatus `opcounters`).
struct OperationCounts {
    var counts: [String: Int]

    func subtracting(_ earlier: OperationCounts) -> OperationCounts {
        OperationCounts(counts: counts.merging(earlier.counts.mapValues { -$0 }, uniquingKeysWith: +))
    }

    func described(per steps: Int) -> String {
        counts.filter { $0.value > 0 }.sorted { $0.key < $1.key }
            .map { String(format: "%@ %.2f", $0.key, Double($0.value) / Double(steps)) }.joined(separator: ", ") + " per step"
    }
}

func operationCounts() throws -> OperationCounts {
    try pool.withClientBlocking { client throws(MongoError) -> OperationCounts in
        let status = try client.command(["serverStatus": 1], database: "admin")
        var counts: [String: Int] = [:]
        for field in status["opcounters"]?.documentValue?.fields ?? [] { counts[field.key] = field.value.intValue ?? 0 }
        return OperationCounts(counts: counts)
    }
}

/// The write that starts a run, as `run.start` makes it for a run this
/// daemon executes at once: the insert of the run's document, leased to
/// "bench", with its first group of steps recorded running (their final
/// records stand in for them: the same fields, a little larger) and the
/// events up to their starts. Made from the run's stored `document`.
func startingInsert(of document: BSONDocument, firstGroup: Int = 1) -> BSONDocument {
    var copy = document
    let steps = document["steps"]?.arrayValue ?? []
    let events = document["events"]?.arrayValue ?? []
    // Queued, running, and each of the first group's steps starting: an event each.
    copy["events"] = .array(Array(events.prefix(2 + firstGroup)))
    copy["eventCount"] = BSON(2 + firstGroup)
    copy["status"] = "running"
    copy["finishedAt"] = .null
    copy["owner"] = "bench"
    copy["logNext"] = 0
    copy["logWriter"] = .null
    copy["steps"] = .array(Array(steps.prefix(firstGroup)) + steps.dropFirst(firstGroup).map { record -> BSON in
        var pending = BSONDocument()
        for key in ["name", "executionOrder"] { pending[key] = record.documentValue?[key] ?? .null }
        pending["status"] = "pending"
        return .document(pending)
    })
    return copy
}

/// Gives collection `copy` the indexes of the daemon's `runs`: a write
/// to a run's document also updates the indexes its fields are in.
func indexLikeRuns(_ copy: String, _ client: MongoClient) throws(MongoError) {
    let listed = try client.command(["listIndexes": "runs"])
    let indexes = (listed["cursor"]?.documentValue?["firstBatch"]?.arrayValue ?? []).compactMap(\.documentValue).filter { $0["name"]?.stringValue != "_id_" }
    var specs: [BSON] = []
    for index in indexes {
        var spec = BSONDocument()
        for field in index.fields where ["key", "name", "unique", "sparse", "partialFilterExpression"].contains(field.key) { spec[field.key] = field.value }
        specs.append(.document(spec))
    }
    if !specs.isEmpty { _ = try client.writeCommand(["createIndexes": BSON(copy), "indexes": .array(specs)]) }
}

/// The write that starts run `runId`, replayed directly through libmongoc
/// into a collection of its own: seconds.
func replayStartingWrite(_ runId: String) throws -> Double {
    guard let oid = ObjectId(runId) else { throw BenchError("no run id") }
    return try pool.withClientBlocking { client throws(MongoError) -> Double in
        guard let document = try client.collection("runs").findOne(["_id": .objectId(oid)]) else { return .nan }
        let copy = startingInsert(of: document)
        try indexLikeRuns("start_floor", client)
        let copies = client.collection("start_floor")
        return try seconds { () throws(MongoError) in try copies.insertOne(copy) }
    }
}

/// The database's part of a run, replayed directly through libmongoc in
/// collections of their own: the insert that starts the run (with its first
/// group of steps), its log entries, the update that folds it all into the
/// run's document at the end, and the log's deletion. The entries are
/// `log`, as captured from the run (`logEntriesWritten`); without it, one
/// per further step as a sequential run writes them (the previous step's
/// result and this one's start, with their two events). Each write has the
/// size of the daemon's.
func replayRunWrites(_ runId: String, log captured: [BSONDocument]? = nil) throws -> (seconds: Double, writes: Int) {
    guard let oid = ObjectId(runId) else { throw BenchError("no run id") }
    return try pool.withClientBlocking { client throws(MongoError) -> (seconds: Double, writes: Int) in
        guard let document = try client.collection("runs").findOne(["_id": .objectId(oid)]) else { return (.nan, 0) }
        let steps = document["steps"]?.arrayValue ?? []
        let events = document["events"]?.arrayValue ?? []
        // The steps that start with the run: those of the first execution order.
        let firstOrder = steps.first?.documentValue?["executionOrder"]?.intValue
        let firstGroup = max(1, steps.prefix { $0.documentValue?["executionOrder"]?.intValue == firstOrder }.count)
        let copy = startingInsert(of: document, firstGroup: firstGroup)
        func entries() -> [BSONDocument] {
            captured ?? (1..<max(steps.count, 1)).map { index -> BSONDocument in
                let pair: [BSON] = [["index": BSON(index - 1), "record": steps[index - 1]], ["index": BSON(index), "record": steps[index]]]
                return [
                    "runId": .objectId(oid), "seq": BSON(index + 1), "writer": "bench",
                    "steps": .array(pair), "events": .array(Array(events.dropFirst(1 + 2 * index).prefix(2))),
                ]
            }
        }
        let copies = client.collection("dispatch_floor")
        let log = client.collection("dispatch_floor_log")
        _ = try client.writeCommand(["createIndexes": "dispatch_floor_log", "indexes": [["key": ["runId": 1, "seq": 1], "name": "run_seq", "unique": true]]])
        try indexLikeRuns("dispatch_floor", client)
        var written = 0
        let elapsed = try seconds { () throws(MongoError) in
            try copies.insertOne(copy)
            // Made inside the timed part, as the daemon makes them in its.
            let entries = entries()
            written = entries.count
            for entry in entries {
                var entry = entry
                entry["_id"] = nil
                try log.insertOne(entry)
            }
            var set = BSONDocument([("status", "succeeded"), ("logNext", BSON(steps.count + 2))])
            for (index, record) in steps.enumerated() { set["steps.\(index)"] = record }
            _ = try copies.updateOne(["_id": .objectId(oid)], ["$set": .document(set), "$push": ["events": ["$each": .array(Array(events.dropFirst(2 + firstGroup)))]]])
            _ = try log.deleteMany(["runId": .objectId(oid)])
        }
        return (elapsed, written + 3)
    }
}

// MARK: 3. Run throughput

if sections.contains("throughput") {
say("## Run throughput")
_ = try setup.call("workflow.create", ["name": "five", "steps": .array((0..<5).map { step("s\($0)", $0) })])
let runCount = 100 / scale
let before = ProcessUsage(pid: daemonPid)
let throughput = try seconds {
    onClientThreads(10, connect: rpc) { _, c in
        for _ in 0..<(runCount / 10) { _ = try? c.call("run.start", ["workflow": "five"]) }
    }
    while true {
        let page = try setup.call("run.list", ["workflow": "five", "limit": 1000])
        let items = page["items"]?.arrayValue ?? []
        if items.count >= runCount && items.allSatisfy({ $0["status"] == "succeeded" || $0["status"] == "failed" }) { break }
        usleep(200_000)
    }
}
let after = ProcessUsage(pid: daemonPid)
say(String(format: "%d runs of 5 steps started at once: all done in %.1f s (%.1f runs/s), daemon CPU %.1f s, peak RSS %d MiB",
           runCount, throughput, Double(runCount) / throughput, after.cpuSeconds - before.cpuSeconds, after.peakRSSKiB / 1024))

}

// MARK: 3b. From run.start to the first step, and many short steps at once

/// The wall clock in nanoseconds, as `date +%s%N` writes it.
func wallNanoseconds() -> Int64 {
    var now = timespec()
    clock_gettime(CLOCK_REALTIME, &now)
    return Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
}

/// The nanoseconds a step wrote into `path`, read once the process is
/// known to have ended: polling for it meanwhile would take a core of the
/// two this machine has from the daemon and the database being measured.
func stamp(_ path: String) throws -> Int64 {
    guard let text = try? String(contentsOfFile: path, encoding: .utf8), let value = Int64(text.trimmingCharacters(in: .whitespacesAndNewlines)) else {
        throw BenchError("the step left no stamp in \(path)")
    }
    return value
}

if sections.contains("start") {
say("## From run.start answered to the first step's process")
let stampFile = FileManager.default.temporaryDirectory.appendingPathComponent("orch-bench-stamp-\(getpid())").path
let script = "date +%s%N > \(stampFile)"
_ = try setup.call("workflow.create", ["name": "stamp", "steps": [["name": "s", "executionOrder": 0, "action": ["exec": ["/bin/sh", "-c", .string(script)]]]]])
var latencies: [Double] = []
var unwatched: [Double] = []
var floors: [Double] = []
var writes: [Double] = []
// Unwatched: run.start's own round trip, and from its request to the process (work moved before the answer shows here).
var answers: [Double] = []
var fromRequest: [Double] = []
for _ in 0..<(50 / scale) {
    // Floor: the same process started here, from the moment it is asked for to its stamp.
    try? FileManager.default.removeItem(atPath: stampFile)
    let asked = wallNanoseconds()
    _ = try shell(script)
    floors.append(Double(try stamp(stampFile) - asked) / 1e6)

    // As `orchctl run start --watch` does: the watch asked for at once.
    try? FileManager.default.removeItem(atPath: stampFile)
    let run = try setup.call("run.start", ["workflow": "stamp"])
    let answered = wallNanoseconds()
    _ = try setup.call("run.watch", ["id": run["id"] ?? .null])
    latencies.append(Double(try stamp(stampFile) - answered) / 1e6)

    // Nobody watching while it starts: the watch that waits for its end comes 0.1 s later.
    try? FileManager.default.removeItem(atPath: stampFile)
    let aloneAsked = wallNanoseconds()
    let alone = try setup.call("run.start", ["workflow": "stamp"])
    let aloneAnswered = wallNanoseconds()
    answers.append(Double(aloneAnswered - aloneAsked) / 1e6)
    usleep(100_000)
    _ = try setup.call("run.watch", ["id": alone["id"] ?? .null])
    let aloneStamp = try stamp(stampFile)
    unwatched.append(Double(aloneStamp - aloneAnswered) / 1e6)
    fromRequest.append(Double(aloneStamp - aloneAsked) / 1e6)

    // The write that starts the run: its insert (before the answer), replayed.
    writes.append(try replayStartingWrite(alone["id"]?.stringValue ?? "") * 1000)
}
try? FileManager.default.removeItem(atPath: stampFile)
func percentile(_ values: [Double], _ p: Double) -> Double { values.sorted()[min(values.count - 1, Int(Double(values.count) * p))] }
say(String(format: "run.start answered -> the step's process stamps, watched at once: p50 %.1f ms, max %.1f ms (n=%d) | unwatched: p50 %.1f ms, max %.1f ms | floor, the same process started by a shell: p50 %.1f ms, max %.1f ms",
           percentile(latencies, 0.5), latencies.max() ?? .nan, latencies.count, percentile(unwatched, 0.5), unwatched.max() ?? .nan,
           percentile(floors, 0.5), floors.max() ?? .nan))
// The insert that stores the run records its first step: nothing is written between the answer and the process.
say(String(format: "unwatched start above the shell floor: %.1f ms (target: one write + 1 ms; no write comes between the answer and the process now)",
           percentile(unwatched, 0.5) - percentile(floors, 0.5)))
say(String(format: "unwatched, from run.start asked: answered p50 %.1f ms, the step's process p50 %.1f ms = the shell floor + the run's insert replayed through libmongoc (p50 %.1f ms) + %.1f ms",
           percentile(answers, 0.5), percentile(fromRequest, 0.5), percentile(writes, 0.5),
           percentile(fromRequest, 0.5) - percentile(floors, 0.5) - percentile(writes, 0.5)))
}

if sections.contains("concurrent") {
say("## Many short steps at once")
let runs = 20, steps = 5
_ = try setup.call("workflow.create", ["name": "sleepy", "steps": .array((0..<steps).map { i in
    ["name": .string("s\(i)"), "executionOrder": .int(Int64(i)), "action": ["exec": ["/bin/sleep", "0.1"]]]
})])
let floor = try shell("seq \(runs) | xargs -P \(runs) -I{} sh -c 'for i in 1 2 3 4 5; do sleep 0.1; done'")
let before = ProcessUsage(pid: daemonPid)
// Each client watches the run it started, as `orchctl run start --watch`
// does: the runs' ends come from their executor's feed. (Until the fourth
// round this asked run.list of every run 50 times a second, load that
// measured itself: each answer is a query of SecantusDB's, between the
// runs' writes.)
let succeeded = LockedArray()
let wall = seconds {
    onClientThreads(runs, connect: rpc) { _, c in
        if let run = try? runToEnd(c, "sleepy"), run["status"] == "succeeded" { succeeded.append([1]) }
    }
}
guard succeeded.values.count == runs else { throw BenchError("only \(succeeded.values.count) of the \(runs) sleepy runs succeeded") }
let cpu = ProcessUsage(pid: daemonPid).cpuSeconds - before.cpuSeconds
say(String(format: "%d runs x %d x sleep 0.1 started at once: all done in %.2f s (ideal 0.5 s; shell floor, every run at once, %.2f s), daemon CPU %.2f s",
           runs, steps, wall, floor, cpu))
}

// MARK: 4. Scale

if sections.contains("scale") {
say("## Scale")
let idle = ProcessUsage(pid: daemonPid)
let workflowCount = 10_000 / scaleDivisor
let created = seconds {
    onClientThreads(16, connect: rpc) { t, c in
        for i in stride(from: t, to: workflowCount, by: 16) { _ = try? c.call("workflow.create", ["name": .string(String(format: "scale-%05d", i))]) }
    }
}
var pages = 0
var listed = 0
let listing = try seconds {
    var cursor: JSONValue = .null
    repeat {
        var params: [String: JSONValue] = ["limit": 100]
        if cursor != .null { params["after"] = cursor }
        let page = try setup.call("workflow.list", params)
        listed += page["items"]?.arrayValue?.count ?? 0
        pages += 1
        cursor = page["next"] ?? .null
    } while cursor != .null
}
// The floor: the same pages through libmongoc (find, name after the cursor, sorted, 101 at a time).
let listingFloor = try seconds {
    var after: String?
    repeat {
        let filter: BSONDocument = after.map { ["name": ["$gt": BSON($0)]] } ?? [:]
        let page = try pool.withClientBlocking { client throws(MongoError) in
            try client.collection("workflows").find(filter, sort: ["name": 1], limit: 101)
        }
        after = page.count > 100 ? page[99]["name"]?.stringValue : nil
    } while after != nil
}
say(String(format: "%d workflows created in %.1f s; listed page by page (%d pages of 100, %d items) in %.2f s (%.1f ms per page) | libmongoc floor %.2f s (%.1f ms per page) | ratio %.2fx",
           workflowCount, created, pages, listed, listing, listing / Double(pages) * 1000, listingFloor, listingFloor / Double(pages) * 1000, listing / listingFloor))
let bigSteps = 1000 / scaleDivisor
let bigCreate = try seconds { _ = try setup.call("workflow.create", ["name": "big", "steps": .array((0..<bigSteps).map { step("s\($0)", $0) })]) }
let bigGet = try seconds { _ = try setup.call("workflow.get", ["name": "big"]) }
let bigRun = runSeconds(try runToEnd(setup, "big"))
say(String(format: "a workflow of %d steps: create %.1f ms, get %.1f ms, run %.1f s (%.1f ms per step)", bigSteps, bigCreate * 1000, bigGet * 1000, bigRun, bigRun / Double(bigSteps) * 1000))
_ = try setup.call("workflow.create", ["name": "tiny", "steps": [step("only", 0)]])
let finished = 1000 / scaleDivisor
for _ in 0..<finished { _ = try setup.call("run.start", ["workflow": "tiny"]) }
while (try setup.call("run.list", ["workflow": "tiny", "status": "succeeded", "limit": 1000])["items"]?.arrayValue?.count ?? 0) < finished {
    usleep(500_000)
}
let listOne = measure(clients: 1, iterations: 20, setUp: { _ in try rpc() }) { c, _ in _ = try c.call("run.list", ["limit": 100]) }
let listAll = try seconds {
    var cursor: JSONValue = .null
    repeat {
        var params: [String: JSONValue] = ["limit": 100]
        if cursor != .null { params["after"] = cursor }
        cursor = try setup.call("run.list", params)["next"] ?? .null
    } while cursor != .null
}
let loaded = ProcessUsage(pid: daemonPid)
say(String(format: "%d+ finished runs: run.list of 100 %@; every page %.2f s", finished, listOne.description, listAll))
// What an operator sees once the load is over: the daemon gives back what it freed once it has been quiet for 0.5 s.
sleep(1)
let settled = ProcessUsage(pid: daemonPid)
say(String(format: "daemon RSS: idle %d MiB, at the end of the load %d MiB, 1 s later %d MiB, peak %d MiB",
           idle.rssKiB / 1024, loaded.rssKiB / 1024, settled.rssKiB / 1024, loaded.peakRSSKiB / 1024))
}

// MARK: 5. A fleet run

if sections.contains("fleet") {
say("## Fleet")
let targetCount = 1000 / scaleDivisor
let fleetSteps = 3
onClientThreads(16, connect: rpc) { t, c in
    for i in stride(from: t, to: targetCount, by: 16) {
        _ = try? c.call("target.create", ["name": .string(String(format: "leaf%04d.bench", i)), "labels": ["bench": "fleet"], "vars": ["mgmt": .string("10.0.\(i / 250).\(i % 250)")]])
    }
}
_ = try setup.call("workflow.create", ["name": "fleet3", "steps": .array((0..<fleetSteps).map { step("s\($0)", $0) })])
// The floor: the same processes from a shell, as many at once as the daemon's step slots (8).
let fleetFloor = try shell("seq \(targetCount * fleetSteps) | xargs -P 8 -n 1 /bin/true")
let beforeFleet = ProcessUsage(pid: daemonPid)
var fleetRun: JSONValue = .null
let fleetWall = try seconds {
    let started = try setup.call("run.start", ["workflow": "fleet3", "targets": ["labels": ["bench": "fleet"]], "batchSize": 100])
    fleetRun = try setup.call("run.watch", ["id": started["id"] ?? .null])
}
let afterFleet = ProcessUsage(pid: daemonPid)
let targetSteps = Double(targetCount * fleetSteps)
say(String(format: "%d targets × %d /bin/true steps, batches of 100: %@ in %.1f s (shell floor, xargs -P 8: %.2f s) = %.1f ms per target-step above the floor; daemon CPU %.1f ms per target-step",
           targetCount, fleetSteps, fleetRun["status"]?.stringValue ?? "?", fleetWall, fleetFloor, (fleetWall - fleetFloor) / targetSteps * 1000,
           (afterFleet.cpuSeconds - beforeFleet.cpuSeconds) / targetSteps * 1000))
// Once more if the first try finds its pooled connection closed (idle through the whole fleet).
let largest = try (try? largestDocument()) ?? largestDocument()
say(String(format: "largest stored document: %d KiB (in %@; MongoDB's limit is 16,384 KiB); daemon RSS after the fleet %d MiB, peak %d MiB",
           (largest?.size ?? 0) / 1024, largest?.collection ?? "?", afterFleet.rssKiB / 1024, afterFleet.peakRSSKiB / 1024))
}

if let out = argument("--out") {
    try report.joined(separator: "\n").appending("\n").write(toFile: out, atomically: true, encoding: .utf8)
}
await pool.close()
