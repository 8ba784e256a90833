import Foundation
import MongoKit
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import TestSupport
import Testing

/// The write a step waits for may run on the thread that asks for it
/// (`InlineLane`), one such call at a time and only while the database
/// answers; every other call, and any call from an event loop, runs on the
/// driver's threads.
@Suite struct InlineLaneTests {
    /// A pool with a lane of its own, so that no other test's call holds it.
    private func withOwnLane(uri: String? = nil, _ body: (MongoPool) async throws -> Void) async throws {
        let pool = try MongoPool(
            MongoConfiguration(
                uri: try uri ?? TestEnvironment.mongoURI(), database: TestEnvironment.uniqueDatabaseName(), serverSelectionTimeoutMS: 3000),
            inlineLane: InlineLane())
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
            let outcome = await withTaskExecutorPreference(OnEventLoop(group.next())) {
                #expect(MultiThreadedEventLoopGroup.currentEventLoop != nil, "the call is made on the event loop")
                return await call(pool, inlineWhenFree: true)
            }
            #expect(outcome.error == nil)
            #expect(!outcome.onCaller, "an event loop never waits for the database")
        }
    }

    @Test func oneCallAtATimeRunsOnItsCallersThread() async throws {
        try await withOwnLane { pool in
            let entered = NIOLockedValueBox(false)
            let release = DispatchSemaphore(value: 0)
            let first = Task {
                await call(pool, inlineWhenFree: true) { _ throws(MongoError) in
                    entered.withLockedValue { $0 = true }
                    release.wait()
                }
            }
            try #require(await eventually { entered.withLockedValue { $0 } }, "the first call is under way")
            let second = await call(pool, inlineWhenFree: true)
            release.signal()
            #expect(second.error == nil)
            #expect(!second.onCaller, "the lane is taken: the second call hops")
            let firstOutcome = await first.value
            #expect(firstOutcome.onCaller == InlineLane.enoughCPUs)
            #expect(await call(pool, inlineWhenFree: true).onCaller == InlineLane.enoughCPUs, "the lane is free again")
        }
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
            var answered = await call(pool, inlineWhenFree: true)
            // The driver may need a moment to find the server again.
            for _ in 0..<10 where answered.error != nil { answered = await call(pool, inlineWhenFree: true) }
            #expect(answered.error == nil, "\(String(describing: answered.error))")
            #expect(!answered.onCaller, "the call that finds the database answering is still one that hopped")
            #expect(await call(pool, inlineWhenFree: true).onCaller == InlineLane.enoughCPUs, "answered again: calls run inline again")
        }
    }
}

/// Runs a task's jobs on an event loop, as the daemon runs its connections' requests.
private final class OnEventLoop: TaskExecutor {
    private let eventLoop: any EventLoop

    init(_ eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let executor = asUnownedTaskExecutor()
        eventLoop.execute { job.runSynchronously(on: executor) }
    }
}
