import Foundation
import Testing
import TestSupport
@testable import OrchestratorModel

/// Cron expressions: a table of known ones, daylight-saving changes in
/// Europe/Berlin, refusals that say what is wrong, and croniter's second
/// opinion on a few thousand fire times.
@Suite struct CronTests {
    private static func at(_ text: String) -> Date {
        let formatter = ISO8601DateFormatter()
        return formatter.date(from: text)!
    }

    private static func times(_ cron: String, zone: String = "UTC", after: String, count: Int) throws -> [String] {
        let schedule = CronSchedule(try CronExpression(cron), timeZone: TimeZone(identifier: zone)!)
        let formatter = ISO8601DateFormatter()
        return schedule.fireTimes(after: at(after), count: count).map { formatter.string(from: $0) }
    }

    @Test(arguments: [
        ("0 0 * * *", "2026-01-01T00:00:00Z", ["2026-01-02T00:00:00Z", "2026-01-03T00:00:00Z"]),
        ("*/5 * * * *", "2026-06-01T12:03:00Z", ["2026-06-01T12:05:00Z", "2026-06-01T12:10:00Z"]),
        ("0 9 * * mon-fri", "2026-12-04T10:00:00Z", ["2026-12-07T09:00:00Z", "2026-12-08T09:00:00Z"]),
        ("0 0 29 2 *", "2026-03-01T00:00:00Z", ["2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z"]),
        ("0 12 1,15 * *", "2026-12-02T00:00:00Z", ["2026-12-15T12:00:00Z", "2027-01-01T12:00:00Z"]),
        // Both day fields restricted: either matches.
        ("0 0 1 * sun", "2026-11-28T00:00:00Z", ["2026-11-29T00:00:00Z", "2026-12-01T00:00:00Z", "2026-12-06T00:00:00Z"]),
        ("@hourly", "2026-06-01T10:59:30Z", ["2026-06-01T11:00:00Z"]),
        ("5-10/2 * * * *", "2026-06-01T10:00:00Z", ["2026-06-01T10:05:00Z", "2026-06-01T10:07:00Z", "2026-06-01T10:09:00Z", "2026-06-01T11:05:00Z"]),
        ("0 */6 * * *", "2026-06-01T05:00:00Z", ["2026-06-01T06:00:00Z", "2026-06-01T12:00:00Z", "2026-06-01T18:00:00Z", "2026-06-02T00:00:00Z"]),
        ("0 0 * * 7", "2026-12-02T00:00:00Z", ["2026-12-06T00:00:00Z"]),
        ("30 4 * jan,jul *", "2026-12-31T05:00:00Z", ["2027-01-01T04:30:00Z"]),
        ("59 23 31 12 *", "2026-12-31T23:59:00Z", ["2027-12-31T23:59:00Z"]),
    ])
    func knownExpressionsFireWhenCronWould(_ cron: String, _ after: String, _ expected: [String]) throws {
        #expect(try Self.times(cron, after: after, count: expected.count) == expected)
    }

