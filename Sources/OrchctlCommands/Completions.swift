import ArgumentParser
import Foundation
import OrchestratorClient
import OrchestratorModel
import OrchestratorProtocol

/// What the shell completes (`orchctl --generate-completion-script bash|zsh|fish`):
/// workflow names and recent run ids asked of the daemon, statuses, workflow files.
enum Completions {
    static let workflowNames = CompletionKind.custom { words, _, prefix in
        ask(words) { try $0.reply(RPCMethods.workflowList, WorkflowListParams(limit: 1000)).result.items.map(\.name) }
            .filter { $0.hasPrefix(prefix) }
    }

    /// The newest hundred runs' ids.
    static let runIds = CompletionKind.custom { words, _, prefix in
        ask(words) { try $0.reply(RPCMethods.runList, RunListParams(limit: 100)).result.items.map(\.id) }.filter { $0.hasPrefix(prefix) }
    }

    static let runStatuses = CompletionKind.list(RunStatus.allCases.map(\.rawValue))
    static let workflowFiles = CompletionKind.file(extensions: ["yaml", "yml", "json"])

    /// Asks the daemon the command line names (`--socket`), else `$ORCHCTL_SOCKET`,
    /// else the default; nothing when it cannot be asked (completion never fails loudly).
    private static func ask(_ words: [String], _ body: (RPCConnection) throws -> [String]) -> [String] {
        var flag: String?
        for (index, word) in words.enumerated() {
            if word == "--socket", index + 1 < words.count { flag = words[index + 1] }
            if word.hasPrefix("--socket=") { flag = String(word.dropFirst("--socket=".count)) }
        }
        guard let connection = try? RPCConnection(path: GlobalOptions.socketPath(flag: flag)) else { return [] }
        // A daemon that does not answer within a second (one started by its socket while MongoDB is away) completes nothing.
        connection.setIdleInterval(milliseconds: 1000)
        return (try? body(connection)) ?? []
    }
}
