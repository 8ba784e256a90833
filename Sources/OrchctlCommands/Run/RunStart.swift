import ArgumentParser
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

    private func parameters() throws -> [String: JSONValue] {
        var out: [String: JSONValue] = [:]
        for pair in params {
            guard let equals = pair.firstIndex(of: "="), equals != pair.startIndex else {
                throw ValidationError("-p takes KEY=VALUE, got '\(pair)'")
            }
            out[String(pair[..<equals])] = .string(String(pair[pair.index(after: equals)...]))
        }
        return out
    }

    func run() throws {
        try reporting {
            let connection = try global.connect()
            let started = try GlobalOptions.call(connection, Method.runStart.rawValue, ["workflow": .string(workflow.name), "params": .object(try parameters())])
            guard watch else {
                global.emit(started) { "run \(Render.text($0["id"])) of \(workflow.name) \(Render.text($0["status"]))\n" }
                return
            }
            if global.output == .table { print("run \(Render.text(started["id"])) of \(workflow.name) started") }
            let final = try follow(connection, runId: Render.text(started["id"]), output: global.output)
            if global.output == .json { print(JSONCoding.prettyPrinted(final)) }
            try exitForOutcome(final)
        }
    }
}
