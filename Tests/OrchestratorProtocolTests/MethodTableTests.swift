import Foundation
import OrchestratorModel
import Testing
@testable import OrchestratorProtocol

/// The typed table: one entry per method, params that survive the trip
/// client → wire → daemon, results that survive daemon → wire → client, and
/// the daemon's -32602 messages unchanged.
@Suite struct MethodTableTests {
    /// Every static member of `RPCMethods`, listed by hand, so a member that
    /// points at the wrong `Method` case (or twice at one) is caught.
    static let members: [any AnyRPCMethod] = [
        RPCMethods.workflowCreate, RPCMethods.workflowGet, RPCMethods.workflowList, RPCMethods.workflowUpdate,
        RPCMethods.workflowDelete, RPCMethods.workflowHistory, RPCMethods.workflowDiff, RPCMethods.stepAdd, RPCMethods.stepGet, RPCMethods.stepList, RPCMethods.stepUpdate,
        RPCMethods.stepDelete, RPCMethods.runStart, RPCMethods.runGet, RPCMethods.runList, RPCMethods.runCancel,
        RPCMethods.runResume, RPCMethods.runWatch, RPCMethods.runFollow, RPCMethods.runResolve, RPCMethods.runTarget, RPCMethods.targetCreate, RPCMethods.targetGet,
        RPCMethods.targetList, RPCMethods.targetUpdate, RPCMethods.targetDelete, RPCMethods.targetImport, RPCMethods.daemonStatus, RPCMethods.metricsGet,
        RPCMethods.runApprove, RPCMethods.runReject, RPCMethods.scheduleCreate, RPCMethods.scheduleGet, RPCMethods.scheduleList,
        RPCMethods.scheduleUpdate, RPCMethods.scheduleDelete, RPCMethods.windowCreate, RPCMethods.windowGet, RPCMethods.windowList,
        RPCMethods.windowUpdate, RPCMethods.windowDelete, RPCMethods.secretSet, RPCMethods.secretList, RPCMethods.secretDelete,
    ]

    @Test func everyMethodHasExactlyOneEntry() {
        #expect(Self.members.count == Method.allCases.count)
        for method in Method.allCases {
            #expect(Self.members.filter { $0.method == method }.count == 1, "\(method)")
            #expect(method.typed.method == method, "\(method)")
        }
        #expect(RPCMethods.workflowGet.name == "workflow.get")
        #expect(RPCMethods.runCancel.mutates)
        #expect(!RPCMethods.runWatch.mutates)
        #expect(!RPCMethods.runFollow.mutates)
        // Listing secrets changes nothing, but only admins may, and it is audited.
        #expect(!Method.secretList.mutates && Method.allCases.filter { $0.rawValue.hasPrefix("secret.") }.allSatisfy(\.restricted))
        #expect(RPCNotifications.runEvent.name == "run.event")
    }

    // MARK: Params

    static let step = Step(
        name: "push", description: "push the VLAN", executionOrder: 2,
        action: Action(exec: ["/usr/local/bin/push", "{{params.vlan}}"], env: ["MODE": "safe"], cwd: "/var/tmp"),
        timeoutSeconds: 30, retries: 2, retryDelaySeconds: 5, continueOnFailure: true, idempotent: true)
    static let bareStep = Step(name: "ping", executionOrder: 0, action: Action(exec: ["/bin/true"]))