    /// Europe/Berlin, 29 March 2026: at 01:00 UTC the clocks jump from
    /// 02:00 to 03:00. A time in the skipped hour fires once, at the jump.
    @Test func aSkippedHourFiresOnceAtTheJump() throws {
        #expect(try Self.times("30 2 * * *", zone: "Europe/Berlin", after: "2026-03-28T12:00:00Z", count: 2)
            == ["2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z"])
        // Four skipped quarter hours and 03:00 itself: one fire at the jump.
        #expect(try Self.times("*/15 2-3 * * *", zone: "Europe/Berlin", after: "2026-03-28T12:00:00Z", count: 4)
            == ["2026-03-29T01:00:00Z", "2026-03-29T01:15:00Z", "2026-03-29T01:30:00Z", "2026-03-29T01:45:00Z"])
        #expect(try Self.times("0 * * * *", zone: "Europe/Berlin", after: "2026-03-28T23:30:00Z", count: 3)
            == ["2026-03-29T00:00:00Z", "2026-03-29T01:00:00Z", "2026-03-29T02:00:00Z"])
    }

    /// Europe/Berlin, 25 October 2026: at 01:00 UTC the clocks go back from
    /// 03:00 to 02:00. A time in the repeated hour fires once, the first time.
    @Test func aRepeatedHourFiresOnce() throws {
        #expect(try Self.times("30 2 * * *", zone: "Europe/Berlin", after: "2026-10-24T12:00:00Z", count: 2)
            == ["2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"])
        #expect(try Self.times("*/30 * * * *", zone: "Europe/Berlin", after: "2026-10-24T23:00:00Z", count: 5)
            == ["2026-10-24T23:30:00Z", "2026-10-25T00:00:00Z", "2026-10-25T00:30:00Z", "2026-10-25T02:00:00Z", "2026-10-25T02:30:00Z"])
    }

    @Test(arguments: [
        ("61 * * * *", "minute '61' is not a number from 0 to 59"),
        ("* * *", "needs 5 fields (minute hour day-of-month month day-of-week) or a macro such as @daily, got 3"),
        ("*/0 * * * *", "minute step '0' must be a number from 1 to 59"),
        ("5-1 * * * *", "minute range '5-1' runs backwards"),
        ("0 0 31 2 *", "day-of-month 31 never falls in month 2"),
        ("0 0 * * mon-xyz", "day-of-week 'xyz' is not a number from 0 to 7 or a name such as sun"),
        ("0 0 1,,2 * *", "day-of-month '1,,2' has an empty list item"),
        ("@every5m", "needs 5 fields (minute hour day-of-month month day-of-week) or a macro such as @daily, got 1"),
    ])
    func badExpressionsSayWhatIsWrong(_ cron: String, _ message: String) {
        #expect(throws: CronExpression.ParseError(description: message)) { try CronExpression(cron) }
    }

    /// croniter (Python) agrees on the next 40 fire times of each of these
    /// (those within eight years: how far ahead a schedule is searched), in
    /// UTC and in New York (which has daylight saving, away from its changes).
    @Test func croniterAgrees() async throws {
        let expressions = [
            "* * * * *", "*/7 * * * *", "0 0 * * *", "15 3 * * 1-5", "0 0 1 * *", "0 12 * * sun", "0 0 1 1 *", "0 0 29 2 *",
            "0 0 13 * 5", "5,35 */4 * * *", "0 6-18/3 * 3-9 *", "45 23 28-31 * *", "0 0 * * 0,6", "30 8 1-7 * mon",
        ]
        let start = "2026-05-01T00:00:00Z"
        let script = """
            import sys, json, datetime
            from croniter import croniter
            from zoneinfo import ZoneInfo
            out = {}
            for zone in ["UTC", "America/New_York"]:
                tz = ZoneInfo(zone)
                base = datetime.datetime(2026, 5, 1, tzinfo=datetime.timezone.utc).astimezone(tz)
                for expr in json.loads(sys.argv[1]):
                    it = croniter(expr, base)
                    out[zone + "|" + expr] = [it.get_next(datetime.datetime).astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ") for _ in range(40)]
            print(json.dumps(out))
            """
        let argument = "[" + expressions.map { "\"\($0)\"" }.joined(separator: ",") + "]"
        let result = try await runCommand(try TestEnvironment.python(), ["-c", script, argument])
        #expect(result.status == 0, "\(result.stderr)")
        let theirs = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: [String]])
        var compared = 0
        for zone in ["UTC", "America/New_York"] {
            for expression in expressions {
                let horizon = "2034-05-01T00:00:00Z"
                let ours = try Self.times(expression, zone: zone, after: start, count: 40).filter { $0 < horizon }
                #expect(ours == theirs["\(zone)|\(expression)"]?.filter { $0 < horizon }, "\(zone) \(expression)")
                compared += ours.count
            }
        }
        #expect(compared > 900)
    }
}
