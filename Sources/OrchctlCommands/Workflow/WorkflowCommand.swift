import Foundation
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
        throw refused("invalid \(what) '\(name)': names are 1-63 characters of a-z, 0-9, '.', '_', '-', starting with a letter or digit")
    }
}

/// A value that breaks the rules, found before asking the daemon: said as
/// the daemon's refusals are, with the same exit status, 4 (a command line
/// that cannot be read at all is 64, the parser's own).
func refused(_ message: String) -> ExitCode {
    FileHandle.standardError.write(Data("orchctl: \(message)\n".utf8))
    return ExitCode(4)
}


func isValidName(_ name: String) -> Bool { NameRule.isValid(name) }
