/// The naming rule of the spec, `^[a-z0-9][a-z0-9._-]{0,62}$`, shared by
/// workflows and steps. Written by hand: it runs on every request.
public enum NameRule {
    public static let maximumLength = 63
    public static let explanation =
        "must be 1-63 characters of a-z, 0-9, '.', '_', '-', starting with a letter or digit"

    public static func isValid(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard let first = bytes.first, bytes.count <= maximumLength else { return false }
        guard isLowerAlnum(first) else { return false }
        return bytes.dropFirst().allSatisfy { isLowerAlnum($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") }
    }

    private static func isLowerAlnum(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }
}

/// A `run.start` request's id: 1–64 printable characters.
public enum RequestIdRule {
    public static let lengths = 1...64

    /// What is wrong with `id`, or nil.
    public static func problem(_ id: String) -> String? {
        guard lengths.contains(id.count) else { return "must be 1 to 64 characters, got \(id.count)" }
        guard id.unicodeScalars.allSatisfy({ !$0.properties.isWhitespace || $0 == " " }),
              id.unicodeScalars.allSatisfy({ $0.properties.generalCategory != .control && $0.properties.generalCategory != .format }) else {
            return "must be printable characters (no control characters or line breaks)"
        }
        return nil
    }
}

/// MongoDB ObjectIds as the wire shows them: 24 lower-case hex characters.
public enum ObjectIdRule {
    public static func isValid(_ id: String) -> Bool {
        id.utf8.count == 24 && id.utf8.allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains($0) }
    }
}
