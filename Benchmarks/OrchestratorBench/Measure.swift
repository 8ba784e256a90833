import Foundation
import MongoKit
import OrchestratorClient

/// Latency figures in milliseconds.
struct Latencies: CustomStringConvertible {
    let samples: [Double]

    init(_ samples: [Double]) {
        self.samples = samples.sorted()
    }

    func percentile(_ p: Double) -> Double {
        guard !samples.isEmpty else { return .nan }
        return samples[min(samples.count - 1, Int((p / 100 * Double(samples.count - 1)).rounded()))] * 1000
    }

    var p50: Double { percentile(50) }
    var p99: Double { percentile(99) }
    var p999: Double { percentile(99.9) }

    var description: String { String(format: "p50 %.3f ms, p99 %.3f ms, p99.9 %.3f ms (n=%d)", p50, p99, p999, samples.count) }
}

/// Runs `operation` `iterations` times on each of `clients` threads of its
/// own (blocking clients never touch Swift's cooperative pool) and returns
/// every latency. `setUp` makes a thread's client.
func measure<Client>(
    clients: Int, iterations: Int, firstIndex: Int = 0, setUp: @escaping @Sendable (Int) throws -> Client,
    _ operation: @escaping @Sendable (Client, Int) throws -> Void
) -> Latencies {
    let results = LockedArray()
    let group = DispatchGroup()
    for index in 0..<clients {
        group.enter()
        let thread = Thread {
            defer { group.leave() }
            do {
                let client = try setUp(index)
                var local: [Double] = []
                local.reserveCapacity(iterations)
                for i in 0..<iterations {
                    let start = DispatchTime.now().uptimeNanoseconds
                    try operation(client, firstIndex + index * iterations + i)
                    local.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
                }
                results.append(local)
            } catch {
                FileHandle.standardError.write(Data("bench: client \(index) failed: \(error)\n".utf8))
            }
        }
        thread.stackSize = 1 << 20
        thread.start()
    }
    group.wait()
    return Latencies(results.values)
}

/// One side of a side-by-side measurement: its clients and its operation.
struct Side<Client> {
    let setUp: @Sendable (Int) throws -> Client
    let operation: @Sendable (Client, Int) throws -> Void
}

/// The floor and the measured operation in alternating rounds (floor, then
/// measured, ten times), so that a slow spell of the machine or of the
/// database weighs on both alike instead of on whichever ran during it.
/// Each operation gets indices no earlier round used.
func sideBySide<Floor, Measured>(
    clients: Int, iterations: Int, floor: Side<Floor>, measured: Side<Measured>
) -> (floor: Latencies, measured: Latencies) {
    let rounds = 10
    let perRound = max(iterations / rounds, 1)
    var floorSamples: [Double] = [], measuredSamples: [Double] = []
    for round in 0..<rounds {
        let first = round * clients * perRound
        floorSamples += measure(clients: clients, iterations: perRound, firstIndex: first, setUp: floor.setUp, floor.operation).samples
        measuredSamples += measure(clients: clients, iterations: perRound, firstIndex: first, setUp: measured.setUp, measured.operation).samples
    }
    return (Latencies(floorSamples), Latencies(measuredSamples))
}

/// Runs `body` on `count` threads of their own, each with its own daemon
/// connection (a thread that cannot connect does nothing), and waits for all.
func onClientThreads(_ count: Int, connect: @escaping @Sendable () throws -> RPCConnection, _ body: @escaping @Sendable (Int, RPCConnection) -> Void) {
    let group = DispatchGroup()
    for index in 0..<count {
        group.enter()
        Thread {
            defer { group.leave() }
            guard let connection = try? connect() else { return }
            body(index, connection)
        }.start()
    }
    group.wait()
}

final class LockedArray: @unchecked Sendable {
    // Guarded by `lock`.
    private var storage: [Double] = []
    private let lock = NSLock()

    func append(_ values: [Double]) { lock.withLock { storage += values } }
    var values: [Double] { lock.withLock { storage } }
}

/// Wall-clock seconds of `body`.
func seconds<Failure: Error>(_ body: () throws(Failure) -> Void) throws(Failure) -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    try body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
}

/// CPU seconds (user + system) and peak resident memory of a process, from /proc.
struct ProcessUsage {
    let cpuSeconds: Double
    let peakRSSKiB: Int
    let rssKiB: Int

    init(pid: Int32) {
        let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
        let fields = stat.split(separator: ")").last?.split(separator: " ") ?? []
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        let utime = fields.count > 12 ? Double(fields[11]) ?? 0 : 0
        let stime = fields.count > 12 ? Double(fields[12]) ?? 0 : 0
        cpuSeconds = (utime + stime) / ticks
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        func kib(_ key: String) -> Int {
            let line = status.split(separator: "\n").first { $0.hasPrefix(key) } ?? ""
            return Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
        }
        peakRSSKiB = kib("VmHWM:")
        rssKiB = kib("VmRSS:")
        contextSwitches = Self.contextSwitches(of: pid)
    }

