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
        let writer = BSONWriter()
        writer.append(document, to: pointer, depth: 0)
    }

    deinit {
        bson_destroy(pointer)
    }
}

/// Writes Swift values into a `bson_t`. Embedded documents and arrays are
/// written in place in their parent's buffer (`bson_append_*_begin/end`),
/// so none gets a document of its own to allocate, grow and copy in: the
/// run log's entries and the run's updates are documents of documents,
/// and this was the largest part of a step's instructions.
private final class BSONWriter {
    /// One 128-byte aligned `bson_t` header per depth, for the child being
    /// written at that depth (Debian's libbson needs the alignment).
    private var children: [UnsafeMutableRawPointer] = []

    deinit {
        for child in children { free(child) }
    }

    func append(_ document: BSONDocument, to bson: OpaquePointer, depth: Int) {
        for field in document.fields {
            var key = field.key
            key.withUTF8 { utf8 in
                // With a length, libbson copies the key's bytes and adds the
                // terminator itself (and refuses an embedded NUL).
                if let base = utf8.baseAddress, !utf8.isEmpty {
                    base.withMemoryRebound(to: CChar.self, capacity: utf8.count) {
                        append(field.value, key: $0, keyLength: Int32(utf8.count), to: bson, depth: depth)
                    }
                } else {
                    append(field.value, key: "", keyLength: 0, to: bson, depth: depth)
                }
            }
        }
    }

    private func child(at depth: Int) -> OpaquePointer {
        while children.count <= depth { children.append(AlignedScratch.allocate()) }
        return OpaquePointer(children[depth])
    }

    private func append(_ value: BSON, key: UnsafePointer<CChar>, keyLength: Int32, to bson: OpaquePointer, depth: Int) {
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
        case .document(let document):
            let child = child(at: depth)
            bson_append_document_begin(bson, key, keyLength, child)
            append(document, to: child, depth: depth + 1)
            bson_append_document_end(bson, child)
        case .array(let values):
            let child = child(at: depth)
            bson_append_array_begin(bson, key, keyLength, child)
            var digits = (UInt64(0), UInt64(0))
            withUnsafeMutableBytes(of: &digits) { buffer in
                let scratch = buffer.baseAddress!.assumingMemoryBound(to: CChar.self)
                for (index, element) in values.enumerated() {
                    // Array keys are "0", "1", …: libbson's own table, no String each.
                    var indexKey: UnsafePointer<CChar>?
                    let length = bson_uint32_to_string(UInt32(index), &indexKey, scratch, buffer.count)
                    append(element, key: indexKey!, keyLength: Int32(length), to: child, depth: depth + 1)
                }
            }
            bson_append_array_end(bson, child)
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
        raw = Self.allocate()
    }

    /// 128 zeroed bytes at 128-byte alignment: room for a bson_t (128) or a
    /// bson_iter_t (80). The caller frees them.
    static func allocate() -> UnsafeMutableRawPointer {
        var memory: UnsafeMutableRawPointer?
        guard posix_memalign(&memory, 128, 128) == 0, let memory else {
            fatalError("out of memory allocating 128 bytes")
        }
        memory.initializeMemory(as: UInt8.self, repeating: 0, count: 128)
        return memory
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

    /// An array's elements: their keys ("0", "1", …) are not read at all.
    private static func readValues(_ iter: OpaquePointer) -> [BSON] {
        var values: [BSON] = []
        while bson_iter_next(iter) { values.append(value(at: iter)) }
        return values
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
            return type == BSON_TYPE_ARRAY ? .array(readValues(child.opaque)) : .document(readFields(child.opaque))
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
