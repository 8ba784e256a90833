import Foundation
@testable import MongoKit
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
@testable import OrchestratorServer
import TestSupport
import Testing

/// The write a step waits for may run on the thread that asks for it
/// (`InlineLane`), one such call at a time and only while the database
/// answers; every other call, and any call from an event loop, runs on the
/// driver's threads.
@Suite struct InlineLaneTests {
    /// A pool with a lane of its own, so that no other test's call holds it.
    private func withOwnLane(_ lane: InlineLane = InlineLane(), uri: String? = nil, _ body: (MongoPool) async throws -> Void) async throws {
        let pool = try MongoPool(
            MongoConfiguration(
                uri: try uri ?? TestEnvironment.mongoURI(), database: TestEnvironment.uniqueDatabaseName(), serverSelectionTimeoutMS: 3000),
            inlineLane: lane)
        do {
            try await body(pool)
            await pool.close()
        } catch {
            await pool.close()
            throw error
        }
    }

    /// Whether the call's body ran on the thread that made the call, and how the call ended.
    private func call(
        _ pool: MongoPool, inlineWhenFree: Bool,
        _ work: @escaping @Sendable (MongoClient) throws(MongoError) -> Void = { client throws(MongoError) in
            _ = try client.command(["ping": .int32(1)], database: "admin")
        }
    ) async -> (onCaller: Bool, error: MongoError?) {
        let caller = pthread_self()
        let ranOn = NIOLockedValueBox<pthread_t?>(nil)
        do throws(MongoError) {
            try await pool.withClient(inlineWhenFree: inlineWhenFree) { client throws(MongoError) in
                ranOn.withLockedValue { $0 = pthread_self() }
                try work(client)
            }
            return (ranOn.withLockedValue { $0.map { pthread_equal($0, caller) != 0 } } ?? false, nil)
        } catch {
            return (ranOn.withLockedValue { $0.map { pthread_equal($0, caller) != 0 } } ?? false, error)
        }
    }

    @Test func theWriteAStepWaitsForRunsOnTheAskingThreadAndOtherCallsHop() async throws {
        try await withOwnLane { pool in
            let inline = await call(pool, inlineWhenFree: true)
            #expect(inline.error == nil)
            #expect(inline.onCaller == InlineLane.enoughCPUs, "with \(ProcessInfo.processInfo.activeProcessorCount) CPUs")
            let other = await call(pool, inlineWhenFree: false)
            #expect(other.error == nil)
            #expect(!other.onCaller, "a call that does not ask runs on a driver thread")
        }
    }

    @Test func aCallFromAnEventLoopNeverRunsOnIt() async throws {
        let group = MultiThreadedEventLoopGroup.singleton
        try await withOwnLane { pool in
            let outcome = await withTaskExecutorPreference(EventLoopExecutor(group.next())) {
                #expect(MultiThreadedEventLoopGroup.currentEventLoop != nil, "the call is made on the event loop")
                return await call(pool, inlineWhenFree: true)
            }
            #expect(outcome.error == nil)
            #expect(!outcome.onCaller, "an event loop never waits for the database")
        }
    }

    /// The lane is held as another call under way would hold it: no thread
    /// of the test's blocks, so tests that run meanwhile are not held up.
    @Test func oneCallAtATimeRunsOnItsCallersThread() async throws {
        let lane = InlineLane()
        try await withOwnLane(lane) { pool in
            let held = lane.enter()
            #expect(held == InlineLane.enoughCPUs)
            let second = await call(pool, inlineWhenFree: true)
            if held { lane.leave() }
            #expect(second.error == nil)
            #expect(!second.onCaller, "the lane is taken: the call hops")
            #expect(await call(pool, inlineWhenFree: true).onCaller == InlineLane.enoughCPUs, "the lane is free again")
        }
    }

