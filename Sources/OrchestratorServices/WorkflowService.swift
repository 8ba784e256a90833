import Foundation
import OrchestratorEngine
import OrchestratorModel
import OrchestratorStorage

/// The rules of workflows and their steps: what is valid, what may be
/// deleted, what a new workflow starts as. The store persists what this
/// decides; the JSON-RPC harness only translates.
public struct WorkflowService: Sendable {
    private let workflows: any WorkflowStore
    private let runs: any RunStore
    private let ids: any IdSource
    private let clock: any EngineClock
    /// Changes to one workflow through this service take turns: they would
    /// only race each other's version guards, and each race costs a retry
    /// of four operations (forty writers at once became 1,600 operations).
    private let turns = Turns()
    private let runAs: RunAsPolicy

    public init(workflows: any WorkflowStore, runs: any RunStore, ids: any IdSource, clock: any EngineClock, runAs: RunAsPolicy = RunAsPolicy()) {
        self.runAs = runAs
        self.workflows = workflows
        self.runs = runs
        self.ids = ids
        self.clock = clock
    }

    public func create(_ draft: WorkflowDraft, by uid: UInt32? = nil) async throws(OrchestratorError) -> Workflow {
        try await checkRunAs(draft.steps, after: draft.validate)
        let now = clock.now().milliseconds
        let workflow = Workflow(
            id: ids.next(), name: draft.name, description: draft.description,
            steps: draft.steps.map { var s = $0; s.status = .pending; return s }, locks: draft.locks,
            version: 1, createdAt: now, updatedAt: now, updatedBy: uid, window: draft.window, secretParams: draft.secretParams)
        try await workflows.createWorkflow(workflow)
        return workflow
    }

    public func get(_ key: WorkflowKey) async throws(OrchestratorError) -> Workflow {
        try await workflows.workflow(key)
    }

    public func list(limit: Int, after: String?) async throws(OrchestratorError) -> Page<Workflow> {
        try PageRequest.check(limit: limit)
        return try await workflows.listWorkflows(limit: limit, after: after)
    }

    public func update(_ name: String, _ changes: WorkflowChanges, by uid: UInt32? = nil) async throws(OrchestratorError) -> Workflow {
        try await checkRunAs(changes.steps ?? [], after: changes.validate)
        return try await revise(name, expecting: changes.expectedVersion, by: uid) { revision throws(OrchestratorError) in
            try await workflows.updateWorkflow(named: name, changes, revision)
        }
    }

    /// Refused while a run of the workflow is queued or running: its steps
    /// would lose the definition they show their statuses in.
    public func delete(_ name: String) async throws(OrchestratorError) {
        let workflow = try await workflows.workflow(.name(name))
        if try await runs.hasActiveRun(workflowId: workflow.id) {
            throw OrchestratorError.conflict("workflow '\(name)' has a run in progress; cancel it or wait for it to end", details: ["name": name])
        }
        try await workflows.deleteWorkflow(named: name)
    }

    public func addStep(_ step: Step, to workflow: String, by uid: UInt32? = nil) async throws(OrchestratorError) -> Workflow {
        var v = Validator()
        v.merge(step.problems(at: "step"))
        try v.check()
        try await checkRunAs([step], at: "step")
        return try await revise(workflow, by: uid) { revision throws(OrchestratorError) in
            try await workflows.addStep(step, toWorkflow: workflow, revision)
        }
    }

    public func step(_ name: String, of workflow: String) async throws(OrchestratorError) -> Step {
        try await workflows.step(named: name, inWorkflow: workflow)
    }

    public func steps(of workflow: String) async throws(OrchestratorError) -> [Step] {
        try await workflows.steps(inWorkflow: workflow)
    }

    /// The step as changed must be valid as a whole (an approval step keeps no action, locks or retries).
    public func updateStep(_ name: String, of workflow: String, _ changes: StepChanges, by uid: UInt32? = nil) async throws(OrchestratorError) -> Workflow {
        try changes.validate()
        var v = Validator()
        let changed = changes.applied(to: try await workflows.step(named: name, inWorkflow: workflow))
        v.merge(changed.problems(at: "step"))
        try v.check()
        try await checkRunAs([changed], at: "step")
        return try await revise(workflow, by: uid) { revision throws(OrchestratorError) in
            try await workflows.updateStep(named: name, inWorkflow: workflow, changes, revision)
        }
    }

    public func deleteStep(_ name: String, of workflow: String, by uid: UInt32? = nil) async throws(OrchestratorError) -> Workflow {
        try await revise(workflow, by: uid) { revision throws(OrchestratorError) in
            try await workflows.deleteStep(named: name, fromWorkflow: workflow, revision)
        }
    }

    /// Every change keeps the version it replaces first, then applies only
    /// to that version: the kept copy is exactly what was replaced, whatever
    /// runs concurrently, and a crash between the two leaves a true record.
    /// Without an expected version, a change that lost a race to another is
    /// based on the newer version and tried again (a few times: each loss
    /// means another change landed).
    private func revise(
        _ name: String, expecting expected: Int? = nil, by uid: UInt32?,
        _ write: (WorkflowRevision) async throws(OrchestratorError) -> Workflow
    ) async throws(OrchestratorError) -> Workflow {
        await turns.take(name)
        do {
            let revised = try await reviseInTurn(name, expecting: expected, by: uid, write)
            await turns.give(name)
            return revised
        } catch {
            await turns.give(name)
            throw error
        }
    }

