import Foundation
import Testing

@testable import OrchestratorEngine

/// A step's process is known again after a restart by its pid and its start
/// time (field 22 of /proc/PID/stat), read for every step as it is spawned.
@Suite struct ProcessIdentityTests {
    private func ticks(_ line: String) -> UInt64? {
        Array(line.utf8).withUnsafeBufferPointer { ProcessIdentity.startTicks(parsing: $0) }
    }

    /// The same field, found the slow way: split on spaces after the last ')'.
    private func fieldTwentyTwo(_ stat: String) -> UInt64? {
        guard let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        return fields.count > 19 ? UInt64(fields[19].trimmingCharacters(in: .whitespacesAndNewlines)) : nil
    }

    @Test func aLiveProcessHasTheStartTimeTheKernelShows() throws {
        let pid = getpid()
        let stat = try String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)
        let expected = try #require(fieldTwentyTwo(stat))
        #expect(ProcessIdentity.startTicks(of: pid) == expected)
        #expect(expected > 0)
    }

    @Test func aCommandNameWithSpacesAndParenthesesDoesNotShiftTheFields() {
        let rest = (4...21).map(String.init).joined(separator: " ")
        #expect(ticks("42 (a) b (c)) S \(rest) 987654 23 24\n") == 987_654)
        #expect(ticks("42 (x y) R \(rest) 5\n") == 5)
    }

    @Test func aZombieOrAMangledLineHasNoStartTime() {
        let rest = (4...21).map(String.init).joined(separator: " ")
        #expect(ticks("42 (sh) Z \(rest) 987654 23\n") == nil)
        #expect(ticks("42 (sh) S 4 5 6\n") == nil)
        #expect(ticks("42 sh S \(rest) 987654\n") == nil)
        #expect(ticks("42 (sh) S \(rest) 98x7\n") == nil)
        #expect(ticks("42 (sh) S \(rest) 99999999999999999999999\n") == nil)
        #expect(ticks("") == nil)
    }

    @Test func aProcessThatIsGoneHasNoStartTime() {
        #expect(ProcessIdentity.startTicks(of: Int32.max) == nil)
    }
}
