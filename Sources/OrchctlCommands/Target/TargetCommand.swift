import ArgumentParser
import OrchestratorModel

struct TargetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "target",
        abstract: "Create, list, show, change, delete and import the devices fleet runs work on.",
        discussion: """
            A target has a name, labels that select it (site=ams, group=leaf,canary: a \
            comma-listed value matches any of its items) and vars its steps see as \
            ORCH_TARGET_<VAR> and {{target.VAR}}.
            """,
        subcommands: [TargetCreate.self, TargetList.self, TargetGet.self, TargetUpdate.self, TargetDelete.self, TargetImportCommand.self]
    )
}

/// A target's name as a positional argument, checked before any request.
struct TargetName: ParsableArguments {
    @Argument(help: "The target's name.")
    var name: String

    func validate() throws {
        try checkName(name, what: "target name")
    }
}

/// `KEY=VALUE` options (`--label`, `--var`, `-p`), read into a map; a key given twice is a usage error.
func keyValues(_ items: [String], option: String) throws -> [String: String] {
    var out: [String: String] = [:]
    for item in items {
        guard let equals = item.firstIndex(of: "="), equals != item.startIndex else {
            throw ValidationError("\(option) takes KEY=VALUE, got '\(item)'")
        }
        let key = String(item[..<equals])
        guard out.updateValue(String(item[item.index(after: equals)...]), forKey: key) == nil else {
            throw ValidationError("\(option) \(key) is given twice")
        }
    }
    return out
}

/// `site=ams,role=leaf` (every pair must match) or `--target NAME`s: a selector.
func selector(labels: String?, names: [String]) throws -> TargetSelector? {
    switch (labels, names.isEmpty) {
    case (nil, true): return nil
    case (let labels?, true):
        return .labels(try keyValues(labels.split(separator: ",").map(String.init), option: "--targets"))
    case (nil, false):
        for name in names { try checkName(name, what: "target name") }
        return .names(names)
    default: throw ValidationError("select targets by labels or by --target names, not both")
    }
}

extension Render {
    static func pairs(_ map: [String: String]) -> String {
        map.isEmpty ? "-" : map.keys.sorted().map { "\($0)=\(map[$0]!)" }.joined(separator: " ")
    }

    static func target(_ t: Target) -> String {
        var out = fields([("Name", t.name), ("Id", t.id), ("Created", text(t.createdAt)), ("Updated", text(t.updatedAt))])
        out += "\nLabels:\n" + (t.labels.isEmpty ? "  none\n" : t.labels.keys.sorted().map { "  \($0)=\(t.labels[$0]!)\n" }.joined())
        out += "\nVars (ORCH_TARGET_<VAR>, {{target.VAR}}):\n"
            + (t.vars.isEmpty ? "  none\n" : t.vars.keys.sorted().map { "  \($0)=\(t.vars[$0]!)\n" }.joined())
        return out
    }
}
