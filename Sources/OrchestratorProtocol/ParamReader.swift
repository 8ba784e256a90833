/// Reads named parameters with exact types. Every type error names the
/// parameter by its path (`steps[1].action.exec`), as `-32602`.
public struct ParamReader: Sendable {
    public let values: [String: JSONValue]
    public let path: String

    public init(_ values: [String: JSONValue], path: String = "") {
        self.values = values
        self.path = path
    }

    func name(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    private func mismatch(_ key: String, _ expected: String, _ got: JSONValue) -> RPCError {
        .invalidParams("invalid params: \(name(key)) must be \(expected), got \(got.typeName)")
    }

    /// Refuses parameters the method does not know, so a typo is not silently ignored.
    public func allowOnly(_ keys: Set<String>) throws(RPCError) {
        if let unknown = Set(values.keys).subtracting(keys).sorted().first {
            throw .invalidParams("invalid params: unknown parameter '\(name(unknown))' (expected one of: \(keys.sorted().joined(separator: ", ")))")
        }
    }

    public func has(_ key: String) -> Bool { values.index(forKey: key) != nil }

    public func string(_ key: String) throws(RPCError) -> String {
        guard let value = try optionalString(key) else { throw .invalidParams("invalid params: missing required parameter '\(name(key))'") }
        return value
    }

    public func optionalString(_ key: String) throws(RPCError) -> String? {
        switch values[key] {
        case .none, .some(.null): return nil
        case .some(.string(let s)): return s
        case .some(let other): throw mismatch(key, "a string", other)
        }
    }

    public func int(_ key: String) throws(RPCError) -> Int {
        guard let value = try optionalInt(key) else { throw .invalidParams("invalid params: missing required parameter '\(name(key))'") }
        return value
    }

    public func optionalInt(_ key: String) throws(RPCError) -> Int? {
        switch values[key] {
        case .none, .some(.null): return nil
        case .some(.int(let i)):
            guard let value = Int(exactly: i) else { throw .invalidParams("invalid params: \(name(key)) is out of range") }
            return value
        case .some(let other): throw mismatch(key, "an integer", other)
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
        case .some(let other): throw mismatch(key, "true or false", other)
        }
    }

    public func optionalStringArray(_ key: String) throws(RPCError) -> [String]? {
        switch values[key] {
        case .none, .some(.null): return nil
        case .some(.array(let items)):
            var out: [String] = []
            for (i, item) in items.enumerated() {
                guard case .string(let s) = item else { throw mismatch("\(key)[\(i)]", "a string", item) }
                out.append(s)
            }
            return out
        case .some(let other): throw mismatch(key, "an array of strings", other)
        }
    }

    public func optionalStringMap(_ key: String) throws(RPCError) -> [String: String]? {
        switch values[key] {
        case .none, .some(.null): return nil
        case .some(.object(let o)):
            var out: [String: String] = [:]
            for (k, v) in o {
                guard case .string(let s) = v else { throw mismatch("\(key).\(k)", "a string", v) }
                out[k] = s
            }
            return out
        case .some(let other): throw mismatch(key, "an object of strings", other)
        }
    }

    /// A merge patch's map: a string sets a key, null removes it.
    public func optionalPatchMap(_ key: String) throws(RPCError) -> [String: String?]? {
        switch values[key] {
        case .none, .some(.null): return nil
        case .some(.object(let o)):
            var out: [String: String?] = [:]
            for (k, v) in o {
                switch v {
                case .string(let s): out[k] = .some(s)
                case .null: out[k] = .some(nil)
                default: throw mismatch("\(key).\(k)", "a string (or null to remove it)", v)
                }
            }
            return out
        case .some(let other): throw mismatch(key, "an object of strings", other)
        }
    }

    public func optionalObject(_ key: String) throws(RPCError) -> ParamReader? {
        switch values[key] {
        case .none, .some(.null): return nil
        case .some(.object(let o)): return ParamReader(o, path: name(key))
        case .some(let other): throw mismatch(key, "an object", other)
        }
    }

    public func object(_ key: String) throws(RPCError) -> ParamReader {
        guard let value = try optionalObject(key) else { throw .invalidParams("invalid params: missing required parameter '\(name(key))'") }
        return value
    }

    public func optionalObjectArray(_ key: String) throws(RPCError) -> [ParamReader]? {
        switch values[key] {
        case .none, .some(.null): return nil
        case .some(.array(let items)):
            var out: [ParamReader] = []
            for (i, item) in items.enumerated() {
                guard case .object(let o) = item else { throw mismatch("\(key)[\(i)]", "an object", item) }
                out.append(ParamReader(o, path: name("\(key)[\(i)]")))
            }
            return out
        case .some(let other): throw mismatch(key, "an array of objects", other)
        }
    }
}