    /// Context switches (voluntary and not) of the process's threads alive
    /// now: the kernel keeps them per thread, and a thread that has exited
    /// takes its count with it (the daemon keeps its threads while busy).
    let contextSwitches: Int

    private static func contextSwitches(of pid: Int32) -> Int {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
        return tasks.reduce(0) { total, task in
            let status = (try? String(contentsOfFile: "/proc/\(pid)/task/\(task)/status", encoding: .utf8)) ?? ""
            return total + status.split(separator: "\n")
                .filter { $0.hasPrefix("voluntary_ctxt_switches:") || $0.hasPrefix("nonvoluntary_ctxt_switches:") }
                .compactMap { $0.split(separator: "\t").last.flatMap { Int($0.trimmingCharacters(in: .whitespaces)) } }
                .reduce(0, +)
        }
    }
}

/// A line-echo server on a Unix socket: the floor of a round trip over the
/// same kind of socket, with no JSON and no database.
final class EchoServer: @unchecked Sendable {
    let path: String
    private let fd: Int32

    init(path: String) throws {
        self.path = path
        unlink(path)
        do throws(UnixSocket.Failure) {
            fd = try UnixSocket.bind(path: path)
        } catch {
            throw BenchError("cannot listen on \(path)")
        }
        guard listen(fd, 128) == 0 else { throw BenchError("cannot listen on \(path)") }
        let listener = fd
        Thread {
            while true {
                let client = accept(listener, nil, nil)
                guard client >= 0 else { return }
                Thread {
                    var buffer = [UInt8](repeating: 0, count: 65536)
                    while true {
                        let n = buffer.withUnsafeMutableBytes { recv(client, $0.baseAddress, $0.count, 0) }
                        if n <= 0 { break }
                        _ = buffer.withUnsafeBytes { send(client, $0.baseAddress, n, Int32(MSG_NOSIGNAL)) }
                    }
                    close(client)
                }.start()
            }
        }.start()
    }
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// What `logEntriesWritten`'s watching thread hands over.
private final class LogCapture: @unchecked Sendable {
    enum Caller { case running, done(DispatchTime), failed }
    // Guarded by `lock`.
    var entries: [BSONDocument]? = []
    var caller = Caller.running
    let lock = NSLock()
    let opened = DispatchSemaphore(value: 0)
    let finished = DispatchSemaphore(value: 0)

    /// Tells the watching thread how `body` went and waits for it to stop.
    func end(_ how: Caller) {
        lock.withLock { caller = how }
        finished.wait()
    }
}

/// Every entry inserted into the run log while `body` runs, as it was
/// written, read from a change stream opened before `body` starts (the
/// caller picks its run's by `runId`). The capture ends once `body` has
/// returned, an entry it captured has been deleted (a run deletes its log
/// only after folding it, so every insert of that run came before) and the
/// stream has gone quiet; nil if the stream failed or that did not happen
/// within 30 s of `body`'s return.
func logEntriesWritten<T>(pool: MongoPool, collection: String, _ body: () throws -> T) rethrows -> (T, [BSONDocument]?) {
    let capture = LogCapture()
    let thread = Thread {
        var opened = false
        defer {
            if !opened { capture.opened.signal() }
            capture.finished.signal()
        }
        do throws(MongoError) {
            try pool.withClientBlocking { client throws(MongoError) in
                let stream = try client.collection(collection).watch(maxAwaitMilliseconds: 100)
                opened = true
                capture.opened.signal()
                var inserted: Set<ObjectId> = []
                var capturedWereDeleted = false
                func take(_ change: BSONDocument) {
                    // Entries get their ids from the driver: ObjectIds.
                    guard let id = change["documentKey"]?.documentValue?["_id"]?.objectIdValue else { return }
                    switch change["operationType"]?.stringValue {
                    case "insert":
                        inserted.insert(id)
                        if let entry = change["fullDocument"]?.documentValue { capture.lock.withLock { capture.entries?.append(entry) } }
                    case "delete":
                        if inserted.contains(id) { capturedWereDeleted = true }
                    default: break
                    }
                }
                while true {
                    switch capture.lock.withLock({ capture.caller }) {
                    case .failed: return
                    case .done(let at) where DispatchTime.now() > at + .seconds(30):
                        FileHandle.standardError.write(Data("bench: the run log was not deleted within 30 s of the run's end\n".utf8))
                        capture.lock.withLock { capture.entries = nil }
                        return
                    case .done where capturedWereDeleted:
                        // Every insert came before the deletion: a quiet stream has nothing more.
                        guard let change = try stream.next() else { return }
                        take(change)
                    case .done, .running:
                        if let change = try stream.next() { take(change) }
                    }
                }
            }
        } catch {
            FileHandle.standardError.write(Data("bench: the run log's change stream failed: \(error)\n".utf8))
            capture.lock.withLock { capture.entries = nil }
        }
    }
    thread.start()
    capture.opened.wait()
    let result: T
    do {
        result = try body()
    } catch {
        capture.end(.failed)
        throw error
    }
    capture.end(.done(.now()))
    return (result, capture.lock.withLock { capture.entries })
}
