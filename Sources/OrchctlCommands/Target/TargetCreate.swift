import ArgumentParser
import OrchestratorModel
import OrchestratorProtocol

struct TargetCreate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create",
        abstract: "Create a target.",
        discussion: "Examples:\n  orchctl target create leaf01.ams --label site=ams --label role=leaf \\\n      --var ansible_host=10.1.1.1"
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var target: TargetName
    @Option(name: .customLong("label"), help: ArgumentHelp("A label (repeatable).", valueName: "KEY=VALUE")) var labels: [String] = []
    @Option(name: .customLong("var"), help: ArgumentHelp("A var its steps see (repeatable).", valueName: "KEY=VALUE")) var vars: [String] = []

    func run() throws {
        try reporting {
            let draft = TargetDraft(name: target.name, labels: try keyValues(labels, option: "--label"), vars: try keyValues(vars, option: "--var"))
            let created = try global.call(RPCMethods.targetCreate, draft)
            global.emit(created) { "target \($0.name) created\n" }
        }
    }
}