    /// Closing the pool waits for a call on its caller's thread (it destroys
    /// the clients such a call uses); calls after it hop, and are refused.
    @Test func closingThePoolWaitsForACallOnItsCallersThread() async throws {
        let pool = try MongoPool(
            MongoConfiguration(uri: try TestEnvironment.mongoURI(), database: TestEnvironment.uniqueDatabaseName()), inlineLane: InlineLane())
        let happened = NIOLockedValueBox<[String]>([])
        let release = DispatchSemaphore(value: 0)
        // The call blocks a thread of the test's own, not one of Swift's
        // cooperative pool, which other tests meanwhile need.
        let thread = OnOwnThread()
        defer { thread.stop() }
        let underWay = Task(executorPreference: thread) {
            await call(pool, inlineWhenFree: true) { client throws(MongoError) in
                happened.withLockedValue { $0.append("call began") }
                release.wait()
                _ = try client.command(["ping": .int32(1)], database: "admin")
                happened.withLockedValue { $0.append("call ended") }
            }
        }
        // An extra signal, should a check below fail first, is harmless.
        defer { release.signal() }
        try #require(await eventually { !happened.withLockedValue { $0 }.isEmpty }, "the call is under way")
        let closing = Task {
            await pool.close()
            happened.withLockedValue { $0.append("pool closed") }
        }
        // Time for a close that does not wait to destroy the call's client
        // (a close by itself took about half a second here).
        try await Task.sleep(for: .seconds(2))
        #expect(!happened.withLockedValue { $0 }.contains("pool closed"), "the close waits")
        release.signal()
        let outcome = await underWay.value
        await closing.value
        #expect(outcome.error == nil, "\(String(describing: outcome.error))")
        #expect(outcome.onCaller == InlineLane.enoughCPUs)
        #expect(happened.withLockedValue { $0 } == ["call began", "call ended", "pool closed"])
        let after = await call(pool, inlineWhenFree: true)
        #expect(after.error?.kind == .unavailable && !after.onCaller, "\(String(describing: after.error))")
    }

    /// A database that does not answer blocks the asking thread for one
    /// call at most: the calls after it hop until one is answered.
    @Test func afterACallTheDatabaseDidNotAnswerCallsHopUntilOneIsAnswered() async throws {
        let upstream = try #require(URLComponents(string: try TestEnvironment.mongoURI())?.port)
        let proxy = try FlakyProxy(to: upstream)
        defer { proxy.stop() }
        try await withOwnLane(uri: "mongodb://127.0.0.1:\(proxy.port)/?socketTimeoutMS=1000") { pool in
            #expect(await call(pool, inlineWhenFree: true).onCaller == InlineLane.enoughCPUs, "the database answers")

            proxy.set(.partition)
            let unanswered = await call(pool, inlineWhenFree: true)
            #expect(unanswered.error?.isTransient == true, "\(String(describing: unanswered.error))")
            #expect(unanswered.onCaller == InlineLane.enoughCPUs)
            let meanwhile = await call(pool, inlineWhenFree: true)
            #expect(meanwhile.error?.isTransient == true, "\(String(describing: meanwhile.error))")
            #expect(!meanwhile.onCaller, "after a call without an answer, calls hop")

            proxy.set(.forward)
            // A readiness ping, a read: answered, but not one of the calls
            // that may run inline, so it says nothing of whether they get an answer.
            var other = await call(pool, inlineWhenFree: false)
            // The driver may need a moment to find the server again.
            for _ in 0..<10 where other.error != nil { other = await call(pool, inlineWhenFree: false) }
            #expect(other.error == nil, "\(String(describing: other.error))")
            let answered = await call(pool, inlineWhenFree: true)
            #expect(answered.error == nil, "\(String(describing: answered.error))")
            #expect(!answered.onCaller, "only an answer to a call that may run inline lets them run inline again")
            #expect(await call(pool, inlineWhenFree: true).onCaller == InlineLane.enoughCPUs, "answered again: calls run inline again")
        }
    }
}

/// Runs a task's jobs on a thread of its own.
private final class OnOwnThread: TaskExecutor, @unchecked Sendable {
    private let jobs = NSCondition()
    // Guarded by `jobs`.
    private var queue: [UnownedJob] = []
    private var stopped = false

    init() {
        Thread.detachNewThread { [self] in
            while let job = next() { job.runSynchronously(on: asUnownedTaskExecutor()) }
        }
    }

    private func next() -> UnownedJob? {
        jobs.lock()
        defer { jobs.unlock() }
        while queue.isEmpty && !stopped { jobs.wait() }
        return queue.isEmpty ? nil : queue.removeFirst()
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        jobs.lock()
        queue.append(job)
        jobs.signal()
        jobs.unlock()
    }

    func stop() {
        jobs.lock()
        stopped = true
        jobs.signal()
        jobs.unlock()
    }
}
