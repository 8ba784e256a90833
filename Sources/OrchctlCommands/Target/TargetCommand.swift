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
/// `-p KEY=VALUE`, repeatable: a run's parameters.
struct ParamOptions: ParsableArguments {
    @Option(name: [.customShort("p"), .customLong("param")], help: ArgumentHelp("A run parameter (repeatable).", valueName: "KEY=VALUE"))
    var params: [String] = []

    func validate() throws {
        _ = try values()
    }

    func values() throws -> [String: String] {
        var out: [String: String] = [:]
        for pair in params {
            guard let equals = pair.firstIndex(of: "="), equals != pair.startIndex else {
                throw ValidationError("-p takes KEY=VALUE, got '\(pair)'")
            }
            let key = String(pair[..<equals])
            // The last would win silently; which one the operator meant is theirs to say.
            guard out[key] == nil else { throw ValidationError("-p gives '\(key)' twice; give each parameter once") }
            out[key] = String(pair[pair.index(after: equals)...])
        }
        return out
    }
}

/// `--secret-param NAME`, repeatable: a parameter whose value is asked for
/// (on a terminal, without echo; else one line of standard input per name,
/// in order) instead of taken from the command line, which `ps` and shell
/// history would show.
struct SecretParamOptions: ParsableArguments {
    @Option(name: .customLong("secret-param"), help: ArgumentHelp(
        "A parameter whose value is read from the terminal (not echoed) or from standard input, never from the command line (repeatable).",
        valueName: "NAME"))
    var names: [String] = []

    func validate() throws {
        guard Set(names).count == names.count else { throw ValidationError("--secret-param names a parameter twice") }
    }

    /// `params` with the asked-for values added; a name also given with -p is a usage error.
    func adding(to params: [String: String]) throws -> [String: String] {
        guard !names.isEmpty else { return params }
        if let both = names.first(where: { params[$0] != nil }) { throw ValidationError("\(both) is given both with -p and with --secret-param") }
        var all = params
        for name in names { all[name] = try SecretInput.read(for: name, what: "parameter", oneLine: true) }
        return all
    }
}

/// What makes a run a fleet run: the targets and how they go in batches.
struct FleetOptions: ParsableArguments {
    @Option(name: .customLong("targets"), help: ArgumentHelp("A fleet run over the targets with these labels.", valueName: "KEY=VALUE[,KEY=VALUE]"))
    var targetLabels: String?
    @Option(name: .customLong("target"), help: ArgumentHelp("A fleet run over this target (repeatable).", valueName: "NAME"))
    var targetNames: [String] = []
    @Option(help: ArgumentHelp("Targets per batch: a count, or a percentage of them (default: all at once).", valueName: "N|P%"))
    var batch: String?
    @Option(help: ArgumentHelp("Start no further batch once more than this share of the finished targets failed (default 0%).", valueName: "P%"))
    var maxFail: String?

    func validate() throws {
        _ = try fleet()
    }

    /// The fleet options as a request's fields; nil for a run that is not a fleet run.
    func fleet() throws -> (targets: TargetSelector, batchSize: BatchSize?, maxFail: Int?)? {
        guard let chosen = try selector(labels: targetLabels, names: targetNames) else {
            guard batch == nil, maxFail == nil else { throw ValidationError("--batch and --max-fail are for fleet runs: give --targets or --target too") }
            return nil
        }
        let size = try batch.map { text in
            guard let size = BatchSize(text), size.problems(at: "").isEmpty else { throw ValidationError("--batch takes a count (10) or a percentage (25%), got '\(text)'") }
            return size
        }
        let fail = try maxFail.map { text in
            guard let value = Int(text.hasSuffix("%") ? String(text.dropLast()) : text), (0...100).contains(value) else {
                throw ValidationError("--max-fail takes a percentage between 0% and 100%, got '\(text)'")
            }
            return value
        }
        return (chosen, size, fail)
    }
}

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
