import ArgumentParser
import OrchestratorProtocol

struct StepCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "step",
        abstract: "Add, list, show, change and delete a workflow's steps.",
        subcommands: [StepAdd.self, StepList.self, StepGet.self, StepUpdate.self, StepDelete.self]
    )
}

/// WF and NAME as positional arguments, checked before any request.
struct StepAddress: ParsableArguments {
    @Argument(help: "The workflow's name.", completion: Completions.workflowNames) var workflow: String
    @Argument(help: "The step's name.") var name: String

    func validate() throws {
        try checkName(workflow, what: "workflow name")
        try checkName(name, what: "step name")
    }

    var key: StepKey { StepKey(workflow: workflow, name: name) }
}

/// `KEY=VALUE` pairs for --env.
func environment(_ pairs: [String]) throws -> [String: String] {
    var env: [String: String] = [:]
    for pair in pairs {
        guard let equals = pair.firstIndex(of: "="), equals != pair.startIndex else {
            throw ValidationError("--env takes KEY=VALUE, got '\(pair)'")
        }
        env[String(pair[..<equals])] = String(pair[pair.index(after: equals)...])
    }
    return env
}
