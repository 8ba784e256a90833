import Foundation

/// A BSON value in Swift. Documents keep their field order, because MongoDB
/// reads the first field of a command as its name.
public indirect enum BSON: Sendable, Equatable {
    case double(Double)
    case string(String)
    case document(BSONDocument)
    case array([BSON])
    case objectId(ObjectId)
    case bool(Bool)
    /// BSON dates have millisecond precision.
    case date(Date)
    case null
    case int32(Int32)
    case int64(Int64)
    /// A type this project never writes (binary, regex, decimal128, ...), kept
    /// by its BSON type code so reading an unexpected document never fails.
    case unsupported(typeCode: UInt32)

    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    /// Any numeric type that holds an integral value fits; doubles written by
    /// other drivers (e.g. a shell) are accepted when integral.
    public var intValue: Int? {
        switch self {
        case .int32(let v): Int(v)
        case .int64(let v): Int(v)
        case .double(let v) where v.rounded() == v && abs(v) < 9e15: Int(v)
        default: nil
        }
    }

    public var boolValue: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }

    public var dateValue: Date? {
        if case .date(let d) = self { return d }
        return nil
    }

    public var documentValue: BSONDocument? {
        if case .document(let d) = self { return d }
        return nil
    }

    public var arrayValue: [BSON]? {
        if case .array(let a) = self { return a }
        return nil
    }

    public var objectIdValue: ObjectId? {
        if case .objectId(let o) = self { return o }
        return nil
    }

    public var isNull: Bool {
        if case .null = self { return true }
        return false
    }
}

extension BSON: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int) { self = .int64(Int64(value)) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(arrayLiteral elements: BSON...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, BSON)...) { self = .document(BSONDocument(elements)) }
}

extension BSON {
    public init(_ value: Int) { self = .int64(Int64(value)) }
    public init(_ value: String) { self = .string(value) }
    public init(_ value: Date) { self = .date(value) }
    public init(_ value: Bool) { self = .bool(value) }
    public init(_ value: Int?) { self = value.map { .int64(Int64($0)) } ?? .null }
    public init(_ value: String?) { self = value.map { .string($0) } ?? .null }
    public init(_ value: Date?) { self = value.map { .date($0) } ?? .null }
}

/// An ordered BSON document.
public struct BSONDocument: Sendable, Equatable, ExpressibleByDictionaryLiteral {
    public private(set) var fields: [(key: String, value: BSON)]

    public init() { fields = [] }

    public init(_ fields: [(String, BSON)]) {
        self.fields = fields.map { (key: $0.0, value: $0.1) }
    }

    public init(dictionaryLiteral elements: (String, BSON)...) {
        self.init(elements)
    }

    public var isEmpty: Bool { fields.isEmpty }
    public var keys: [String] { fields.map(\.key) }

    /// Reading finds the first field with the key; writing replaces it in
    /// place or appends, so field order is kept.
    public subscript(key: String) -> BSON? {
        get { fields.first { $0.key == key }?.value }
        set {
            if let index = fields.firstIndex(where: { $0.key == key }) {
                if let newValue { fields[index].value = newValue } else { fields.remove(at: index) }
            } else if let newValue {
                fields.append((key: key, value: newValue))
            }
        }
    }

    public static func == (lhs: BSONDocument, rhs: BSONDocument) -> Bool {
        lhs.fields.count == rhs.fields.count
            && zip(lhs.fields, rhs.fields).allSatisfy { $0.key == $1.key && $0.value == $1.value }
    }
}

/// A MongoDB ObjectId, held as its 24 lower-case hex characters.
public struct ObjectId: Sendable, Hashable, CustomStringConvertible {
    public let hex: String

    /// nil unless `hex` is 24 hex characters.
    public init?(_ hex: String) {
        let lower = hex.lowercased()
        guard lower.utf8.count == 24, lower.utf8.allSatisfy({ (48...57).contains($0) || (97...102).contains($0) }) else {
            return nil
        }
        self.hex = lower
    }

    public var description: String { hex }
}

extension BSONDocument {
    /// The document's size as BSON stores it (what MongoDB's 16 MiB limit counts).
    public var encodedSize: Int {
        func element(_ key: String, _ value: BSON) -> Int { 1 + key.utf8.count + 1 + size(value) }
        func size(_ value: BSON) -> Int {
            switch value {
            case .double, .date, .int64: 8
            case .int32: 4
            case .bool: 1
            case .null, .unsupported: 0
            case .objectId: 12
            case .string(let s): 4 + s.utf8.count + 1
            case .document(let d): d.encodedSize
            case .array(let items): 4 + items.enumerated().reduce(0) { $0 + element(String($1.offset), $1.element) } + 1
            }
        }
        return 4 + fields.reduce(0) { $0 + element($1.key, $1.value) } + 1
    }
}
