import ArgumentParser
import OrchestratorModel
import OrchestratorProtocol

struct TargetUpdate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "update",
        abstract: "Rename a target, or set and remove some of its labels and vars (the others are kept).",
        discussion: """
            Examples:
              orchctl target update leaf01.ams --var ansible_host=10.1.1.11 \\
                  --unset-var old_ip
              orchctl target update leaf01.ams --label role=border --unset-label canary
              orchctl target update leaf01.ams --name leaf01.ams2
            """
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var target: TargetName
    @Option(name: .customLong("name"), help: "New name.") var newName: String?
    @Option(name: .customLong("label"), help: ArgumentHelp("Set a label (repeatable).", valueName: "KEY=VALUE")) var labels: [String] = []
    @Option(name: .customLong("unset-label"), help: ArgumentHelp("Remove a label (repeatable).", valueName: "KEY")) var unsetLabels: [String] = []
    @Option(name: .customLong("var"), help: ArgumentHelp("Set a var (repeatable).", valueName: "KEY=VALUE")) var vars: [String] = []
    @Option(name: .customLong("unset-var"), help: ArgumentHelp("Remove a var (repeatable).", valueName: "KEY")) var unsetVars: [String] = []

    func validate() throws {
        guard newName != nil || !(labels + unsetLabels + vars + unsetVars).isEmpty else {
            throw ValidationError("nothing to change: give --name, --label, --unset-label, --var or --unset-var")
        }
        if let newName { try checkName(newName, what: "new target name") }
    }

    func run() throws {
        try reporting {
            func patch(_ set: [String], _ unset: [String], _ option: String) throws -> [String: String?] {
                var out = try keyValues(set, option: "--\(option)").mapValues { Optional($0) }
                for key in unset {
                    guard out.updateValue(nil, forKey: key) == nil else { throw ValidationError("\(key) is both set and removed") }
                }
                return out
            }
            let changes = TargetChanges(name: newName, labels: try patch(labels, unsetLabels, "label"), vars: try patch(vars, unsetVars, "var"))
            let updated = try global.call(RPCMethods.targetUpdate, TargetUpdateParams(name: target.name, changes: changes))
            global.emit(updated) { "target \($0.name) updated\n" }
        }
    }
}
