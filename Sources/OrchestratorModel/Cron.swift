import Foundation

/// A 5-field cron expression (minute hour day-of-month month day-of-week),
/// as crontab(5) reads it: `*`, lists, ranges, steps (`*/15`, `1-20/5`),
/// month and day names (`jan`, `mon-fri`), day 7 as Sunday, and the
/// macros `@yearly`, `@monthly`, `@weekly`, `@daily`, `@hourly`. When both
/// day fields are restricted, a day matching either one matches (as cron does).
public struct CronExpression: Sendable, Equatable, CustomStringConvertible {
    public let minutes: Set<Int>
    public let hours: Set<Int>
    public let daysOfMonth: Set<Int>
    public let months: Set<Int>
    /// 0 = Sunday.
    public let daysOfWeek: Set<Int>
    let dayOfMonthRestricted: Bool
    let dayOfWeekRestricted: Bool
    public let description: String

    public struct ParseError: Error, Sendable, Equatable, CustomStringConvertible {
        public let description: String
    }

    private static let macros = [
        "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *", "@weekly": "0 0 * * 0",
        "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *",
    ]
    private static let monthNames = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
    private static let dayNames = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]

    public init(_ text: String) throws(ParseError) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let expanded = Self.macros[trimmed.lowercased()] ?? trimmed
        let fields = expanded.split(whereSeparator: { $0 == " " || $0 == "\t" }).map { String($0).lowercased() }
        guard fields.count == 5 else {
            throw ParseError(description: "needs 5 fields (minute hour day-of-month month day-of-week) or a macro such as @daily, got \(fields.count)")
        }
        minutes = try Self.field(fields[0], "minute", 0...59)
        hours = try Self.field(fields[1], "hour", 0...23)
        daysOfMonth = try Self.field(fields[2], "day-of-month", 1...31)
        months = try Self.field(fields[3], "month", 1...12, names: Self.monthNames, namesStartAt: 1)
        // 7 is Sunday too.
        daysOfWeek = Set(try Self.field(fields[4], "day-of-week", 0...7, names: Self.dayNames, namesStartAt: 0).map { $0 % 7 })
        dayOfMonthRestricted = !fields[2].hasPrefix("*")
        dayOfWeekRestricted = !fields[4].hasPrefix("*")
        description = trimmed
        if dayOfMonthRestricted && !dayOfWeekRestricted,
           !months.contains(where: { month in daysOfMonth.contains { $0 <= Self.maximumDays(inMonth: month) } }) {
            throw ParseError(description: "day-of-month \(fields[2]) never falls in month \(fields[3])")
        }
    }

    /// One field: a comma-separated list of `*`, `N`, `N-M`, each with an optional `/STEP`.
    private static func field(
        _ text: String, _ name: String, _ range: ClosedRange<Int>, names: [String] = [], namesStartAt: Int = 0
    ) throws(ParseError) -> Set<Int> {
        func value(_ token: Substring) throws(ParseError) -> Int {
            if let index = names.firstIndex(of: String(token)) { return index + namesStartAt }
            guard let number = Int(token), range.contains(number) else {
                throw ParseError(description: "\(name) '\(token)' is not a number from \(range.lowerBound) to \(range.upperBound)\(names.isEmpty ? "" : " or a name such as \(names[0])")")
            }
            return number
        }
        var values = Set<Int>()
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            guard !part.isEmpty else { throw ParseError(description: "\(name) '\(text)' has an empty list item") }
            let pieces = part.split(separator: "/", omittingEmptySubsequences: false)
            guard pieces.count <= 2 else { throw ParseError(description: "\(name) '\(part)' has more than one '/'") }
            var step = 1
            if pieces.count == 2 {
                guard let n = Int(pieces[1]), n >= 1, n <= range.upperBound else {
                    throw ParseError(description: "\(name) step '\(pieces[1])' must be a number from 1 to \(range.upperBound)")
                }
                step = n
            }
            let lower: Int, upper: Int
            if pieces[0] == "*" {
                (lower, upper) = (range.lowerBound, range.upperBound)
            } else if let dash = pieces[0].firstIndex(of: "-") {
                lower = try value(pieces[0][..<dash])
                upper = try value(pieces[0][pieces[0].index(after: dash)...])
                guard lower <= upper else { throw ParseError(description: "\(name) range '\(pieces[0])' runs backwards") }
            } else {
                lower = try value(pieces[0])
                // `N/STEP` means from N to the end, as cron reads it.
                upper = pieces.count == 2 ? range.upperBound : lower
            }
            values.formUnion(stride(from: lower, through: upper, by: step))
        }
        return values
    }

    static func maximumDays(inMonth month: Int) -> Int {
        [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]
    }

    /// Whether the civil date matches the day fields.
    func matches(year: Int, month: Int, day: Int) -> Bool {
        guard months.contains(month), day <= CivilDate.daysIn(year: year, month: month) else { return false }
        let weekday = CivilDate.weekday(year: year, month: month, day: day)
        switch (dayOfMonthRestricted, dayOfWeekRestricted) {
        case (true, true): return daysOfMonth.contains(day) || daysOfWeek.contains(weekday)
        case (true, false): return daysOfMonth.contains(day)
        case (false, true): return daysOfWeek.contains(weekday)
        case (false, false): return true
        }
    }
}

