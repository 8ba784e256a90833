import OrchestratorModel

/// Reads named parameters with exact types. Every type error names the
/// parameter by its path (`steps[1].action.exec`), as `-32602`. A reader
/// made by `readingAll` goes on past a problem (a wrong type reads as
/// absent, an unknown key is noted) so that one answer names every one.
public struct ParamReader: Sendable {
    public let values: [String: JSONValue]
    public let path: String
    /// Where a reader that reads everything notes its problems; nil: it throws the first.
    private let problems: ParamProblems?

    public init(_ values: [String: JSONValue], path: String = "") {
        self.init(values, path: path, problems: nil)
    }

    private init(_ values: [String: JSONValue], path: String, problems: ParamProblems?) {
        self.values = values
        self.path = path
        self.problems = problems
    }

    /// Reads `values` with `read`, noting every problem of names and types
    /// on the way; throws them all at once (`data.errors`: each `field`
    /// and `message`), or, when there is one, exactly as a plain reader would.
    public static func readingAll<T>(_ values: [String: JSONValue], _ read: (ParamReader) throws(RPCError) -> T) throws(RPCError) -> T {
        let (value, problems) = readingAllWithProblems(values, read)
        guard problems.isEmpty, let value else { throw ParamProblems.error(problems) }
        return value
    }

    /// As `readingAll`, but returns what was read (placeholders where a
    /// problem was: not to be used for anything but further checks) with
    /// the problems. The value is nil only when reading had to stop.
    public static func readingAllWithProblems<T>(
        _ values: [String: JSONValue], _ read: (ParamReader) throws(RPCError) -> T
    ) -> (value: T?, problems: [ParamProblems.Problem]) {
        let problems = ParamProblems()
        do {
            let value = try read(ParamReader(values, path: "", problems: problems))
            return (value, problems.all)
        } catch {
            // A problem the reader's caller found itself (not a type): it ends the reading.
            problems.note(.init(field: "", message: error.message, text: error.message))
            return (nil, problems.all)
        }
    }