    /// Another daemon's change may still come between: the version guard
    /// catches it, and the change is tried again on the newer version.
    private func reviseInTurn(
        _ name: String, expecting expected: Int?, by uid: UInt32?,
        _ write: (WorkflowRevision) async throws(OrchestratorError) -> Workflow
    ) async throws(OrchestratorError) -> Workflow {
        var attempt = 0
        while true {
            attempt += 1
            let current = try await workflows.workflow(.name(name))
            if let expected, expected != current.version {
                throw OrchestratorError.versionConflict(name, expected: expected, current: current.version)
            }
            try await workflows.keepVersion(current)
            do {
                return try await write(WorkflowRevision(basedOn: current.version, by: uid))
            } catch where error.isVersionConflict && expected == nil && attempt < Self.racesBeforeGivingUp {
                continue
            }
        }
    }

    private static let racesBeforeGivingUp = 64

    // MARK: - Versions

    /// The workflow as it was at `version`: the current one, or a kept one.
    public func get(_ key: WorkflowKey, version: Int?) async throws(OrchestratorError) -> Workflow {
        try await workflows.workflow(key, atVersion: version)
    }

    /// Newest first, from the current version (or below `before`), each with
    /// what it changed from the one before it.
    public func history(_ name: String, limit: Int, before: Int?) async throws(OrchestratorError) -> Page<WorkflowHistoryEntry> {
        var v = Validator()
        v.require(Limits.pageSize.contains(limit), "limit", "must be between \(Limits.pageSize.lowerBound) and \(Limits.pageSize.upperBound)")
        if let before { v.require(before >= 2, "after", "must be the previous page's next (a version, 2 or more)") }
        try v.check()
        let current = try await workflows.workflow(.name(name))
        var versions: [Workflow] = before == nil || before! > current.version ? [current.definition] : []
        let wanted = limit + 1 - versions.count
        versions += try await workflows.keptVersions(workflowId: current.id, before: min(before ?? current.version, current.version), limit: wanted)
        // The one past the page is read only to say what the page's last entry changed.
        var entries: [WorkflowHistoryEntry] = []
        for (index, workflow) in versions.prefix(limit).enumerated() {
            let previous = versions.indices.contains(index + 1) ? versions[index + 1] : nil
            let changes: [String]
            if let previous, previous.version == workflow.version - 1 {
                changes = WorkflowDiff(from: previous, to: workflow, toVersion: workflow.version).summary
            } else {
                changes = workflow.version == 1 ? ["created"] : ["(version \(workflow.version - 1) is not on record)"]
            }
            entries.append(WorkflowHistoryEntry(
                version: workflow.version, name: workflow.name, updatedAt: workflow.updatedAt, updatedBy: workflow.updatedBy, changes: changes))
        }
        let next = versions.count > limit ? entries.last.map { String($0.version) } : nil
        return Page(items: entries, next: next)
    }

    /// From version `from` to version `to` (default: the current one), or
    /// from the current version to `draft` (what `apply` would change).
    public func diff(_ name: String, from: Int?, to: Int?, draft: WorkflowDraft?) async throws(OrchestratorError) -> WorkflowDiff {
        if let draft {
            var v = Validator()
            v.require(from == nil && to == nil, "definition", "give either from/to or a definition, not both")
            try v.check()
            try draft.validate()
            let current = try await workflows.workflow(.name(name))
            let proposed = Workflow(
                id: current.id, name: draft.name, description: draft.description, steps: draft.steps, locks: draft.locks,
                version: current.version + 1, createdAt: current.createdAt, updatedAt: current.updatedAt, window: draft.window,
                secretParams: draft.secretParams)
            return WorkflowDiff(from: current.definition, to: proposed.definition, toVersion: nil)
        }
        guard let from else { throw OrchestratorError.validation([FieldError(field: "from", message: "is required (or give a definition)")]) }
        let current = try await workflows.workflow(.name(name))
        var v = Validator()
        v.merge(WorkflowVersionRule.problems(from, "from", of: current))
        if let to { v.merge(WorkflowVersionRule.problems(to, "to", of: current)) }
        try v.check()
        let old = try await get(.name(name), version: from)
        let new = try await get(.name(name), version: to ?? current.version)
        return WorkflowDiff(from: old.definition, to: new.definition, toVersion: new.version)
    }
}

/// The paging rules every listing shares.
extension WorkflowService {
    /// Steps that run as a user this daemon does not allow (or that does
    /// not exist) are refused, with every other problem `validate` finds.
    func checkRunAs(
        _ steps: [Step], at field: String = "steps", after validate: () throws(OrchestratorError) -> Void = {}
    ) async throws(OrchestratorError) {
        var v = Validator()
        do {
            try validate()
        } catch {
            guard case .validationFailed(let problems) = error.kind else { throw error }
            v.merge(problems)
        }
        v.merge(await runAs.problems(steps, at: field))
        try v.check()
    }
}

enum PageRequest {
    static func check(limit: Int, after: String? = nil, afterIsRunId: Bool = false) throws(OrchestratorError) {
        var v = Validator()
        v.require(Limits.pageSize.contains(limit), "limit", "must be between \(Limits.pageSize.lowerBound) and \(Limits.pageSize.upperBound)")
        if afterIsRunId, let after { v.require(ObjectIdRule.isValid(after), "after", "must be a run id (the previous page's next)") }
        try v.check()
    }
}

/// One turn at a time per key, first come first served.
actor Turns {
    /// Present while a key's turn is taken; the tasks waiting for it, in order.
    private var waiting: [String: [CheckedContinuation<Void, Never>]] = [:]

    func take(_ key: String) async {
        guard waiting[key] != nil else {
            waiting[key] = []
            return
        }
        await withCheckedContinuation { waiting[key, default: []].append($0) }
    }

    func give(_ key: String) {
        guard var queue = waiting[key] else { return }
        if queue.isEmpty {
            waiting[key] = nil
        } else {
            let next = queue.removeFirst()
            waiting[key] = queue
            next.resume()
        }
    }
}
