import ArgumentParser
import OrchestratorClient
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
            let current: RPCReply<Workflow>?
            do {
                current = try GlobalOptions.call(connection, RPCMethods.workflowGet, .name(name))
            } catch let failure as Failure where failure.code == 3 {
                current = nil
            }
            var definition = desired.objectValue ?? [:]
            for key in ["id", "version", "createdAt", "updatedAt"] { definition[key] = nil }
            guard let current else {
                // Read as the daemon reads workflow.create: the same -32602 errors, before anything is sent.
                let draft = try Self.read { () throws(RPCError) in try WorkflowDraft(params: ParamReader(definition)) }
                let created = try GlobalOptions.call(connection, RPCMethods.workflowCreate, draft)
                global.emit(created) { "workflow \(name) created (version \($0.version))\n" }
                return
            }
            if Self.sameDefinition(JSONValue.object(definition), current.result) {
                global.emit(current) { "workflow \(name) unchanged (version \($0.version))\n" }
                return
            }
            // The whole definition replaces the stored one, and only if nobody changed it since it was read.
            definition["expectedVersion"] = nil
            var update = try Self.read { () throws(RPCError) in try WorkflowUpdateParams(params: ParamReader(definition)) }
            update.changes.description = update.changes.description ?? ""
            update.changes.steps = update.changes.steps ?? []
            update.changes.locks = update.changes.locks ?? []
            update.changes.expectedVersion = current.result.version
            let updated = try GlobalOptions.call(connection, RPCMethods.workflowUpdate, update)
            global.emit(updated) { "workflow \(name) updated (version \($0.version))\n" }
        }
    }

    /// A file the daemon would refuse as invalid params is refused the same way.
    private static func read<T>(_ body: () throws(RPCError) -> T) throws -> T {
        do {
            return try body()
        } catch {
            throw Failure.from(error)
        }
    }

    /// Compares what the daemon would store: steps through the same decoding
    /// (defaults filled in, status ignored), in execution order.
    static func sameDefinition(_ desired: JSONValue, _ current: Workflow) -> Bool {
        guard (desired["description"]?.stringValue ?? "") == current.description else { return false }
        guard (desired["locks"]?.arrayValue ?? []).compactMap(\.stringValue) == current.locks else { return false }
        var wanted: [Step] = []
        for item in desired["steps"]?.arrayValue ?? [] {
            guard let object = item.objectValue, let step = try? Step(params: ParamReader(object)) else { return false }
            wanted.append(step)
        }
        let have = current.steps.map { step in
            var definition = step
            definition.status = .pending
            return definition
        }
        func ordered(_ steps: [Step]) -> [Step] { steps.sorted { ($0.executionOrder, $0.name) < ($1.executionOrder, $1.name) } }
        return ordered(wanted) == ordered(have)
    }
}