    /// At least one sample of params for every method.
    static let paramSamples: [(Method, any RPCParams)] = [
        (.workflowCreate, WorkflowDraft(name: "vlan", description: "VLAN 120")),
        (.workflowCreate, WorkflowDraft(name: "vlan", description: "", steps: [step, bareStep])),
        (.workflowCreate, WorkflowDraft(name: "vlan", steps: [Step(name: "push", executionOrder: 0, action: Action(exec: ["/bin/true"]), locks: ["device:{{target.name}}"])],
                                        locks: ["site:{{params.site}}"])),
        (.workflowUpdate, WorkflowUpdateParams(name: "vlan", changes: WorkflowChanges(locks: []))),
        (.stepUpdate, StepUpdateParams(workflow: "vlan", name: "push", changes: StepChanges(locks: ["a", "b"]))),
        (.workflowGet, WorkflowGetParams(.name("vlan"))),
        (.workflowGet, WorkflowGetParams(.id("65a1b2c3d4e5f60718293a4b"))),
        (.workflowGet, WorkflowGetParams(.name("vlan"), version: 2)),
        (.workflowHistory, WorkflowHistoryParams(name: "vlan")),
        (.workflowHistory, WorkflowHistoryParams(name: "vlan", limit: 5, after: 7)),
        (.workflowDiff, WorkflowDiffParams(name: "vlan", from: 1, to: 3)),
        (.workflowDiff, WorkflowDiffParams(name: "vlan", from: 2)),
        (.workflowDiff, WorkflowDiffParams(name: "vlan", definition: WorkflowDraft(name: "vlan", steps: [step]))),
        (.runStart, RunStartParams(workflow: "vlan", version: 4)),
        (.workflowList, WorkflowListParams()),
        (.workflowList, WorkflowListParams(limit: 5, after: "core")),
        (.workflowUpdate, WorkflowUpdateParams(name: "vlan", changes: WorkflowChanges(name: "vlan2", description: "d", expectedVersion: 3))),
        (.workflowUpdate, WorkflowUpdateParams(name: "vlan", changes: WorkflowChanges(description: "", steps: [], expectedVersion: 1))),
        (.workflowUpdate, WorkflowUpdateParams(name: "vlan", changes: WorkflowChanges(steps: [step]))),
        (.workflowDelete, WorkflowDeleteParams(name: "vlan")),
        (.stepAdd, StepAddParams(workflow: "vlan", step: step)),
        (.stepAdd, StepAddParams(workflow: "vlan", step: bareStep)),
        (.stepGet, StepKey(workflow: "vlan", name: "push")),
        (.stepList, StepListParams(workflow: "vlan")),
        (.stepUpdate, StepUpdateParams(workflow: "vlan", name: "push", changes: StepChanges(timeoutSeconds: .some(nil)))),
        (.stepUpdate, StepUpdateParams(workflow: "vlan", name: "push", changes: StepChanges(
            name: "push2", description: "x", executionOrder: 4, action: Action(exec: ["/bin/false"], cwd: "/"), timeoutSeconds: 9,
            retries: 1, retryDelaySeconds: 0, continueOnFailure: false, idempotent: true))),
        (.stepDelete, StepKey(workflow: "vlan", name: "push")),
        (.runStart, RunStartParams(workflow: "vlan")),
        (.runStart, RunStartParams(workflow: "vlan", params: ["vlan": "120", "switch": "sw1"])),
        (.runGet, RunKey(id: "65a1b2c3d4e5f60718293a4b")),
        (.runList, RunListParams()),
        (.runList, RunListParams(workflow: "vlan", status: .failed, limit: 7, after: "65a1b2c3d4e5f60718293a4b")),
        (.runList, RunListParams(since: Date(timeIntervalSince1970: 1_764_700_000.25))),
        (.runCancel, RunKey(id: "65a1b2c3d4e5f60718293a4b")),
        (.runResume, RunResumeParams(id: "65a1b2c3d4e5f60718293a4b")),
        (.runResume, RunResumeParams(id: "65a1b2c3d4e5f60718293a4b", params: ["enable": "s3cret"])),
        (.secretSet, SecretSetParams(name: "enable", value: "line one\nline two\n")),
        (.secretList, WorkflowListParams(limit: 10, after: "a")),
        (.secretDelete, NameParams(name: "enable")),
        (.workflowCreate, WorkflowDraft(name: "login", steps: [
            Step(name: "login", executionOrder: 0, action: Action(exec: ["/bin/login", "{{secrets.pw}}"]), secrets: ["token"], runAs: RunAs(user: "netops", group: "backup")),
        ], secretParams: ["enable"])),
        (.workflowUpdate, WorkflowUpdateParams(name: "login", changes: WorkflowChanges(secretParams: ["enable"]))),
        (.stepUpdate, StepUpdateParams(workflow: "login", name: "login", changes: StepChanges(secrets: ["token"], runAs: .some(nil)))),
        (.stepUpdate, StepUpdateParams(workflow: "login", name: "login", changes: StepChanges(runAs: RunAs(user: "netops")))),
        (.runWatch, RunWatchParams(id: "65a1b2c3d4e5f60718293a4b")),
        (.runWatch, RunWatchParams(id: "65a1b2c3d4e5f60718293a4b", fromSequence: 12)),
        (.runFollow, RunFollowParams(id: "65a1b2c3d4e5f60718293a4b")),
        (.runResolve, RunResolveParams(ref: "65a1b2")),
        (.runResolve, RunResolveParams(ref: "last", workflow: "vlan")),
        (.runFollow, RunFollowParams(id: "65a1b2c3d4e5f60718293a4b", step: "push", target: "leaf1", attempt: 2)),
        (.runStart, RunStartParams(workflow: "vlan", params: ["vlan": "120"], targets: .labels(["site": "ams"]), batchSize: .percent(25), maxFailPercentage: 5)),
        (.runStart, RunStartParams(workflow: "vlan", targets: .names(["leaf01", "leaf02"]), batchSize: .count(1))),
        (.runTarget, RunTargetParams(id: "65a1b2c3d4e5f60718293a4b", target: "leaf01")),
        (.targetCreate, TargetDraft(name: "leaf01", labels: ["site": "ams", "group": "leaf,canary"], vars: ["ansible_host": "10.0.0.1"])),
        (.targetCreate, TargetDraft(name: "bare")),
        (.targetGet, TargetKey(name: "leaf01")),
        (.targetList, TargetListParams()),
        (.targetList, TargetListParams(selector: .labels(["site": "ams"]), limit: 10, after: "leaf01")),
        (.targetList, TargetListParams(selector: .names(["a", "b"]))),
        (.targetUpdate, TargetUpdateParams(name: "leaf01", changes: TargetChanges(name: "leaf1", labels: ["site": nil], vars: ["asn": "65001"]))),
        (.targetDelete, TargetKey(name: "leaf01")),
        (.targetImport, TargetImportParams(format: "ansible-yaml", content: "all:\n  hosts:\n    a:\n", dryRun: true)),
        (.daemonStatus, NoParams()),
        (.metricsGet, NoParams()),
        (.runApprove, RunDecisionParams(id: "65a1b2c3d4e5f60718293a4b", step: "change-board", comment: "CAB-1234")),
        (.runReject, RunDecisionParams(id: "65a1b2c3d4e5f60718293a4b", step: "change-board")),
        (.scheduleCreate, ScheduleDraft(name: "nightly", workflow: "backup", cron: "30 2 * * *")),
        (.scheduleCreate, ScheduleDraft(
            name: "weekly", workflow: "vlan", cron: "0 22 * * sat", timezone: "Europe/Berlin", params: ["vlan": "120"], targets: .labels(["site": "ams"]),
            batchSize: .percent(25), maxFailPercentage: 10, enabled: false, missed: .runOnce, window: "sat-night")),
        (.scheduleGet, NameParams(name: "nightly")),
        (.scheduleList, NamedListParams(limit: 5, after: "a")),
        (.scheduleUpdate, ScheduleUpdateParams(name: "nightly", changes: ScheduleChanges(enabled: false))),
        (.scheduleUpdate, ScheduleUpdateParams(name: "nightly", changes: ScheduleChanges(cron: "@daily", targets: .some(nil), window: .some(nil)))),
        (.scheduleDelete, NameParams(name: "nightly")),
        (.windowCreate, WindowDraft(name: "sat-night", cron: "0 22 * * sat", timezone: "Europe/Berlin", durationMinutes: 240)),
        (.windowGet, NameParams(name: "sat-night")),
        (.windowList, NamedListParams()),
        (.windowUpdate, WindowUpdateParams(name: "sat-night", durationMinutes: 180)),
        (.windowDelete, NameParams(name: "sat-night")),
        (.workflowUpdate, WorkflowUpdateParams(name: "vlan", changes: WorkflowChanges(window: .some(nil)))),
        (.workflowCreate, WorkflowDraft(name: "vlan", window: "sat-night")),
        (.workflowCreate, WorkflowDraft(name: "vlan", steps: [
            Step(name: "board", executionOrder: 0, action: Action(exec: []), approval: Approval(approvers: 2, group: "netops", notStarter: false, timeoutSeconds: 60)),
            Step(name: "push", executionOrder: 1, action: Action(exec: ["/bin/push"]), rollback: Action(exec: ["/bin/restore"], env: ["A": "1"])),
        ])),
    ]

