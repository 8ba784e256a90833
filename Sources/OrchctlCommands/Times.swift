import Foundation
import OrchestratorProtocol

/// Times as people give and read them: `--since 2h`, "3m ago", "1m 05s".
enum Times {
    /// A duration back from `now` (`90s`, `30m`, `2h`, `1h30m`, `3d`, `2w`),
    /// a date (`2026-12-01`, midnight where orchctl runs) or an RFC 3339
    /// time (`2026-12-01T08:00:00Z`); nil when it is none of these.
    static func since(_ text: String, now: Date = Date()) -> Date? {
        if let seconds = duration(text) { return now.addingTimeInterval(-seconds) }
        if let date = RFC3339.parse(text) { return date }
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
              let year = Int(parts[0]), let month = Int(parts[1]), let day = Int(parts[2]) else { return nil }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = .current
        let components = DateComponents(year: year, month: month, day: day)
        guard components.isValidDate(in: calendar) else { return nil }
        return calendar.date(from: components)
    }

    /// `1h30m` and the like, in seconds; nil unless every part is a number and a unit.
    static func duration(_ text: String) -> TimeInterval? {
        let units: [Character: TimeInterval] = ["s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604_800]
        var total: TimeInterval = 0
        var number = ""
        for character in text {
            if character.isASCII, character.isNumber {
                number.append(character)
            } else if let unit = units[character], let value = Int(number), number.count <= 9 {
                total += TimeInterval(value) * unit
                number = ""
            } else {
                return nil
            }
        }
        // A century back at most: further is no time a run was made at.
        return number.isEmpty && !text.isEmpty && total <= 100 * 366 * 86400 ? total : nil
    }

    /// How long ago, in the largest unit that fits: `12s ago`, `5m ago`, `3h ago`, `2d ago`.
    static func ago(_ date: Date?, now: Date = Date()) -> String {
        guard let date else { return "-" }
        let seconds = Int(now.timeIntervalSince(date).rounded())
        if seconds < 0 { return "in \(span(-seconds, parts: 1))" }
        return "\(span(seconds, parts: 1)) ago"
    }

    /// From `start` to `end` (or to now, while it goes on): `850ms`, `42s`, `3m 05s`, `2h 10m`.
    static func took(from start: Date?, to end: Date?, now: Date = Date()) -> String {
        guard let start else { return "-" }
        let seconds = (end ?? now).timeIntervalSince(start)
        if seconds < 1 { return "\(max(Int((seconds * 1000).rounded()), 0))ms" }
        return span(Int(seconds.rounded()), parts: 2) + (end == nil ? "…" : "")
    }

    private static func span(_ seconds: Int, parts: Int) -> String {
        let units = [("d", 86400), ("h", 3600), ("m", 60), ("s", 1)]
        guard let first = units.firstIndex(where: { seconds >= $0.1 }) else { return "0s" }
        var rest = seconds
        var out: [String] = []
        for (index, (name, size)) in units.enumerated().dropFirst(first).prefix(parts) {
            let value = rest / size
            rest -= value * size
            out.append(index == first ? "\(value)\(name)" : String(format: "%02d%@", value, name))
        }
        return out.joined(separator: " ")
    }
}
