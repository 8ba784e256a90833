import ArgumentParser
import OrchestratorClient
import OrchestratorModel
import OrchestratorProtocol

struct RunResume: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resume",
        abstract: "Continue a failed or cancelled run from its first step that did not succeed.",
        discussion: """
            The run keeps its id and its earlier attempts; steps that succeeded do not run again.
            It runs the definition it started with (the version 'orchctl run get' shows), even
            if the workflow was changed since: orchctl says so when it was. To run the
            workflow as it is now, start a new run. A run whose rollback failed is not resumed.
            The values of secret parameters are not kept once a run ends or its daemon restarts:
            give them again with --secret-param NAME (asked for, not echoed) or -p (the others
            keep the values the run started with).

            Example:
              orchctl run resume 65a1b2c3d4e5f60718293a4b --watch
            """
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var target: RunID
    @OptionGroup var params: ParamOptions
    @OptionGroup var secretParams: SecretParamOptions
    @Flag(help: "Follow the run until it ends; the exit status is the run's outcome.") var watch = false

    func run() throws {
        try reporting {
            let target = try target.resolved(global)
            let connection = try global.connect()
            let resumed = try GlobalOptions.call(connection, RPCMethods.runResume, RunResumeParams(id: target.id, params: try secretParams.adding(to: params.values())))
            let note = versionNote(resumed.result, connection)
            guard watch else {
                global.emit(resumed) { "run \(target.id) resumed (\($0.status.rawValue)) with version \($0.workflowVersion) of \($0.workflowName)\n" + note }
                return
            }
            if global.output == .table { print(note, terminator: "") }
            let final = try follow(connection, runId: target.id, output: global.output, reconnect: global.connect)
            try exitForOutcome(final.result)
        }
    }

    /// Says so when the workflow has changed since the run started: the run goes on with its own definition.
    private func versionNote(_ run: Run, _ connection: RPCConnection) -> String {
        guard let current = try? GlobalOptions.call(connection, RPCMethods.workflowGet, WorkflowGetParams(.id(run.workflowId))).result,
              current.version != run.workflowVersion else { return "" }
        return "note: \(run.workflowName) is at version \(current.version) now; this run goes on with version \(run.workflowVersion), "
            + "the definition it started with (see 'orchctl workflow diff \(current.name) \(run.workflowVersion)'); "
            + "start a new run for the current one\n"
    }
}
