import Foundation
import Testing
import OrchestratorProtocol

@Suite struct TimestampTests {
    /// The oracle: Foundation writes whole seconds exactly; the milliseconds are appended by integer arithmetic.
    private func expected(_ milliseconds: Int64) -> String {
        let seconds = milliseconds >= 0 ? milliseconds / 1000 : (milliseconds - 999) / 1000
        let whole = Date(timeIntervalSince1970: Double(seconds))
            .formatted(.iso8601.year().month().day().dateSeparator(.dash).time(includingFractionalSeconds: false).timeSeparator(.colon))
        return whole + String(format: ".%03dZ", milliseconds - seconds * 1000)
    }

    @Test func storedTimestampsAreWrittenToTheMillisecond() {
        var generator = SystemRandomNumberGenerator()
        // Stored dates are whole milliseconds (BSON dates).
        let edges: [Int64] = [0, -1, 1, 999, -1000, -1001, 951_782_400_000, 1_709_164_800_123, 829_962_514_558, 4_102_444_799_999, 253_402_300_799_999]
        let random = (0..<2000).map { _ in Int64.random(in: 0..<4_102_444_800_000, using: &generator) }
        for milliseconds in edges + random {
            let date = Date(timeIntervalSince1970: Double(milliseconds) / 1000)
            #expect(RFC3339.format(date) == expected(milliseconds), "at \(milliseconds) ms")
        }
    }

    @Test func partsOfAMillisecondRoundAsTheDatabaseStoresThem() {
        #expect(RFC3339.format(Date(timeIntervalSince1970: 1_795_000_000.1239)) == "2026-11-18T11:06:40.124Z")
        #expect(RFC3339.format(Date(timeIntervalSince1970: 1_795_000_000.1231)) == "2026-11-18T11:06:40.123Z")
        #expect(RFC3339.format(Date(timeIntervalSince1970: 59.9996)) == "1970-01-01T00:01:00.000Z")
        #expect(RFC3339.format(Date(timeIntervalSince1970: -0.0004)) == "1970-01-01T00:00:00.000Z")
        #expect(RFC3339.format(Date(timeIntervalSince1970: 1_709_164_800)) == "2024-02-29T00:00:00.000Z")
    }

    @Test func writtenTimestampsParseBack() {
        for milliseconds: Int64 in [0, 1_709_164_800_123, 1_795_000_000_999, 829_962_514_558] {
            let date = Date(timeIntervalSince1970: Double(milliseconds) / 1000)
            #expect(RFC3339.parse(RFC3339.format(date)).map { ($0.timeIntervalSince1970 * 1000).rounded() } == Double(milliseconds))
        }
    }
}
