import ArgumentParser
import OrchestratorProtocol

struct RunGet: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "get",
        abstract: "Show a run: its status and each step's attempts, exit code and times.",
        discussion: "Example:\n  orchctl run get 65a1b2c3d4e5f60718293a4b\n  orchctl -o json run get 65a1b2c3d4e5f60718293a4b | jq '.steps[] | {name, status}'"
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var target: RunID

    func run() throws {
        try reporting {
            global.emit(try global.call(Method.runGet.rawValue, ["id": .string(target.id)]), table: Self.render)
        }
    }

    static func render(_ run: JSONValue) -> String {
        let params = (run["params"]?.objectValue ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key)=\(Render.text($0.value))" }
        var out = fields([
            ("Run", Render.text(run["id"])), ("Workflow", "\(Render.text(run["workflowName"])) (version \(Render.text(run["workflowVersion"])))"),
            ("Status", Render.text(run["status"]) + (run["cancelRequested"] == .bool(true) && run["status"] != "cancelled" ? " (cancel requested)" : "")),
            ("Parameters", params.isEmpty ? "-" : params.joined(separator: " ")),
            ("Requested by", "uid \(Render.text(run["requestedBy"]?["uid"])) (pid \(Render.text(run["requestedBy"]?["pid"])))"),
            ("Created", Render.text(run["createdAt"])), ("Started", Render.text(run["startedAt"])), ("Finished", Render.text(run["finishedAt"])),
        ])
        var table = Table("ORDER", "STEP", "STATUS", "ATTEMPTS", "EXIT", "STARTED", "FINISHED", "ERROR")
        for step in run["steps"]?.arrayValue ?? [] {
            table.add(Render.text(step["executionOrder"]), Render.text(step["name"]), Render.text(step["status"]), Render.text(step["attempts"]),
                      Render.text(step["exitCode"]), Render.text(step["startedAt"]), Render.text(step["finishedAt"]), Render.text(step["error"]))
        }
        out += "\n" + table.render()
        return out
    }
}
