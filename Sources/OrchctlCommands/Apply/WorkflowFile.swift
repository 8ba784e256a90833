import Foundation
import OrchestratorProtocol
import Yams

/// A workflow definition read from a YAML or JSON file.
enum WorkflowFile {
    struct Problem: Error, CustomStringConvertible {
        let description: String
    }

    /// One workflow definition and where it was read: the file, and its
    /// YAML nodes, which know each value's line and column.
    struct Document {
        let source: String
        let value: JSONValue
        var file: String = ""
        var node: Node?

        /// `file:line:column` of what a parameter path (`steps[0].action.exec[1]`)
        /// names, or of the nearest enclosing thing that is there (a missing key's mapping).
        func position(of field: String) -> String? {
            guard var current = node else { return nil }
            let components = Self.components(of: field)
            for (offset, component) in components.enumerated() {
                switch (component, current) {
                case (.key(let key), .mapping(let mapping)):
                    guard let pair = mapping.first(where: { $0.key.string == key }) else { return Self.describe(current, in: file) }
                    // The last key is pointed at where it is written (`retires:`), the others are gone through.
                    current = offset == components.count - 1 ? pair.key : pair.value
                case (.index(let index), .sequence(let sequence)):
                    guard index < sequence.count else { return Self.describe(current, in: file) }
                    current = sequence[index]
                default:
                    return Self.describe(current, in: file)
                }
            }
            return Self.describe(current, in: file)
        }

        private static func describe(_ node: Node, in file: String) -> String? {
            node.mark.map { "\(file):\($0.line):\($0.column)" }
        }

        enum Component: Equatable {
            case key(String)
            case index(Int)
        }

        /// `steps[0].action.exec[1]` → steps, 0, action, exec, 1.
        static func components(of field: String) -> [Component] {
            var out: [Component] = []
            for part in field.split(separator: ".") {
                var rest = Substring(part)
                if let bracket = rest.firstIndex(of: "[") {
                    out.append(.key(String(rest[..<bracket])))
                    rest = rest[bracket...]
                    while rest.hasPrefix("["), let close = rest.firstIndex(of: "]"), let index = Int(rest[rest.index(after: rest.startIndex)..<close]) {
                        out.append(.index(index))
                        rest = rest[rest.index(after: close)...]
                    }
                } else {
                    out.append(.key(String(rest)))
                }
            }
            return out
        }
    }

    /// The workflows in a file (each document of a YAML stream), or in every
    /// `.yaml`, `.yml` and `.json` file of a directory, in name order.
    static func readAll(_ path: String) throws -> [Document] {
        var isDirectory: ObjCBool = false
        guard path != "-", FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else {
            return try read(path)
        }
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: path)
        } catch {
            throw Problem(description: "cannot list \(path): \((error as NSError).localizedFailureReason ?? error.localizedDescription)")
        }
        let files = names.filter { [".yaml", ".yml", ".json"].contains(where: $0.hasSuffix) && !$0.hasPrefix(".") }.sorted()
        guard !files.isEmpty else { throw Problem(description: "\(path) holds no workflow file (*.yaml, *.yml or *.json)") }
        return try files.flatMap { try read((path as NSString).appendingPathComponent($0)) }
    }

    static func read(_ path: String) throws -> [Document] {
        let data: Data
        do {
            data = path == "-" ? FileHandle.standardInput.readDataToEndOfFile() : try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw Problem(description: "cannot read \(path): \((error as NSError).localizedFailureReason ?? error.localizedDescription)")
        }
        guard let text = String(data: data, encoding: .utf8) else { throw Problem(description: "\(path) is not UTF-8 text") }
        let values = try parse(text, name: path)
        for (index, value) in values.enumerated() {
            guard case .object = value else {
                let which = values.count > 1 ? " (document \(index + 1))" : ""
                throw Problem(description: "\(path)\(which) must hold one workflow (a mapping with name, description, steps)")
            }
        }
        // Where each value is, for problems: JSON is YAML too, for positions.
        let nodes = (try? Array(Yams.compose_all(yaml: text)).filter { !Self.isEmpty($0) }) ?? []
        let file = path == "-" ? "<stdin>" : path
        return values.enumerated().map { index, value in
            Document(
                source: values.count > 1 ? "\(path) (document \(index + 1))" : path, value: value, file: file,
                node: nodes.count == values.count ? nodes[index] : nil)
        }
    }

    /// An empty document (a trailing `---`) is no workflow, and no error either.
    private static func isEmpty(_ node: Node) -> Bool {
        if case .scalar(let scalar) = node, scalar.string.isEmpty { return true }
        return false
    }

    /// The documents of `text`: one JSON value, or each document of a YAML stream (`---` between them).
    static func parse(_ text: String, name: String) throws -> [JSONValue] {
        let trimmed = text.drop { $0.isWhitespace }
        if name.hasSuffix(".json") || trimmed.hasPrefix("{") {
            do {
                return [try JSONCoding.parse(text)]
            } catch {
                throw Problem(description: "\(name): \(error)")
            }
        }
        let nodes: [Node]
        do {
            nodes = Array(try Yams.compose_all(yaml: text)).filter { !isEmpty($0) }
        } catch {
            throw Problem(description: "\(name): invalid YAML: \(error)")
        }
        guard !nodes.isEmpty else { throw Problem(description: "\(name) is empty") }
        return try nodes.map { try json($0, path: []) }
    }

    /// YAML's implicit typing turns `1` or `yes` into numbers and booleans;
    /// inside a command line and its environment every scalar is kept as the
    /// text the operator wrote.
    private static func json(_ node: Node, path: [String]) throws -> JSONValue {
        let literal = path.contains("exec") || path.contains("env")
        switch node {
        case .scalar(let scalar):
            if literal || scalar.style == .singleQuoted || scalar.style == .doubleQuoted { return .string(scalar.string) }
            switch node.tag.description {
            case "tag:yaml.org,2002:null": return .null
            case "tag:yaml.org,2002:bool": return node.bool.map(JSONValue.bool) ?? .string(scalar.string)
            case "tag:yaml.org,2002:int": return node.int.map { .int(Int64($0)) } ?? .string(scalar.string)
            case "tag:yaml.org,2002:float": return node.float.map(JSONValue.double) ?? .string(scalar.string)
            default: return .string(scalar.string)
            }
        case .sequence(let sequence):
            return .array(try sequence.map { try json($0, path: path) })
        case .mapping(let mapping):
            var object: [String: JSONValue] = [:]
            for (key, value) in mapping {
                guard let name = key.string else { throw Problem(description: "mapping keys must be strings") }
                object[name] = try json(value, path: path + [name])
            }
            return .object(object)
        case .alias:
            throw Problem(description: "YAML aliases are not supported in workflow files")
        }
    }
}
