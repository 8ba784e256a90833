import Foundation
import OrchestratorProtocol
import Yams

/// A workflow definition read from a YAML or JSON file.
enum WorkflowFile {
    struct Problem: Error, CustomStringConvertible {
        let description: String
    }

    static func read(_ path: String) throws -> JSONValue {
        let data: Data
        do {
            data = path == "-" ? FileHandle.standardInput.readDataToEndOfFile() : try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw Problem(description: "cannot read \(path): \((error as NSError).localizedFailureReason ?? error.localizedDescription)")
        }
        guard let text = String(data: data, encoding: .utf8) else { throw Problem(description: "\(path) is not UTF-8 text") }
        let value = try parse(text, name: path)
        guard case .object = value else { throw Problem(description: "\(path) must hold one workflow (a mapping with name, description, steps)") }
        return value
    }

    static func parse(_ text: String, name: String) throws -> JSONValue {
        let trimmed = text.drop { $0.isWhitespace }
        if name.hasSuffix(".json") || trimmed.hasPrefix("{") {
            do {
                return try JSONCoding.parse(text)
            } catch {
                throw Problem(description: "\(name): \(error)")
            }
        }
        let node: Node?
        do {
            node = try Yams.compose(yaml: text)
        } catch {
            throw Problem(description: "\(name): invalid YAML: \(error)")
        }
        guard let node else { throw Problem(description: "\(name) is empty") }
        return try json(node, path: [])
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
