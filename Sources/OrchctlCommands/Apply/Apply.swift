import ArgumentParser
import OrchestratorModel
import OrchestratorProtocol

struct Apply: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create or update a workflow from a YAML or JSON file (idempotent).",
        discussion: """
            The file holds one workflow: name, description, steps. If no workflow of that \
            name exists it is created; if it exists and differs it is updated (only if \
            nobody changed it meanwhile); if it is the same, nothing happens. The output of \
            'orchctl -o json workflow get' is accepted too.

            Example file (examples/interface-health.yaml):
              name: interface-health
              description: check an interface, with retries
              steps:
                - name: link
                  executionOrder: 0
                  retries: 3
                  action:
                    exec: [/bin/sh, -c, 'test "$ORCH_PARAM_IFACE" = lo']

            Examples:
              orchctl apply -f examples/vlan-rollout.yaml
              cat wf.json | orchctl apply -f -
            """
    )

    @OptionGroup var global: GlobalOptions
    @Option(name: [.customShort("f"), .customLong("file")], help: ArgumentHelp("The workflow file, or - for stdin.", valueName: "FILE"))
    var file: String

    func run() throws {
        try reporting {
            let desired: JSONValue
            do {
                desired = try WorkflowFile.read(file)
            } catch let problem as WorkflowFile.Problem {
                throw Failure(message: problem.description, code: 1)
            }
            guard let name = desired["name"]?.stringValue else {
                throw Failure(message: "\(file): the workflow needs a 'name'", code: 4)
            }
            let connection = try global.connect()
            let current: JSONValue?
            do {
                current = try GlobalOptions.call(connection, Method.workflowGet.rawValue, ["name": .string(name)])
            } catch let failure as Failure where failure.code == 3 {
                current = nil
            }
            var definition = desired.objectValue ?? [:]
            for key in ["id", "version", "createdAt", "updatedAt"] { definition[key] = nil }
            guard let current else {
                let created = try GlobalOptions.call(connection, Method.workflowCreate.rawValue, definition)
                global.emit(created) { "workflow \(name) created (version \(Render.text($0["version"])))\n" }
                return
            }
            if Self.sameDefinition(JSONValue.object(definition), current) {
                global.emit(current) { "workflow \(name) unchanged (version \(Render.text($0["version"])))\n" }
                return
            }
            var params = definition
            params["description"] = params["description"] ?? .string("")
            params["steps"] = params["steps"] ?? .array([])
            params["expectedVersion"] = current["version"]
            let updated = try GlobalOptions.call(connection, Method.workflowUpdate.rawValue, params)
            global.emit(updated) { "workflow \(name) updated (version \(Render.text($0["version"])))\n" }
        }
    }

    /// Compares what the daemon would store: steps through the same decoding
    /// (defaults filled in, status ignored), in execution order.
    static func sameDefinition(_ desired: JSONValue, _ current: JSONValue) -> Bool {
        guard (desired["description"]?.stringValue ?? "") == current["description"]?.stringValue else { return false }
        func steps(_ value: JSONValue) -> [Step]? {
            var out: [Step] = []
            for item in value["steps"]?.arrayValue ?? [] {
                guard let object = item.objectValue, let step = try? Step(params: ParamReader(object)) else { return nil }
                out.append(step)
            }
            return out.sorted { ($0.executionOrder, $0.name) < ($1.executionOrder, $1.name) }
        }
        guard let wanted = steps(desired), let have = steps(current) else { return false }
        return wanted == have
    }
}