    @Test func everyMethodHasParamSamples() {
        #expect(Set(Self.paramSamples.map(\.0)) == Set(Method.allCases))
    }

    @Test func paramsSurviveTheTripToTheDaemon() throws {
        for (method, params) in Self.paramSamples {
            let wire = params.paramsJSON
            // Through the bytes, as the daemon gets them.
            let received = try JSONCoding.parse(JSONCoding.serialize(.object(wire)))
            let decoded = try method.typed.decodeParams(ParamReader(received.objectValue ?? [:]))
            #expect(decoded.paramsJSON == wire, "\(method)")
            #expect(type(of: decoded) == type(of: params), "\(method)")
        }
        // And typed, where the types compare.
        try expectRoundTrip(RPCMethods.stepUpdate, StepUpdateParams(workflow: "w", name: "s", changes: StepChanges(timeoutSeconds: .some(nil))))
        try expectRoundTrip(RPCMethods.stepAdd, StepAddParams(workflow: "w", step: Self.step))
        try expectRoundTrip(RPCMethods.workflowCreate, WorkflowDraft(name: "w", steps: [Self.step, Self.bareStep]))
        try expectRoundTrip(RPCMethods.runList, RunListParams(workflow: "w", status: .cancelled, limit: 1))
        try expectRoundTrip(RPCMethods.workflowGet, WorkflowGetParams(.name("w"), version: 3))
        try expectRoundTrip(RPCMethods.workflowHistory, WorkflowHistoryParams(name: "w", limit: 2, after: 9))
        try expectRoundTrip(RPCMethods.workflowDiff, WorkflowDiffParams(name: "w", definition: WorkflowDraft(name: "w", steps: [Self.step])))
        try expectRoundTrip(RPCMethods.runStart, RunStartParams(workflow: "w", version: 2))
        try expectRoundTrip(RPCMethods.workflowUpdate, WorkflowUpdateParams(name: "w", changes: WorkflowChanges(name: "v", steps: [Self.step], expectedVersion: 2)))
    }

    private func expectRoundTrip<P: RPCParams & Equatable, R>(_ method: RPCMethod<P, R>, _ params: P) throws {
        #expect(try P(params: ParamReader(params.paramsJSON)) == params, "\(method.name)")
    }

