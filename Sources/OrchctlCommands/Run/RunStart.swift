import ArgumentParser
import OrchestratorModel
import OrchestratorProtocol

struct RunStart: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "start",
        abstract: "Start a run of a workflow, optionally following it to the end.",
        discussion: """
            Each -p KEY=VALUE fills {{params.KEY}} in the steps and is in their environment as \
            ORCH_PARAM_KEY. With --watch, orchctl shows each step's progress and exits 0 if the \
            run succeeded, 1 if it failed or was cancelled.

            Examples:
              orchctl run start vlan-rollout -p switch=sw1 -p vlan=120 --watch
              orchctl -o json run start config-backup -p dest=/var/lib/orchestrator/backups
            """
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var workflow: WorkflowName
    @Option(name: [.customShort("p"), .customLong("param")], help: ArgumentHelp("A run parameter (repeatable).", valueName: "KEY=VALUE"))
    var params: [String] = []
    @Flag(help: "Follow the run until it ends; the exit status is the run's outcome.") var watch = false

    func validate() throws {
        _ = try parameters()
    }

    private func parameters() throws -> [String: String] {
        var out: [String: String] = [:]
        for pair in params {
            guard let equals = pair.firstIndex(of: "="), equals != pair.startIndex else {
                throw ValidationError("-p takes KEY=VALUE, got '\(pair)'")
            }
            out[String(pair[..<equals])] = String(pair[pair.index(after: equals)...])
        }
        return out
    }

    func run() throws {
        try reporting {
            let connection = try global.connect()
            let started = try GlobalOptions.call(connection, RPCMethods.runStart, RunStartParams(workflow: workflow.name, params: try parameters()))
            guard watch else {
                global.emit(started) { "run \($0.id) of \(workflow.name) \($0.status.rawValue)\n" }
                return
            }
            let id = started.result.id
            if global.output == .table { print("run \(id) of \(workflow.name) started") }
            let final = try follow(connection, runId: id, output: global.output)
            if global.output == .json { print(JSONCoding.prettyPrinted(final.json)) }
            try exitForOutcome(final.result)
        }
    }
}
