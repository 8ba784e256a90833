import ArgumentParser
import OrchestratorProtocol

struct StepDelete: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "delete",
        abstract: "Remove a step from a workflow.",
        discussion: "Example:\n  orchctl step delete vlan-rollout verify"
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var step: StepAddress

    func run() throws {
        try reporting {
            let workflow = try global.call(Method.stepDelete.rawValue, step.params)
            global.emit(workflow) { "deleted step \(step.name) from \(step.workflow) (version \(Render.text($0["version"])))\n" }
        }
    }
}
