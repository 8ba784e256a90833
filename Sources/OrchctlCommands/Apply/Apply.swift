import ArgumentParser
import OrchestratorClient
import OrchestratorModel
import OrchestratorProtocol

struct Apply: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create or update workflows from YAML or JSON files (idempotent).",
        discussion: """
            Each workflow is a mapping: name, description, steps. If no workflow of that \
            name exists it is created; if it exists and differs it is updated (only if \
            nobody changed it meanwhile); if it is the same, nothing happens. The output of \
            'orchctl -o json workflow get' is accepted too. A YAML file may hold several \
            workflows ('---' between them); a directory stands for its *.yaml, *.yml and \
            *.json files, in name order. They are applied in that order, and the first that \
            fails stops the rest (the ones before it stay applied).

            The start of examples/interface-health.yaml:
              name: interface-health
              description: interface health check with retries (the stand-in link is down on the first try)
              steps:
                - name: link-up
                  executionOrder: 0
                  timeoutSeconds: 10
                  retries: 3
                  retryDelaySeconds: 1
                  idempotent: true
                  action:
                    exec: ["{{params.tools}}/fake-device", link, "{{params.device}}", "{{params.iface}}"]

            With --dry-run nothing is changed: orchctl prints what would change, step by step \
            (as 'orchctl workflow diff' does), and exits like diff(1): 0 when nothing would \
            change, 2 when something would (including a workflow that would be created), \
            anything else when it could not tell.

            Examples:
              orchctl apply -f examples/vlan-rollout.yaml
              orchctl apply -f examples/vlan-rollout.yaml --dry-run
              orchctl apply -f workflows/ --dry-run     # every *.yaml, *.yml, *.json in it
              cat wf.json | orchctl apply -f -
            """
    )

    @OptionGroup var global: GlobalOptions
    @Option(name: [.customShort("f"), .customLong("file")], help: ArgumentHelp("A workflow file, a directory of them, or - for stdin.", valueName: "FILE|DIR"), completion: Completions.workflowFiles)
    var file: String
    @Flag(help: "Change nothing: show what would change; exit 0 if nothing would, 2 if something would.") var dryRun = false

    func run() throws {
        try reporting {
            let documents: [WorkflowFile.Document]
            do {
                documents = try WorkflowFile.readAll(file)
            } catch let problem as WorkflowFile.Problem {
                throw Failure(message: problem.description, code: 1)
            }
            // Every document named, and no name twice, before anything is changed.
            var seen: [String: String] = [:]
            for document in documents {
                guard let name = document.value["name"]?.stringValue else {
                    throw Failure(message: "\(document.source): the workflow needs a 'name'", code: 4)
                }
                if let first = seen[name] { throw Failure(message: "workflow \(name) is defined twice: in \(first) and in \(document.source)", code: 4) }
                seen[name] = document.source
            }
            // Every document read and checked by the daemon's rules before anything is changed.
            let checked = try documents.map { document in (document, try Self.checked(Self.definition(of: document), document)) }
            let connection = try global.connect()
            // In order; the first that fails stops the rest (those before it are applied).
            var wouldChange = false
            for (document, draft) in checked {
                wouldChange = try apply(document, draft, connection) || wouldChange
            }
            if dryRun && wouldChange { throw ExitCode(2) }
        }
    }

    /// Creates, updates or leaves alone one workflow; with --dry-run, shows
    /// what would change instead, and says whether anything would.
    /// The document as a definition: what `workflow get` adds (id, version, times) left out.
    static func definition(of document: WorkflowFile.Document) -> [String: JSONValue] {
        var definition = document.value.objectValue ?? [:]
        for key in ["id", "version", "createdAt", "updatedAt", "updatedBy"] { definition[key] = nil }
        return definition
    }

    private func apply(_ document: WorkflowFile.Document, _ draft: WorkflowDraft, _ connection: RPCConnection) throws -> Bool {
        let name = document.value["name"]?.stringValue ?? ""
        let current: RPCReply<Workflow>?
        do {
            current = try GlobalOptions.call(connection, RPCMethods.workflowGet, WorkflowGetParams(.name(name)))
        } catch let failure as Failure where failure.code == 3 {
            current = nil
        }
        var definition = Self.definition(of: document)
        if dryRun { return try preview(draft, exists: current != nil, connection) }
        guard let current else {
            let created = try GlobalOptions.call(connection, RPCMethods.workflowCreate, draft)
            global.emit(created) { "workflow \(name) created (version \($0.version))\n" }
            return true
        }
        if Self.sameDefinition(JSONValue.object(definition), current.result) {
            global.emit(current) { "workflow \(name) unchanged (version \($0.version))\n" }
            return false
        }
        // The whole definition replaces the stored one, and only if nobody changed it since it was read.
        definition["expectedVersion"] = nil
        var update = try Self.read { () throws(RPCError) in try WorkflowUpdateParams(params: ParamReader(definition)) }
        update.changes.description = update.changes.description ?? ""
        update.changes.steps = update.changes.steps ?? []
        update.changes.locks = update.changes.locks ?? []
        update.changes.secretParams = update.changes.secretParams ?? []
        // The file says the whole definition: no window there unbinds one.
        update.changes.window = .some(update.changes.window ?? nil)
        update.changes.expectedVersion = current.result.version
        let updated = try GlobalOptions.call(connection, RPCMethods.workflowUpdate, update)
        global.emit(updated) { "workflow \(name) updated (version \($0.version))\n" }
        return true
    }

    /// Prints what applying `draft` would change; true when anything would.
    private func preview(_ draft: WorkflowDraft, exists: Bool, _ connection: RPCConnection) throws -> Bool {
        guard exists else {
            global.emit(json: ["workflow": .string(draft.name), "create": true, "changed": true, "definition": .object(draft.paramsJSON)]) {
                "workflow \(draft.name) would be created with \(draft.steps.count) step\(draft.steps.count == 1 ? "" : "s"): "
                    + (draft.steps.isEmpty ? "-" : draft.steps.sorted { ($0.executionOrder, $0.name) < ($1.executionOrder, $1.name) }.map(\.name).joined(separator: ", "))
                    + "\n"
            }
            return true
        }
        let diff = try GlobalOptions.call(connection, RPCMethods.workflowDiff, WorkflowDiffParams(name: draft.name, definition: draft))
        global.emit(diff, table: Render.diff)
        return !diff.result.isEmpty
    }

    /// The definition read as the daemon reads it, and checked by its
    /// rules; or every problem of the file at once, each at its line and
    /// column (exit 4): of names and types, and of the rules where what
    /// they judge was read. Nothing is sent before it passes.
    static func checked(_ definition: [String: JSONValue], _ document: WorkflowFile.Document) throws -> WorkflowDraft {
        let (draft, typeProblems) = ParamReader.readingAllWithProblems(definition) { (reader) throws(RPCError) in try WorkflowDraft(params: reader) }
        var problems = typeProblems.map { (field: $0.field, message: $0.message) }
        if let draft {
            do {
                try draft.validate()
            } catch {
                var ruleProblems = [FieldError(field: "", message: error.message)]
                if case .validationFailed(let each) = error.kind { ruleProblems = each }
                // What could not be read holds a placeholder: the rules' word on it (or inside it) is left out.
                let unread = typeProblems.filter { !$0.text.hasPrefix("invalid params: unknown parameter") }.map(\.field)
                problems += ruleProblems.filter { rule in !unread.contains { Self.field(rule.field, isIn: $0) } }.map { ($0.field, $0.message) }
            }
        }
        if let draft, problems.isEmpty { return draft }
        let located = problems.enumerated().map { offset, problem in
            (offset: offset, at: document.position(of: problem.field), problem: problem)
        }.sorted { Self.order($0.at, $0.offset).lexicographicallyPrecedes(Self.order($1.at, $1.offset)) }
        let lines = located.map { item in
            "  " + (item.at.map { "\($0): " } ?? "") + (item.problem.field.isEmpty ? "" : "\(item.problem.field): ") + item.problem.message
        }
        let count = problems.count == 1 ? "a problem" : "\(problems.count) problems"
        throw Failure(message: "\(document.source): \(count), nothing was changed:\n" + lines.joined(separator: "\n"), code: 4)
    }

    /// Whether `field` is `outer` or inside it (`steps[1].action.exec` is in `steps[1].action`).
    private static func field(_ field: String, isIn outer: String) -> Bool {
        field == outer || field.hasPrefix(outer + ".") || field.hasPrefix(outer + "[")
    }

    /// Problems in file order (line, then column), those without a position last, in the order found.
    private static func order(_ at: String?, _ offset: Int) -> [Int] {
        let numbers = at.map { $0.split(separator: ":").suffix(2).compactMap { Int($0) } } ?? []
        return numbers.count == 2 ? numbers + [offset] : [Int.max, Int.max, offset]
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
        guard desired["window"]?.stringValue == current.window else { return false }
        guard (desired["secretParams"]?.arrayValue ?? []).compactMap(\.stringValue) == current.secretParams else { return false }
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
