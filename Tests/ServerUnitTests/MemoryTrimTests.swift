import NIOConcurrencyHelpers
import OrchestratorServer
import Testing
import TestSupport

/// The daemon gives back what a burst of work freed once it is quiet, and
/// does nothing while it stays idle.
@Suite struct MemoryTrimTests {
    private final class Trims: Sendable {
        let count = NIOLockedValueBox(0)
        var now: Int { count.withLockedValue { $0 } }
    }

    @Test func aBurstOfWorkIsFollowedByOneTrimOnceItIsQuiet() async throws {
        let trims = Trims()
        let trim = MemoryTrim(quiet: .milliseconds(1500)) { trims.count.withLockedValue { $0 += 1 } }
        // Work every 50 ms for 0.6 s: never quiet for 1.5 s, so no trim meanwhile.
        for _ in 0..<12 {
            trim.workHappened()
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(trims.now == 0)
        #expect(await eventually(timeout: .seconds(10)) { trims.now == 1 })
        // Idle: nothing more, however long it stays idle.
        try await Task.sleep(for: .seconds(2))
        #expect(trims.now == 1)
        // The next burst gets its own trim.
        trim.workHappened()
        #expect(await eventually(timeout: .seconds(10)) { trims.now == 2 })
        try await Task.sleep(for: .seconds(2))
        #expect(trims.now == 2)
    }

    @Test func nothingIsTrimmedBeforeAnyWork() async throws {
        let trims = Trims()
        let trim = MemoryTrim(quiet: .milliseconds(50)) { trims.count.withLockedValue { $0 += 1 } }
        try await Task.sleep(for: .milliseconds(500))
        #expect(trims.now == 0)
        trim.workHappened()
        #expect(await eventually(timeout: .seconds(10)) { trims.now == 1 })
    }
}
