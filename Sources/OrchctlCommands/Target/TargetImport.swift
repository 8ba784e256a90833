import ArgumentParser
import Foundation
import OrchestratorModel
import OrchestratorProtocol

struct TargetImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Create and update targets from an Ansible inventory (YAML or JSON).",
        discussion: """
            Each host becomes a target of its name; its vars (merged from all:vars, its \
            groups' vars and its own, as Ansible merges them) become the target's vars, and \
            the groups it is in its 'group' label (comma-listed). Targets the inventory does \
            not name are left alone; importing the same inventory again changes nothing.

            The format follows the file's extension (.json: what 'ansible-inventory --list' \
            prints, or a list of targets as 'orchctl -o json target get' shows them; \
            anything else: Ansible's YAML inventory) unless --format says.

            Examples:
              orchctl target import -f inventory.yml --dry-run
              orchctl target import -f inventory.yml
              ansible-inventory -i hosts.ini --list | orchctl target import -f - \\
                  --format json
            """
    )

    @OptionGroup var global: GlobalOptions
    @Option(name: [.customShort("f"), .customLong("file")], help: ArgumentHelp("The inventory file, or - for stdin.", valueName: "FILE"))
    var file: String
    @Option(help: ArgumentHelp("ansible-yaml or json (default: from the file's extension).", valueName: "FORMAT")) var format: String?
    @Flag(help: "Show what would be created and changed, and change nothing.") var dryRun = false

    func validate() throws {
        if let format, !["ansible-yaml", "json"].contains(format) { throw ValidationError("--format is ansible-yaml or json, not '\(format)'") }
    }

    func run() throws {
        try reporting {
            let data: Data
            do {
                data = file == "-" ? FileHandle.standardInput.readDataToEndOfFile() : try Data(contentsOf: URL(fileURLWithPath: file))
            } catch {
                throw Failure(message: "cannot read \(file): \((error as NSError).localizedFailureReason ?? error.localizedDescription)", code: 1)
            }
            guard let content = String(data: data, encoding: .utf8) else { throw Failure(message: "\(file) is not UTF-8 text", code: 1) }
            let chosen = format ?? (file.hasSuffix(".json") ? "json" : "ansible-yaml")
            let result = try global.call(RPCMethods.targetImport, TargetImportParams(format: chosen, content: content, dryRun: dryRun))
            global.emit(result, table: Self.render)
        }
    }

    static func render(_ plan: TargetImport) -> String {
        let verb = plan.dryRun ? ("would create", "would update") : ("created", "updated")
        var out = "\(plan.created.count) \(verb.0), \(plan.updated.count) \(verb.1), \(plan.unchanged.count) unchanged"
            + (plan.dryRun ? " (dry run: nothing was changed)" : "") + "\n"
        for draft in plan.created {
            out += "  + \(draft.name)  \(Render.pairs(draft.labels))  \(draft.vars.count) vars\n"
        }
        for update in plan.updated {
            out += "  ~ \(update.after.name)\n"
            for (section, before, after) in [("labels", update.before.labels, update.after.labels), ("vars", update.before.vars, update.after.vars)] {
                for key in Set(before.keys).union(after.keys).sorted() where before[key] != after[key] {
                    out += "      \(section).\(key): \(before[key] ?? "(none)") → \(after[key] ?? "(removed)")\n"
                }
            }
        }
        return out
    }
}