    func name(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    private func reader(_ values: [String: JSONValue], at path: String) -> ParamReader {
        ParamReader(values, path: path, problems: problems)
    }

    /// What stands in for a value that could not be read (its problem is
    /// noted): it reads as empty, and what it lacks is no further problem.
    private func placeholder(at path: String) -> ParamReader {
        ParamReader([:], path: path, problems: ParamProblems())
    }

    /// A reader of `values` (some of this reader's, rearranged) that notes its problems where this one does.
    public func reading(_ values: [String: JSONValue]) -> ParamReader {
        ParamReader(values, path: path, problems: problems)
    }

    /// Whether `key` was given, with a value that was refused (its problem is noted): cross-field checks leave it alone.
    public func wasRefused(_ key: String) -> Bool {
        problems != nil && has(key) && values[key] != .null
    }

    /// Throws `problem`, or notes it and lets the reading go on.
    private func report(_ problem: ParamProblems.Problem) throws(RPCError) {
        guard let problems else { throw .invalidParams(problem.text) }
        problems.note(problem)
    }

    private func mismatch(_ key: String, _ expected: String, _ got: JSONValue) throws(RPCError) {
        let message = "must be \(expected), got \(got.typeName)"
        try report(.init(field: name(key), message: message, text: "invalid params: \(name(key)) \(message)"))
    }

    /// A required parameter: absent, or present with a wrong type (noted already).
    private func missing(_ key: String) throws(RPCError) {
        guard !has(key) || values[key] == .null else { return }
        try report(.init(field: name(key), message: "is missing", text: "invalid params: missing required parameter '\(name(key))'"))
    }

    /// Refuses parameters the method does not know, so a typo is not silently ignored.
    public func allowOnly(_ keys: Set<String>) throws(RPCError) {
        for unknown in Set(values.keys).subtracting(keys).sorted() {
            let guess = Spelling.closest(to: unknown, among: keys).map { "did you mean '\($0)'? " } ?? ""
            let expected = "expected one of: \(keys.sorted().joined(separator: ", "))"
            try report(.init(
                field: name(unknown), message: "is not a known parameter (\(guess)\(expected))",
                text: "invalid params: unknown parameter '\(name(unknown))' (\(guess)\(expected))"))
        }
    }

    public func has(_ key: String) -> Bool { values.index(forKey: key) != nil }

    public func string(_ key: String) throws(RPCError) -> String {
        guard let value = try optionalString(key) else {
            try missing(key)
            return ""
        }
        return value
    }

    public func optionalString(_ key: String) throws(RPCError) -> String? {
        switch values[key] {
        case .none, .some(.null): return nil
        case .some(.string(let s)): return s
        case .some(let other):
            try mismatch(key, "a string", other)
            return nil
        }
    }

    public func int(_ key: String) throws(RPCError) -> Int {
        guard let value = try optionalInt(key) else {
            try missing(key)
            return 0
        }
        return value
    }

    public func optionalInt(_ key: String) throws(RPCError) -> Int? {
        switch values[key] {
        case .none, .some(.null): return nil
        case .some(.int(let i)):
            guard let value = Int(exactly: i) else {
                try report(.init(field: name(key), message: "is out of range", text: "invalid params: \(name(key)) is out of range"))
                return nil
            }
            return value
        case .some(let other):
            try mismatch(key, "an integer", other)
            return nil
        }
    }

    /// Distinguishes absent (nil) from an explicit null (`.some(nil)`), for fields a caller may clear.
    public func clearableInt(_ key: String) throws(RPCError) -> Int?? {
        switch values[key] {
        case .none: return nil
        case .some(.null): return .some(nil)
        default: return .some(try optionalInt(key))
        }
    }

    public func optionalBool(_ key: String) throws(RPCError) -> Bool? {
        switch values[key] {
        case .none, .some(.null): return nil
        case .some(.bool(let b)): return b
        case .some(let other):
            try mismatch(key, "true or false", other)
            return nil
        }
    }

    public func stringArray(_ key: String) throws(RPCError) -> [String] {
        guard let value = try optionalStringArray(key) else {
            try missing(key)
            return []
        }
        return value
    }

    public func optionalStringArray(_ key: String) throws(RPCError) -> [String]? {
        switch values[key] {
        case .none, .some(.null): return nil
        case .some(.array(let items)):
            var out: [String] = []
            for (i, item) in items.enumerated() {
                guard case .string(let s) = item else {
                    try mismatch("\(key)[\(i)]", "a string", item)
                    out.append("")
                    continue
                }
                out.append(s)
            }
            return out
        case .some(let other):
            try mismatch(key, "an array of strings", other)
            return nil
        }
    }

    public func optionalStringMap(_ key: String) throws(RPCError) -> [String: String]? {
        switch values[key] {
        case .none, .some(.null): return nil
        case .some(.object(let o)):
            var out: [String: String] = [:]
            for (k, v) in o.sorted(by: { $0.key < $1.key }) {
                guard case .string(let s) = v else {
                    try mismatch("\(key).\(k)", "a string", v)
                    continue
                }
                out[k] = s
            }
            return out
        case .some(let other):
            try mismatch(key, "an object of strings", other)
            return nil
        }
    }

    /// A merge patch's map: a string sets a key, null removes it.
    public func optionalPatchMap(_ key: String) throws(RPCError) -> [String: String?]? {
        switch values[key] {
        case .none, .some(.null): return nil
        case .some(.object(let o)):
            var out: [String: String?] = [:]
            for (k, v) in o.sorted(by: { $0.key < $1.key }) {
                switch v {
                case .string(let s): out[k] = .some(s)
                case .null: out[k] = .some(nil)
                default: try mismatch("\(key).\(k)", "a string (or null to remove it)", v)
                }
            }
            return out
        case .some(let other):
            try mismatch(key, "an object of strings", other)
            return nil
        }
    }

    public func optionalObject(_ key: String) throws(RPCError) -> ParamReader? {
        switch values[key] {
        case .none, .some(.null): return nil
        case .some(.object(let o)): return reader(o, at: name(key))
        case .some(let other):
            try mismatch(key, "an object", other)
            return nil
        }
    }

    public func object(_ key: String) throws(RPCError) -> ParamReader {
        guard let value = try optionalObject(key) else {
            try missing(key)
            return placeholder(at: name(key))
        }
        return value
    }

    public func optionalObjectArray(_ key: String) throws(RPCError) -> [ParamReader]? {
        switch values[key] {
        case .none, .some(.null): return nil
        case .some(.array(let items)):
            var out: [ParamReader] = []
            for (i, item) in items.enumerated() {
                guard case .object(let o) = item else {
                    try mismatch("\(key)[\(i)]", "an object", item)
                    // Kept in its place: what comes after keeps its index (and its line in a file).
                    out.append(placeholder(at: name("\(key)[\(i)]")))
                    continue
                }
                out.append(reader(o, at: name("\(key)[\(i)]")))
            }
            return out
        case .some(let other):
            try mismatch(key, "an array of objects", other)
            return nil
        }
    }
}

/// What a reader that reads everything found, in the order it found it.
public final class ParamProblems: @unchecked Sendable {
    // One reading, in one task: no lock.
    public struct Problem: Sendable, Equatable {
        /// The parameter's path (`steps[0].retries`); empty when the problem has none.
        public let field: String
        public let message: String
        /// As a plain reader throws it.
        public let text: String
    }

