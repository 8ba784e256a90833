import OrchestratorModel
import OrchestratorProtocol
import Yams

/// A parsed inventory document, whichever syntax it came in, with the line
/// each value starts on (YAML only): what the readers of inventory shapes
/// walk, so every problem they find can name its line.
indirect enum InventoryTree {
    /// `text` as written: YAML's implicit typing is not applied, so
    /// `1.10` stays `1.10` and `yes` stays `yes` (vars are strings).
    case scalar(text: String, isNull: Bool, line: Int?)
    case list([InventoryTree], line: Int?)
    case map([(key: String, keyLine: Int?, value: InventoryTree)], line: Int?)

    var line: Int? {
        switch self {
        case .scalar(_, _, let line), .list(_, let line), .map(_, let line): line
        }
    }

    var isNull: Bool {
        if case .scalar(_, true, _) = self { return true }
        return false
    }

    var kind: String {
        switch self {
        case .scalar(_, true, _): "nothing"
        case .scalar: "a single value"
        case .list: "a list"
        case .map: "a mapping"
        }
    }

    /// A var's value as a string: scalars as written; lists and mappings as
    /// compact JSON, which a step can parse back.
    var varValue: String {
        switch self {
        case .scalar(let text, let isNull, _): isNull ? "" : text
        case .list, .map: JSONCoding.serialize(json)
        }
    }

    private var json: JSONValue {
        switch self {
        case .scalar(let text, let isNull, _): isNull ? .null : .string(text)
        case .list(let items, _): .array(items.map(\.json))
        case .map(let entries, _): .object(Dictionary(entries.map { ($0.key, $0.value.json) }) { _, later in later })
        }
    }

    struct SyntaxError: Error {
        let message: String
    }

    static func yaml(_ text: String) throws(SyntaxError) -> InventoryTree? {
        let node: Node?
        do {
            node = try Yams.compose(yaml: text)
        } catch {
            throw SyntaxError(message: "invalid YAML: \(error)")
        }
        guard let node else { return nil }
        return try tree(node)
    }

    private static func tree(_ node: Node) throws(SyntaxError) -> InventoryTree {
        // Yams counts lines from 1 already.
        let line = node.mark?.line
        switch node {
        case .scalar(let scalar):
            let quoted = scalar.style == .singleQuoted || scalar.style == .doubleQuoted
            return .scalar(text: scalar.string, isNull: !quoted && node.tag.description == "tag:yaml.org,2002:null", line: line)
        case .sequence(let sequence):
            var items: [InventoryTree] = []
            for item in sequence { items.append(try tree(item)) }
            return .list(items, line: line)
        case .mapping(let mapping):
            var entries: [(key: String, keyLine: Int?, value: InventoryTree)] = []
            for (key, value) in mapping {
                guard let name = key.string else {
                    throw SyntaxError(message: "line \(key.mark?.line ?? 0): mapping keys must be single values")
                }
                entries.append((name, key.mark?.line, try tree(value)))
            }
            return .map(entries, line: line)
        case .alias:
            throw SyntaxError(message: "line \(line ?? 0): YAML aliases are not supported in inventories")
        }
    }

    static func json(_ text: String) throws(SyntaxError) -> InventoryTree {
        do {
            return tree(try JSONCoding.parse(text))
        } catch {
            throw SyntaxError(message: "invalid JSON: \(error)")
        }
    }

    private static func tree(_ value: JSONValue) -> InventoryTree {
        switch value {
        case .null: .scalar(text: "", isNull: true, line: nil)
        case .string(let s): .scalar(text: s, isNull: false, line: nil)
        case .array(let items): .list(items.map(tree), line: nil)
        case .object(let o): .map(o.sorted { $0.key < $1.key }.map { ($0.key, nil, tree($0.value)) }, line: nil)
        default: .scalar(text: JSONCoding.serialize(value), isNull: false, line: nil)
        }
    }
}

/// Problems found while reading an inventory, each named by its path in the
/// document and, for YAML, its line.
struct InventoryProblems {
    private(set) var errors: [FieldError] = []

    mutating func add(_ path: String, _ line: Int?, _ message: String) {
        let field = line.map { "\(path) (line \($0))" } ?? path
        errors.append(FieldError(field: field, message: message))
    }
}
