import OrchestratorProtocol
import Yams

/// `-o yaml`: the protocol's result as a YAML document, keys sorted, every
/// string that YAML would read as something else (`1`, `yes`, `null`) quoted.
enum YAMLOutput {
    static func document(_ value: JSONValue) -> String {
        let text = (try? Yams.serialize(node: node(value), sortKeys: true)) ?? "null\n"
        return "---\n" + text
    }

    static func node(_ value: JSONValue) -> Node {
        switch value {
        case .null: return Node("null", Tag(.null))
        case .bool(let flag): return Node(flag ? "true" : "false", Tag(.bool))
        case .int(let number): return Node(String(number), Tag(.int))
        case .double(let number): return Node(number.isFinite ? "\(number)" : ".nan", Tag(.float))
        case .string(let text): return .scalar(text.represented())  // Yams quotes what would read back as another type
        case .array(let items): return .sequence(Node.Sequence(items.map(node)))
        case .object(let fields): return .mapping(Node.Mapping(fields.map { (.scalar($0.key.represented()), node($0.value)) }))
        }
    }
}