    /// What orchctl sent before the table, key for key: the table must not change the wire.
    @Test func orchctlsParamsAreTheSameBytesAsBefore() {
        #expect(WorkflowDraft(name: "w", description: "").paramsJSON == ["name": "w", "description": ""])
        #expect(WorkflowListParams(limit: 100).paramsJSON == ["limit": 100])
        #expect(WorkflowUpdateParams(name: "w", changes: WorkflowChanges(name: "v", description: "d", expectedVersion: 4)).paramsJSON
            == ["name": "w", "newName": "v", "description": "d", "expectedVersion": 4])
        #expect(StepAddParams(workflow: "w", step: Step(name: "s", executionOrder: 0, action: Action(exec: ["/bin/true"]))).paramsJSON == [
            "workflow": "w",
            "step": [
                "name": "s", "executionOrder": 0, "description": "", "retries": 0, "retryDelaySeconds": 1,
                "continueOnFailure": false, "idempotent": false, "action": ["exec": ["/bin/true"], "env": [:]],
            ],
        ])
        #expect(StepAddParams(workflow: "w", step: Self.step).paramsJSON["step"]?["timeoutSeconds"] == 30)
        #expect(StepAddParams(workflow: "w", step: Self.step).paramsJSON["step"]?["action"]?["cwd"] == "/var/tmp")
        #expect(StepUpdateParams(workflow: "w", name: "s", changes: StepChanges(executionOrder: 2, timeoutSeconds: .some(nil), retries: 1)).paramsJSON
            == ["workflow": "w", "name": "s", "executionOrder": 2, "timeoutSeconds": .null, "retries": 1])
        #expect(StepUpdateParams(workflow: "w", name: "s", changes: StepChanges(name: "t", action: Action(exec: ["/bin/x"]))).paramsJSON
            == ["workflow": "w", "name": "s", "newName": "t", "action": ["exec": ["/bin/x"], "env": [:]]])
        #expect(RunStartParams(workflow: "w").paramsJSON == ["workflow": "w", "params": [:]])
        #expect(RunListParams(limit: 100).paramsJSON == ["limit": 100])
        #expect(RunListParams(workflow: "w", status: .queued, limit: 3, after: "x").paramsJSON == ["limit": 3, "workflow": "w", "status": "queued", "after": "x"])
        #expect(RunWatchParams(id: "abc").paramsJSON == ["id": "abc"])
        #expect(NoParams().paramsJSON == [:])
        #expect(WorkflowKey.name("w").paramsJSON == ["name": "w"])
    }

    /// The daemon's -32602 messages, as its harnesses wrote them before the table.
    @Test func badParamsGetTheSameMessagesAsBefore() throws {
        let cases: [(Method, [String: JSONValue], String)] = [
            (.workflowCreate, [:], "invalid params: missing required parameter 'name'"),
            (.workflowCreate, ["name": "w", "stepz": []],
             "invalid params: unknown parameter 'stepz' (did you mean 'steps'? expected one of: createdAt, description, id, locks, name, secretParams, steps, updatedAt, updatedBy, version, window)"),
            (.workflowGet, ["name": "w", "id": "x"], "invalid params: give exactly one of 'name' or 'id'"),
            (.workflowGet, [:], "invalid params: give exactly one of 'name' or 'id'"),
            (.workflowGet, ["name": 5], "invalid params: name must be a string, got an integer"),
            (.workflowGet, ["nme": "w"], "invalid params: unknown parameter 'nme' (did you mean 'name'? expected one of: id, name, version)"),
            (.workflowGet, ["name": "w", "version": "2"], "invalid params: version must be an integer, got a string"),
            (.workflowHistory, [:], "invalid params: missing required parameter 'name'"),
            (.workflowHistory, ["name": "w", "after": "v2"], "invalid params: after must be the previous page's next (a version number as a string)"),
            (.workflowDiff, ["name": "w", "from": "1"], "invalid params: from must be an integer, got a string"),
            (.workflowDiff, ["name": "w", "definition": ["steps": []]], "invalid params: missing required parameter 'definition.name'"),
            (.workflowDiff, ["name": "w", "against": 1], "invalid params: unknown parameter 'against' (expected one of: definition, from, name, to)"),
            (.workflowList, ["limit": "10"], "invalid params: limit must be an integer, got a string"),
            (.workflowList, ["limit": 1.5], "invalid params: limit must be an integer, got a number"),
            (.workflowUpdate, ["description": "d"], "invalid params: missing required parameter 'name'"),
            (.workflowUpdate, ["name": "w", "version": 3],
             "invalid params: unknown parameter 'version' (expected one of: description, expectedVersion, locks, name, newName, secretParams, steps, window)"),
            (.workflowDelete, ["name": "w", "force": true], "invalid params: unknown parameter 'force' (expected one of: name)"),
            (.stepAdd, ["workflow": "w"], "invalid params: missing required parameter 'step'"),
            (.stepAdd, ["workflow": "w", "step": ["name": "s", "executionOrder": 0, "action": ["exec": ["/bin/true", 5]]]],
             "invalid params: step.action.exec[1] must be a string, got an integer"),
            (.stepAdd, ["workflow": "w", "step": ["name": "s", "executionOrder": 0, "action": [:]]],
             "invalid params: missing required parameter 'step.action.exec'"),
            (.stepGet, ["workflow": "w"], "invalid params: missing required parameter 'name'"),
            (.stepList, [:], "invalid params: missing required parameter 'workflow'"),
            (.stepUpdate, ["workflow": "w", "name": "s", "status": "failed"],
             "invalid params: unknown parameter 'status' (expected one of: action, approval, continueOnFailure, description, executionOrder, idempotent, locks, name, retries, retryDelaySeconds, rollback, runAs, secrets, timeoutSeconds)"),
            (.stepUpdate, ["workflow": "w", "name": "s", "timeoutSeconds": "never"],
             "invalid params: timeoutSeconds must be an integer, got a string"),
            (.stepUpdate, ["name": "s"], "invalid params: missing required parameter 'workflow'"),
            (.stepDelete, ["workflow": "w", "name": "s", "x": 1], "invalid params: unknown parameter 'x' (expected one of: name, workflow)"),
            (.runStart, ["workflow": "w", "params": ["host": 1]], "invalid params: params.host must be a string, got an integer"),
            (.runStart, ["workflow": "w", "params": ["a", "b"]], "invalid params: params must be an object of strings, got an array"),
            (.runStart, ["workflow": "w", "request": "r1"], "invalid params: unknown parameter 'request' (did you mean 'requestId'? expected one of: batchSize, maxFailPercentage, params, requestId, targets, version, workflow)"),
            (.runStart, ["workflow": "w", "batchSize": 5], "invalid params: batchSize and maxFailPercentage are for fleet runs: give targets too"),
            (.runStart, ["workflow": "w", "targets": ["names": ["a"]], "batchSize": "many"],
             "invalid params: batchSize must be a count or a percentage such as \"25%\", got \"many\""),
            (.runStart, ["workflow": "w", "targets": ["names": ["a"], "labels": [:]]], "invalid params: targets takes exactly one of 'names' or 'labels'"),
            (.targetUpdate, ["name": "t", "vars": ["a": 1]], "invalid params: vars.a must be a string (or null to remove it), got an integer"),
            (.targetImport, ["format": "ansible-yaml"], "invalid params: missing required parameter 'content'"),
            (.runStart, ["workflow": "w", "requestId": 7], "invalid params: requestId must be a string, got an integer"),
            (.runGet, [:], "invalid params: missing required parameter 'id'"),
            (.runList, ["status": "done"], "invalid params: status must be one of queued, running, succeeded, failed, cancelled"),
            (.runList, ["status": 3], "invalid params: status must be a string, got an integer"),
            (.runList, ["since": "2h"], "invalid params: since must be an RFC 3339 time such as 2026-12-01T08:00:00Z, got \"2h\""),
            (.runCancel, ["id": true], "invalid params: id must be a string, got a boolean"),
            (.runResume, ["id": .null], "invalid params: missing required parameter 'id'"),
            (.runWatch, ["id": "x", "fromSequence": "1"], "invalid params: fromSequence must be an integer, got a string"),
            (.runFollow, ["id": "x", "attempt": "2"], "invalid params: attempt must be an integer, got a string"),
            (.daemonStatus, ["verbose": true], "invalid params: unknown parameter 'verbose' (expected one of: )"),
            (.secretSet, ["name": "pw"], "invalid params: missing required parameter 'value'"),
            (.secretSet, ["name": "pw", "value": ["a"]], "invalid params: value must be a string, got an array"),
            (.runResume, ["id": "x", "params": ["enable": 1]], "invalid params: params.enable must be a string, got an integer"),
            (.stepAdd, ["workflow": "w", "step": ["name": "s", "executionOrder": 0, "action": ["exec": ["/bin/true"]], "runAs": ["uid": 0]]],
             "invalid params: unknown parameter 'step.runAs.uid' (expected one of: group, user)"),
        ]
        for (method, params, message) in cases {
            #expect(throws: RPCError.invalidParams(message), "\(method) \(params)") {
                try method.typed.decodeParams(ParamReader(params))
            }
            // As the daemon reads them (every problem at once): the same text when it is the only one, and among them otherwise.
            do {
                _ = try ParamReader.readingAll(params) { (reader) throws(RPCError) in try method.typed.decodeParams(reader) }
                Issue.record("\(method) \(params) accepted")
            } catch {
                let count = error.data?["errors"]?.arrayValue?.count ?? 0
                #expect(count == 1 ? error.message == message : error.message.contains(String(message.dropFirst("invalid params: ".count))),
                        "\(method) \(params): \(error.message)")
            }
        }
        #expect(try RunWatchParams(params: ParamReader(["id": "x", "fromSequence": -4])).fromSequence == 0)
        #expect(try WorkflowListParams(params: ParamReader([:])).limit == Limits.defaultPageSize)
        #expect(try RunListParams(params: ParamReader(["status": .null])).status == nil)
    }

    // MARK: Results

    static let created = Date(timeIntervalSince1970: 1_795_000_000.123)
    static let later = Date(timeIntervalSince1970: 1_795_000_042.5)

    static var workflow: Workflow {
        var running = step
        running.status = .running
        return Workflow(id: "65a1b2c3d4e5f60718293a4b", name: "vlan", description: "VLAN 120", steps: [running, bareStep], version: 3,
                        createdAt: created, updatedAt: later)
    }

    static var run: Run {
        Run(
            id: "65a1b2c3d4e5f60718293a4c", workflowId: "65a1b2c3d4e5f60718293a4b", workflowName: "vlan", workflowVersion: 3,
            definition: [step, bareStep], params: ["vlan": "120"], status: .failed,
            steps: [
                RunStep(name: "ping", executionOrder: 0, status: .succeeded, attempts: 1, exitCode: 0, startedAt: created, finishedAt: later, stdout: "ok\n"),
                RunStep(name: "push", executionOrder: 2, status: .timedOut, attempts: 3, error: "timed out after 30 s", stderr: "slow\n"),
            ],
            requestedBy: Requester(uid: 1000, gid: 1000, pid: 4242), createdAt: created, startedAt: created, finishedAt: later,
            cancelRequested: true,
            events: [
                RunEvent(sequence: 0, step: nil, status: "queued", at: created),
                RunEvent(sequence: 1, step: "push", status: "failed", at: later, attempt: 1, exitCode: 2, message: "exit 2"),
            ])
    }

    static var secretRun: Run {
        var secretRun = run
        secretRun.params = ["enable": "***", "vlan": "120"]
        secretRun.secrets = ["device-pw"]
        secretRun.secretParams = ["enable"]
        return secretRun
    }

    static var secretWorkflow: Workflow {
        var login = workflow
        login.secretParams = ["enable"]
        login.steps[0].secrets = ["device-pw"]
        login.steps[0].runAs = RunAs(user: "netops", group: "backup")
        return login
    }

    static let target = Target(
        id: "65a1b2c3d4e5f60718293a4d", name: "leaf01", labels: ["site": "ams", "group": "leaf,canary"], vars: ["ansible_host": "10.0.0.1"],
        createdAt: created, updatedAt: later)

    static var fleetRun: Run {
        var fleetRun = run
        fleetRun.steps = []
        var first = FleetTarget(name: "leaf01", batch: 1, runId: "65a1b2c3d4e5f60718293a4e")
        first.status = .failed
        first.steps = ["ping": .succeeded, "push": .timedOut]
        fleetRun.fleet = Fleet(
            selector: .labels(["site": "ams"]), batchSize: .percent(50), maxFailPercentage: 10,
            targets: [first, FleetTarget(name: "leaf02", batch: 2, runId: "65a1b2c3d4e5f60718293a4f")])
        fleetRun.events.append(RunEvent(sequence: 2, step: nil, status: "batch_started", at: later, message: "batch 1 of 2: 1 targets", batch: 1))
        fleetRun.events.append(RunEvent(sequence: 3, step: nil, status: "failed", at: later, target: "leaf01"))
        return fleetRun
    }

    static var member: Run {
        var member = run
        member.membership = FleetMembership(
            fleetRunId: "65a1b2c3d4e5f60718293a4c",
            target: FleetTarget(name: "leaf01", labels: ["site": "ams"], vars: ["ansible_host": "10.0.0.1"], batch: 1, runId: member.id))
        return member
    }

    /// The daemon's encoding, read by a client and written again, is unchanged.
    private func expectResultRoundTrip(_ method: any AnyRPCMethod, _ json: JSONValue, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let received = try JSONCoding.parse(JSONCoding.serialize(json))
        #expect(try method.decodeResult(received).resultJSON == json, "\(method.method)", sourceLocation: sourceLocation)
    }

    @Test func resultsSurviveTheTripToTheClient() throws {
        let status = DaemonStatus(
            version: "0.1.0", uptimeSeconds: 12, activeRuns: 1, connections: 2, watchers: 0, mongodb: "ok", pid: 77,
            socket: "/run/orchestrator/orchestratord.sock", database: "orchestrator", caller: .init(uid: 0, gid: 0, pid: 9, admin: true))
        let samples: [(Method, JSONValue)] = [
            (.workflowCreate, Self.workflow.json),
            (.workflowGet, Self.workflow.json),
            (.workflowList, ["items": [Self.workflow.json], "next": "vlan"]),
            (.workflowList, ["items": [], "next": .null]),
            (.workflowUpdate, Self.workflow.json),
            (.workflowDelete, ["deleted": true]),
            (.workflowHistory, Page(items: [
                WorkflowHistoryEntry(version: 2, name: "vlan", updatedAt: Self.created, updatedBy: 1000, changes: ["added step verify"]),
                WorkflowHistoryEntry(version: 1, name: "vlan", updatedAt: Self.created, updatedBy: nil, changes: ["created"]),
            ], next: "1").resultJSON),
            (.workflowDiff, Self.diff.resultJSON),
            (.stepAdd, Self.workflow.json),
            (.stepGet, Self.step.json),
            (.stepList, ["items": [Self.step.json, Self.bareStep.json]]),
            (.stepUpdate, Self.workflow.json),
            (.stepDelete, Self.workflow.json),
            (.runStart, Self.run.json()),
            (.runGet, Self.run.json()),
            (.runList, ["items": [Self.run.json(summary: true)], "next": "65a1b2c3d4e5f60718293a4c"]),
            (.runCancel, Self.run.json()),
            (.runResume, Self.run.json()),
            (.runWatch, Self.run.json()),
            (.runFollow, Self.run.json()),
            (.runResolve, Self.run.json()),
            (.runGet, Self.fleetRun.json()),
            (.runList, ["items": [Self.fleetRun.json(summary: true)], "next": .null]),
            (.runTarget, Self.member.json()),
            (.targetCreate, Self.target.json),
            (.targetGet, Self.target.json),
            (.targetList, ["items": [Self.target.json], "next": "leaf01"]),
            (.targetUpdate, Self.target.json),
            (.targetDelete, ["deleted": true]),
            (.targetImport, TargetImport(
                dryRun: true, created: [TargetDraft(name: "leaf02", vars: ["a": "b"])],
                updated: [.init(before: TargetDraft(name: "leaf01"), after: TargetDraft(name: "leaf01", labels: ["site": "ams"]))],
                unchanged: ["leaf03"]).resultJSON),
            (.daemonStatus, status.resultJSON),
            (.metricsGet, MetricsText(text: "# TYPE orchestrator_active_runs gauge\norchestrator_active_runs 0.0\n").resultJSON),
            (.runApprove, Self.waitingRun.json()),
            (.runReject, Self.waitingRun.json()),
            (.scheduleCreate, Self.schedule.resultJSON),
            (.scheduleGet, Self.schedule.resultJSON),
            (.scheduleList, Page(items: [Self.schedule], next: "weekly").resultJSON),
            (.scheduleUpdate, Self.schedule.resultJSON),
            (.scheduleDelete, ["deleted": true]),
            (.windowCreate, Self.window.json),
            (.windowGet, Self.window.json),
            (.windowList, ["items": [Self.window.json], "next": .null]),
            (.windowUpdate, Self.window.json),
            (.windowDelete, ["deleted": true]),
            (.secretSet, SecretRecord(name: "enable", setBy: 1000, setAt: Self.created, keyId: "0123456789abcdef").resultJSON),
            (.secretList, Page(items: [SecretRecord(name: "enable", setBy: 0, setAt: Self.later, keyId: "0123456789abcdef")], next: "enable").resultJSON),
            (.secretDelete, ["deleted": true]),
            (.runGet, Self.secretRun.json()),
            (.workflowGet, Self.secretWorkflow.json),
        ]
        #expect(Set(samples.map(\.0)) == Set(Method.allCases))
        for (method, json) in samples { try expectResultRoundTrip(method.typed, json) }

        let run = try Run(resultJSON: Self.run.json())
        #expect(run.status == .failed)
        #expect(run.steps.map(\.status) == [.succeeded, .timedOut])
        #expect(run.requestedBy == Requester(uid: 1000, gid: 1000, pid: 4242))
        #expect(run.events.map(\.runStatus) == [.queued, nil])
        #expect(run.events.map(\.stepStatus) == [nil, .failed])
        let summary = try Page<Run>(resultJSON: ["items": [Self.run.json(summary: true)], "next": .null])
        #expect(summary.items.first?.definition == [])
        #expect(summary.items.first?.steps.first?.stdout == "")
        let workflow = try Workflow(resultJSON: Self.workflow.json)
        #expect(workflow.steps.map(\.status) == [.pending, .running])
        #expect(try DaemonStatus(resultJSON: status.resultJSON) == status)
        #expect(try StepList(resultJSON: ["items": [Self.step.json]]) == StepList(items: [Self.step]))
    }

    static let window = MaintenanceWindow(
        id: "65a1b2c3d4e5f60718293a4d", name: "sat-night", cron: "0 22 * * sat", timezone: "Europe/Berlin", durationMinutes: 240,
        createdAt: created, updatedAt: created)

    static let schedule = ScheduleView(
        Schedule(
            id: "65a1b2c3d4e5f60718293a4e", name: "weekly", workflow: "vlan", cron: "0 22 * * sat", timezone: "Europe/Berlin", params: ["vlan": "120"],
            targets: .labels(["site": "ams"]), batchSize: .percent(25), maxFailPercentage: 10, missed: .runOnce, window: "sat-night",
            createdAt: created, updatedAt: created, nextFireAt: created, lastFireAt: created, lastRunId: "65a1b2c3d4e5f60718293a4c"),
        upcoming: [created, created.addingTimeInterval(604_800)])

    /// A run that waits for approval and rolled a step back.
    static var waitingRun: Run {
        var waiting = run
        waiting.definition.append(Step(name: "board", executionOrder: 9, action: Action(exec: []), approval: Approval(group: "netops", timeoutSeconds: 60)))
        waiting.steps.append(RunStep(
            name: "board", executionOrder: 9, status: .waitingApproval, attempts: 1, startedAt: created,
            decisions: [ApprovalDecision(runId: "", step: "board", attempt: 1, uid: 1000, approved: true, comment: "ok", at: created)]))
        waiting.window = window
        waiting.schedule = "weekly"
        waiting.windowWait = WindowWait(window: "sat-night", opensAt: created)
        waiting.steps[0].status = .rolledBack
        waiting.steps[0].rollback = RollbackRecord(startedAt: created, finishedAt: created, exitCode: 0, stdout: "restored\n")
        return waiting
    }

    static let diff = WorkflowDiff(
        workflow: "vlan", from: 1, to: nil, fields: [FieldChange(field: "description", from: "", to: "VLAN 120")],
        steps: [
            StepDiff(step: "push", change: .changed, fields: [FieldChange(field: "timeoutSeconds", from: nil, to: "30")]),
            StepDiff(step: "check", change: .renamed, renamedFrom: "verify"),
            StepDiff(step: "backup", change: .removed),
        ])

    @Test func diffsAndHistoryReadBackAsSent() throws {
        #expect(try WorkflowDiff(resultJSON: Self.diff.resultJSON) == Self.diff)
        #expect(Self.diff.resultJSON["changed"] == true)
        var withUid = Self.workflow
        withUid.updatedBy = 1000
        #expect(try Workflow(resultJSON: withUid.json).updatedBy == 1000)
        let waiting = try Run(resultJSON: Self.waitingRun.json())
        #expect(waiting.steps.last?.decisions.map(\.uid) == [1000])
        #expect(waiting.definition.last?.approval == Approval(group: "netops", timeoutSeconds: 60))
        #expect(waiting.steps.first?.rollback?.stdout == "restored\n")
        #expect(Self.waitingRun.json()["rollback"] == ["status": "succeeded"])
        // Times compare as the wire writes them, to the millisecond.
        #expect(waiting.window?.json == Self.window.json)
        #expect(waiting.windowWait?.window == "sat-night")
        #expect(waiting.windowWait?.opensAt.map(RFC3339.format) == RFC3339.format(Self.created))
        #expect(try ScheduleView(resultJSON: Self.schedule.resultJSON).resultJSON == Self.schedule.resultJSON)
        #expect(try ScheduleView(resultJSON: Self.schedule.resultJSON).schedule.targets == .labels(["site": "ams"]))
    }

    @Test func runEventNotificationsRoundTrip() throws {
        for event in Self.run.events {
            let json = event.json(runId: Self.run.id)
            let notification = try RunEventNotification(notificationJSON: json)
            #expect(notification.runId == Self.run.id)
            #expect(notification.notificationJSON == json)
        }
    }

    @Test func runOutputNotificationsRoundTrip() throws {
        for line in [
            OutputLine(runId: Self.run.id, step: "push", attempt: 2, stream: "stderr", text: "ünïcode \"quoted\""),
            OutputLine(runId: Self.run.id, target: "leaf1", step: "push", attempt: 1, stream: "stdout", text: ""),
        ] {
            for kept in [false, true] {
                let sent = RunOutputNotification(line: line, kept: kept)
                #expect(try RunOutputNotification(notificationJSON: sent.notificationJSON) == sent)
            }
        }
        let gap = RunOutputGapNotification(runId: Self.run.id, message: "some lines are not shown")
        #expect(try RunOutputGapNotification(notificationJSON: gap.notificationJSON) == gap)
    }

    @Test func unreadableResultsNameTheField() {
        var broken = Self.workflow.json.objectValue ?? [:]
        broken["steps"] = [["name": "s"]]
        #expect(throws: ResultDecodingError(path: "steps[0].executionOrder", reason: "is missing")) {
            try Workflow(resultJSON: .object(broken))
        }
        var badStatus = Self.run.json().objectValue ?? [:]
        badStatus["status"] = "exploded"
        #expect(throws: ResultDecodingError(path: "status", reason: "must be one of queued, running, succeeded, failed, cancelled, got \"exploded\"")) {
            try Run(resultJSON: .object(badStatus))
        }
        #expect(throws: ResultDecodingError(path: "", reason: "must be an object, got an array")) { try Step(resultJSON: []) }
        #expect(throws: ResultDecodingError.self) { try Deleted(resultJSON: ["deleted": false]) }
        #expect(throws: ResultDecodingError(path: "createdAt", reason: "must be an RFC 3339 timestamp, got \"yesterday\"")) {
            var o = Self.workflow.json.objectValue ?? [:]
            o["createdAt"] = "yesterday"
            return try Workflow(resultJSON: .object(o))
        }
    }

    /// orchctl prints dates it decoded: they must read exactly as the daemon wrote them.
    @Test func timestampsPrintAsTheDaemonWroteThem() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            let milliseconds = Int64.random(in: 0..<4_102_444_800_000, using: &generator)
            let text = RFC3339.format(Date(timeIntervalSince1970: Double(milliseconds) / 1000))
            #expect(RFC3339.parse(text).map(RFC3339.format) == text)
        }
    }

    // MARK: Server side

    /// A handler reads on past a problem of names or types, and names them all in one answer.
    @Test func aHandlerNamesEveryProblemOfNamesAndTypesAtOnce() async throws {
        let handler = RPCMethods.workflowCreate.handler { (_: WorkflowDraft, _: Void) async throws(RPCError) -> Workflow in
            Issue.record("a draft with problems reached the handler")
            throw RPCError(.internalError, "unreachable")
        }
        let params: [String: JSONValue] = [
            "name": "wf", "description": 7,
            "steps": [
                ["name": "a", "executionOrder": 0, "retires": 3, "action": ["exec": ["/bin/true", 1]]],
                ["name": "b", "executionOrder": "1", "action": ["cwd": "/"]],
                "not a step",
            ],
        ]
        do {
            _ = try await handler(ParamReader(params), ())
            Issue.record("accepted")
        } catch {
            #expect(error.code == .invalidParams)
            let fields = error.data?["errors"]?.arrayValue?.compactMap { $0["field"]?.stringValue }
            // In the order they were read.
            #expect(fields == ["description", "steps[2]", "steps[0].retires", "steps[0].action.exec[1]", "steps[1].action.exec", "steps[1].executionOrder"], "\(error)")
            #expect(error.message.hasPrefix("invalid params: 6 problems: description must be a string, got an integer; steps[2] must be an object, got a string; unknown parameter 'steps[0].retires' (did you mean 'retries'?"), "\(error.message)")
        }
    }

    /// Params read from a part of the request (step.update's step fields) are read on past a problem too.
    @Test func stepUpdateNamesEveryProblemOfItsFields() throws {
        do {
            _ = try ParamReader.readingAll(["workflow": "w", "name": "s", "timeoutSeconds": "never", "retires": 2]) { (reader) throws(RPCError) in
                try Method.stepUpdate.typed.decodeParams(reader)
            }
            Issue.record("accepted")
        } catch {
            #expect(error.data?["errors"]?.arrayValue?.compactMap { $0["field"]?.stringValue } == ["retires", "timeoutSeconds"], "\(error)")
        }
    }

    @Test func aTypedHandlerReadsParamsAndWritesTheResult() async throws {
        let handler = RPCMethods.runGet.handler { (key: RunKey, context: Int) async throws(RPCError) -> Run in
            guard key.id == Self.run.id, context == 7 else { throw RPCError(.notFound, "no run \(key.id)") }
            return Self.run
        }
        #expect(try await handler(ParamReader(["id": .string(Self.run.id)]), 7) == Self.run.json())
        await #expect(throws: RPCError(
            .invalidParams, "invalid params: missing required parameter 'id'", data: ["errors": [["field": "id", "message": "is missing"]]])) {
            try await handler(ParamReader([:]), 7)
        }
        await #expect(throws: RPCError(.notFound, "no run x")) { try await handler(ParamReader(["id": "x"]), 7) }

        let list = RPCMethods.runList.handler { (_: RunListParams, _: Void) async throws(RPCError) -> Page<Run> in
            Page(items: [Self.run], next: nil)
        }
        #expect(try await list(ParamReader([:]), ()) == ["items": [Self.run.json(summary: true)], "next": .null])
    }
}