/// A cron expression read in a time zone: when it fires, in real time.
///
/// Across daylight-saving changes it fires as an operator expects: a time
/// the clocks skip (02:30 when they jump from 02:00 to 03:00) fires once,
/// at the jump; a time the clocks pass twice (02:30 when they go back from
/// 03:00 to 02:00) fires once, the first time. Every instant it fires at is
/// distinct and they come in order.
public struct CronSchedule: Sendable, Equatable {
    public let expression: CronExpression
    public let timeZone: TimeZone

    public init(_ expression: CronExpression, timeZone: TimeZone) {
        self.expression = expression
        self.timeZone = timeZone
    }

    /// How far ahead a search looks: a 29 February schedule fires once in four years (eight across a century's skipped leap day).
    private static let searchDays = 366 * 9

    /// The first fire time strictly after `after`, nil when there is none within the search horizon.
    public func next(after: Date) -> Date? {
        fireTimes(after: after, count: 1).first
    }

    /// The next `count` fire times strictly after `after`.
    public func fireTimes(after: Date, count: Int) -> [Date] {
        guard count > 0 else { return [] }
        var found: [Date] = []
        // Start a day early: a skipped local time just before `after` may fire at or after it.
        let startLocal = after.timeIntervalSince1970 + Double(timeZone.secondsFromGMT(for: after))
        var day = CivilDate.days(fromEpochSeconds: startLocal) - 1
        let minutes = expression.minutes.sorted(), hours = expression.hours.sorted()
        for _ in 0..<Self.searchDays {
            defer { day += 1 }
            let (y, m, d) = CivilDate.civil(fromDays: day)
            guard expression.matches(year: y, month: m, day: d) else { continue }
            for hour in hours {
                for minute in minutes {
                    let local = Double(day * 86_400 + hour * 3_600 + minute * 60)
                    let instant = self.instant(forLocal: local)
                    guard instant > after, instant > (found.last ?? .distantPast) else { continue }
                    found.append(instant)
                    if found.count == count { return found }
                }
            }
        }
        return found
    }

    /// The real instant of a local wall-clock time (seconds since the epoch
    /// as if the zone were UTC): the earlier one when the clocks pass it
    /// twice, the jump itself when they skip it.
    func instant(forLocal local: Double) -> Date {
        let around = [timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: local - 86_400)),
                      timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: local + 86_400))]
        let valid = Set(around).compactMap { offset -> Date? in
            let candidate = Date(timeIntervalSince1970: local - Double(offset))
            return timeZone.secondsFromGMT(for: candidate) == offset ? candidate : nil
        }
        if let earliest = valid.min() { return earliest }
        // Skipped: the clocks jumped over it, at an instant T with
        // T + low <= local < T + high. It fires at the jump.
        let (low, high) = (Double(around.min() ?? 0), Double(around.max() ?? 0))
        if let jump = timeZone.nextDaylightSavingTimeTransition(after: Date(timeIntervalSince1970: local - high)),
           jump.timeIntervalSince1970 <= local - low {
            return jump
        }
        return Date(timeIntervalSince1970: local - low)
    }
}

/// Proleptic Gregorian dates as day counts from 1970-01-01 (Howard
/// Hinnant's algorithms): exact, and free of any calendar's time zone.
enum CivilDate {
    static func days(fromEpochSeconds seconds: Double) -> Int {
        Int((seconds / 86_400).rounded(.down))
    }

    static func days(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    static func civil(fromDays days: Int) -> (year: Int, month: Int, day: Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    /// 0 = Sunday.
    static func weekday(year: Int, month: Int, day: Int) -> Int {
        let d = days(year: year, month: month, day: day)
        return ((d % 7) + 7 + 4) % 7
    }

    static func daysIn(year: Int, month: Int) -> Int {
        if month == 2 { return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28 }
        return CronExpression.maximumDays(inMonth: month)
    }
}
