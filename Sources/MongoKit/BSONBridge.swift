import CMongoC
import Foundation

/// Owns one heap-allocated `bson_t` and frees it. Debian's libbson is built
/// with 128-byte alignment, so `bson_t` values never live on the Swift stack.
final class BSONHandle {
    let pointer: OpaquePointer

    init() {
        pointer = bson_new()
    }

    convenience init(_ document: BSONDocument) {
        self.init()
        for field in document.fields {
            Self.append(field.value, key: field.key, to: pointer)
        }
    }

    deinit {
        bson_destroy(pointer)
    }

    private static func append(_ value: BSON, key: String, to bson: OpaquePointer) {
        let keyLength = Int32(key.utf8.count)
        switch value {
        case .double(let d): bson_append_double(bson, key, keyLength, d)
        case .string(var s):
            // Given its length, libbson copies the bytes as they are (embedded
            // NULs kept) and adds the terminator itself: no copy of the string
            // on the way (a null pointer would append a BSON null instead).
            s.withUTF8 { bytes in
                if let base = bytes.baseAddress, !bytes.isEmpty {
                    base.withMemoryRebound(to: CChar.self, capacity: bytes.count) { _ = bson_append_utf8(bson, key, keyLength, $0, Int32(bytes.count)) }
                } else {
                    _ = bson_append_utf8(bson, key, keyLength, "", 0)
                }
            }
        case .document(let doc):
            let child = BSONHandle(doc)
            bson_append_document(bson, key, keyLength, child.pointer)
        case .array(let values):
            let child = BSONHandle()
            for (index, element) in values.enumerated() {
                append(element, key: String(index), to: child.pointer)
            }
            bson_append_array(bson, key, keyLength, child.pointer)
        case .objectId(let id):
            var oid = bson_oid_t()
            bson_oid_init_from_string(&oid, id.hex)
            bson_append_oid(bson, key, keyLength, &oid)
        case .bool(let b): bson_append_bool(bson, key, keyLength, b)
        case .date(let date):
            bson_append_date_time(bson, key, keyLength, Int64((date.timeIntervalSince1970 * 1000).rounded()))
        case .null: bson_append_null(bson, key, keyLength)
        case .int32(let i): bson_append_int32(bson, key, keyLength, i)
        case .int64(let i): bson_append_int64(bson, key, keyLength, i)
        case .unsupported: bson_append_null(bson, key, keyLength)
        }
    }
}

/// Scratch memory for libbson out-parameters (`bson_t` replies, iterators),
/// aligned as Debian's libbson requires.
struct AlignedScratch: ~Copyable {
    let raw: UnsafeMutableRawPointer

    init() {
        var memory: UnsafeMutableRawPointer?
        // 128 bytes at 128-byte alignment holds both bson_t (128) and bson_iter_t (80).
        guard posix_memalign(&memory, 128, 128) == 0, let memory else {
            fatalError("out of memory allocating 128 bytes")
        }
        memory.initializeMemory(as: UInt8.self, repeating: 0, count: 128)
        raw = memory
    }

    var opaque: OpaquePointer { OpaquePointer(raw) }

    deinit {
        free(raw)
    }
}

/// A reply document that libmongoc fills in; destroyed with the scratch.
struct ReplyBuffer: ~Copyable {
    private let scratch = AlignedScratch()

    init() {
        bson_init(scratch.opaque)
    }

    var pointer: OpaquePointer { scratch.opaque }

    func document() -> BSONDocument {
        BSONReader.document(from: scratch.opaque)
    }

    deinit {
        bson_destroy(scratch.opaque)
    }
}

enum BSONReader {
    /// Reads a whole `bson_t` into Swift values.
    static func document(from bson: OpaquePointer) -> BSONDocument {
        let iterator = AlignedScratch()
        guard bson_iter_init(iterator.opaque, bson) else { return BSONDocument() }
        return readFields(iterator.opaque)
    }

    private static func readFields(_ iter: OpaquePointer) -> BSONDocument {
        var fields: [(String, BSON)] = []
        while bson_iter_next(iter) {
            let key = String(cString: bson_iter_key(iter))
            fields.append((key, value(at: iter)))
        }
        return BSONDocument(fields)
    }

    private static func value(at iter: OpaquePointer) -> BSON {
        let type = bson_iter_type(iter)
        switch type {
        case BSON_TYPE_DOUBLE: return .double(bson_iter_double(iter))
        case BSON_TYPE_UTF8:
            var length: UInt32 = 0
            guard let chars = bson_iter_utf8(iter, &length) else { return .string("") }
            let buffer = UnsafeRawBufferPointer(start: chars, count: Int(length))
            return .string(String(decoding: buffer, as: UTF8.self))
        case BSON_TYPE_DOCUMENT, BSON_TYPE_ARRAY:
            let child = AlignedScratch()
            guard bson_iter_recurse(iter, child.opaque) else { return .null }
            let doc = readFields(child.opaque)
            return type == BSON_TYPE_ARRAY ? .array(doc.fields.map(\.value)) : .document(doc)
        case BSON_TYPE_OID:
            guard let oid = bson_iter_oid(iter) else { return .null }
            return ObjectId(hexOf(oid)).map { .objectId($0) } ?? .null
        case BSON_TYPE_BOOL: return .bool(bson_iter_bool(iter))
        case BSON_TYPE_DATE_TIME:
            return .date(Date(timeIntervalSince1970: Double(bson_iter_date_time(iter)) / 1000))
        case BSON_TYPE_NULL, BSON_TYPE_UNDEFINED: return .null
        case BSON_TYPE_INT32: return .int32(bson_iter_int32(iter))
        case BSON_TYPE_INT64: return .int64(bson_iter_int64(iter))
        default: return .unsupported(typeCode: type.rawValue)
        }
    }
}

extension ObjectId {
    /// A new id, made the way the drivers make them (time, random, counter).
    public static func generate() -> ObjectId {
        MongoDriver.ensureInitialised()
        var oid = bson_oid_t()
        bson_oid_init(&oid, nil)
        // bson_oid_to_string always writes 24 hex characters.
        return ObjectId(hexOf(&oid))!
    }
}

/// The 24 hex characters of a libbson ObjectId.
func hexOf(_ oid: UnsafePointer<bson_oid_t>) -> String {
    var text = [CChar](repeating: 0, count: 25)
    bson_oid_to_string(oid, &text)
    return String(decoding: text.prefix(24).map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
