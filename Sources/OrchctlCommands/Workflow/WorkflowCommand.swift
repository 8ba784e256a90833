import ArgumentParser
import OrchestratorModel

struct WorkflowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "workflow",
        abstract: "Create, list, show, change and delete workflows; see their versions.",
        subcommands: [
            WorkflowCreate.self, WorkflowList.self, WorkflowGet.self, WorkflowUpdate.self, WorkflowDelete.self, WorkflowHistory.self,
            WorkflowDiffCommand.self,
        ]
    )
}

/// A workflow's name as a positional argument, checked before any request.
struct WorkflowName: ParsableArguments {
    @Argument(help: "The workflow's name.", completion: Completions.workflowNames)
    var name: String

    func validate() throws {
        try checkName(name, what: "workflow name")
    }
}

func checkName(_ name: String, what: String) throws {
    guard isValidName(name) else {
        throw ValidationError("invalid \(what) '\(name)': names are 1-63 characters of a-z, 0-9, '.', '_', '-', starting with a letter or digit")
    }
}


func isValidName(_ name: String) -> Bool { NameRule.isValid(name) }