    /// Enough to fix a request by; past it, only counted (a request of
    /// a megabyte of unknown keys must not cost tens of megabytes to answer).
    static let shown = 50

    private var found: [Problem] = []
    private var more = 0

    fileprivate var all: [Problem] {
        more == 0 ? found : found + [Problem(field: "", message: "and \(more) more problems", text: "and \(more) more problems")]
    }

    fileprivate func note(_ problem: Problem) {
        if found.count < Self.shown { found.append(problem) } else { more += 1 }
    }

    /// One `-32602` for them all: the one problem's own text, or each of them.
    static func error(_ problems: [Problem]) -> RPCError {
        let errors: JSONValue = .array(problems.map { ["field": .string($0.field), "message": .string($0.message)] })
        guard problems.count > 1 else { return RPCError(.invalidParams, problems.first?.text ?? "invalid params", data: ["errors": errors]) }
        let each = problems.map { $0.text.hasPrefix("invalid params: ") ? String($0.text.dropFirst("invalid params: ".count)) : $0.text }
        return RPCError(.invalidParams, "invalid params: \(problems.count) problems: " + each.joined(separator: "; "), data: ["errors": errors])
    }
}

/// The known name a typo most likely meant (`retires` → `retries`).
enum Spelling {
    static func closest(to word: String, among names: Set<String>) -> String? {
        // A long word is no slip of the finger (and would cost a table of its length per name).
        guard word.count <= 64 else { return nil }
        let scored = names.filter { abs($0.count - word.count) <= 3 }.map { ($0, distance(word.lowercased(), $0.lowercased())) }
        guard let best = scored.min(by: { ($0.1, $0.0) < ($1.1, $1.0) }) else { return nil }
        // Close enough to be a slip: at most a third of the word.
        return best.1 <= max(1, word.count / 3) ? best.0 : nil
    }

    /// Edits (insert, delete, substitute, swap two neighbours) from `a` to `b`.
    static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        guard !a.isEmpty else { return b.count }
        guard !b.isEmpty else { return a.count }
        var table = Array(repeating: Array(repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in 0...a.count { table[i][0] = i }
        for j in 0...b.count { table[0][j] = j }
        for i in 1...a.count {
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                table[i][j] = min(table[i - 1][j] + 1, table[i][j - 1] + 1, table[i - 1][j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] { table[i][j] = min(table[i][j], table[i - 2][j - 2] + 1) }
            }
        }
        return table[a.count][b.count]
    }
}
