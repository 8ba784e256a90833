import Foundation

/// A result or notification from the daemon that does not have the shape
/// its method promises. Names the field by its path (`steps[2].status`).
public struct ResultDecodingError: Error, Sendable, Equatable, CustomStringConvertible {
    public let path: String
    public let reason: String

    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }

    public var description: String { path.isEmpty ? reason : "\(path) \(reason)" }
}

/// Reads the fields of a JSON object the daemon sent, with exact types: the
/// client-side twin of `ParamReader`. Absent and `null` are the same to the
/// `optional…` readers; a required field that is missing is an error.
public struct ResultReader: Sendable {
    public let values: [String: JSONValue]
    public let path: String

    public init(_ value: JSONValue, path: String = "") throws(ResultDecodingError) {
        guard case .object(let object) = value else {
            throw ResultDecodingError(path: path, reason: "must be an object, got \(value.typeName)")
        }
        self.values = object
        self.path = path
    }

    func name(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    private func missing(_ key: String) -> ResultDecodingError {
        ResultDecodingError(path: name(key), reason: "is missing")
    }

    private func mismatch(_ key: String, _ expected: String, _ got: JSONValue) -> ResultDecodingError {
        ResultDecodingError(path: name(key), reason: "must be \(expected), got \(got.typeName)")
    }

    /// Whether the key is there with a value other than null.
    public func has(_ key: String) -> Bool { present(key) != nil }

    /// The value, or nil when absent or null.
    private func present(_ key: String) -> JSONValue? {
        switch values[key] {
        case .none, .some(.null): nil
        case .some(let value): value
        }
    }

    public func string(_ key: String) throws(ResultDecodingError) -> String {
        guard let value = try optionalString(key) else { throw missing(key) }
        return value
    }

    public func optionalString(_ key: String) throws(ResultDecodingError) -> String? {
        guard let value = present(key) else { return nil }
        guard case .string(let s) = value else { throw mismatch(key, "a string", value) }
        return s
    }

    public func int(_ key: String) throws(ResultDecodingError) -> Int {
        guard let value = try optionalInt(key) else { throw missing(key) }
        return value
    }

    public func optionalInt(_ key: String) throws(ResultDecodingError) -> Int? {
        guard let value = present(key) else { return nil }
        guard case .int(let i) = value else { throw mismatch(key, "an integer", value) }
        guard let exact = Int(exactly: i) else { throw ResultDecodingError(path: name(key), reason: "is out of range") }
        return exact
    }

    /// An integer that must fit `T` (a uid, a pid).
    public func integer<T: FixedWidthInteger>(_ key: String, as type: T.Type) throws(ResultDecodingError) -> T {
        let value = try int(key)
        guard let exact = T(exactly: value) else { throw ResultDecodingError(path: name(key), reason: "is out of range") }
        return exact
    }

    public func bool(_ key: String) throws(ResultDecodingError) -> Bool {
        guard let value = present(key) else { throw missing(key) }
        guard case .bool(let b) = value else { throw mismatch(key, "true or false", value) }
        return b
    }

    public func date(_ key: String) throws(ResultDecodingError) -> Date {
        guard let value = try optionalDate(key) else { throw missing(key) }
        return value
    }

    /// An RFC 3339 timestamp, as `RFC3339.format` writes it.
    public func optionalDate(_ key: String) throws(ResultDecodingError) -> Date? {
        guard let text = try optionalString(key) else { return nil }
        guard let date = RFC3339.parse(text) else {
            throw ResultDecodingError(path: name(key), reason: "must be an RFC 3339 timestamp, got \"\(text.prefix(40))\"")
        }
        return date
    }

    /// A string that must be one of an enumeration's raw values.
    public func value<T: RawRepresentable & CaseIterable>(_ key: String, as type: T.Type) throws(ResultDecodingError) -> T where T.RawValue == String {
        let text = try string(key)
        guard let value = T(rawValue: text) else {
            throw ResultDecodingError(
                path: name(key), reason: "must be one of \(T.allCases.map(\.rawValue).joined(separator: ", ")), got \"\(text.prefix(40))\"")
        }
        return value
    }

    public func stringArray(_ key: String) throws(ResultDecodingError) -> [String] {
        guard let value = present(key) else { throw missing(key) }
        guard case .array(let items) = value else { throw mismatch(key, "an array of strings", value) }
        var out: [String] = []
        for (i, item) in items.enumerated() {
            guard case .string(let s) = item else { throw mismatch("\(key)[\(i)]", "a string", item) }
            out.append(s)
        }
        return out
    }

    /// An object of strings; absent or null reads as empty.
    public func stringMap(_ key: String) throws(ResultDecodingError) -> [String: String] {
        guard let value = present(key) else { return [:] }
        guard case .object(let o) = value else { throw mismatch(key, "an object of strings", value) }
        var out: [String: String] = [:]
        for (k, v) in o {
            guard case .string(let s) = v else { throw mismatch("\(key).\(k)", "a string", v) }
            out[k] = s
        }
        return out
    }

    public func object(_ key: String) throws(ResultDecodingError) -> ResultReader {
        guard let value = present(key) else { throw missing(key) }
        return try ResultReader(value, path: name(key))
    }

    /// An array of objects, each read by `element`; absent or null reads as
    /// empty when `required` is false.
    public func array<T>(
        _ key: String, required: Bool = true, _ element: (ResultReader) throws(ResultDecodingError) -> T
    ) throws(ResultDecodingError) -> [T] {
        guard let value = present(key) else {
            if required { throw missing(key) }
            return []
        }
        guard case .array(let items) = value else { throw mismatch(key, "an array", value) }
        var out: [T] = []
        out.reserveCapacity(items.count)
        for (i, item) in items.enumerated() {
            out.append(try element(try ResultReader(item, path: name("\(key)[\(i)]"))))
        }
        return out
    }
}
