import Foundation
import NIOConcurrencyHelpers
import Testing

@testable import OrchestratorEngine

/// Each step's supervision blocks for the step's whole life: a job must never
/// wait for another, and a thread that is free again is used for the next.
@Suite struct SupervisorThreadsTests {
    /// Waits (up to 10 s) until `condition` holds.
    private func eventually(_ condition: () -> Bool) async throws -> Bool {
        for _ in 0..<1000 {
            if condition() { return true }
            try await Task.sleep(for: .milliseconds(10))
        }
        return condition()
    }

    // Threads kept far longer than any wait here: a loaded machine does not make them leave early.
    private static let keepLong = Duration.seconds(600)

    @Test func jobsThatBlockRunAtTheSameTime() async throws {
        let threads = SupervisorThreads(keepIdle: Self.keepLong)
        let started = NIOLockedValueBox(0)
        let gate = NIOLockedValueBox(false)
        for index in 0..<6 {
            threads.run(named: "job-\(index)") {
                started.withLockedValue { $0 += 1 }
                while !gate.withLockedValue({ $0 }) { usleep(1000) }
            }
        }
        // None of them returns before all have started: each has a thread of its own.
        #expect(try await eventually { started.withLockedValue { $0 } == 6 })
        gate.withLockedValue { $0 = true }
        #expect(try await eventually { threads.idleCount == 6 })
    }

    @Test func aFreeThreadTakesTheNextJobAndIsNamedForIt() async throws {
        let threads = SupervisorThreads(keepIdle: Self.keepLong)
        let seen = NIOLockedValueBox<[(thread: pthread_t, name: String)]>([])
        func job(_ name: String) {
            threads.run(named: name) {
                // The name the kernel has, as ps -L shows it.
                let name = (try? String(contentsOfFile: "/proc/thread-self/comm", encoding: .utf8))?.trimmingCharacters(in: .newlines) ?? ""
                seen.withLockedValue { $0.append((pthread_self(), name)) }
            }
        }
        job("step-1")
        #expect(try await eventually { threads.idleCount == 1 })
        job("step-2")
        #expect(try await eventually { seen.withLockedValue { $0.count } == 2 && threads.idleCount == 1 })
        let both = seen.withLockedValue { $0 }
        #expect(pthread_equal(both[0].thread, both[1].thread) != 0)
        #expect(both.map(\.name) == ["step-1", "step-2"])
    }

    @Test func idleThreadsExitAfterAWhile() async throws {
        let threads = SupervisorThreads(keepIdle: .milliseconds(100))
        let ran = NIOLockedValueBox(false)
        threads.run(named: "short") { ran.withLockedValue { $0 = true } }
        #expect(try await eventually { ran.withLockedValue { $0 } })
        #expect(try await eventually { threads.idleCount == 0 })
        // A job after that still runs (on a new thread).
        let again = NIOLockedValueBox(false)
        threads.run(named: "later") { again.withLockedValue { $0 = true } }
        #expect(try await eventually { again.withLockedValue { $0 } })
    }
}
