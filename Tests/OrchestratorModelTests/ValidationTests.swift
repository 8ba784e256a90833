import Testing
@testable import OrchestratorModel

@Suite struct NameRuleTests {
    @Test(arguments: ["a", "0", "core-sw1", "vlan.100_push", String(repeating: "a", count: 63)])
    func acceptsNamesTheSpecAllows(_ name: String) {
        #expect(NameRule.isValid(name))
    }

    @Test(arguments: ["", "-a", ".a", "_a", "Core", "a b", "a/b", "ä", String(repeating: "a", count: 64), "a\u{0}"])
    func refusesNamesTheSpecForbids(_ name: String) {
        #expect(!NameRule.isValid(name))
    }

    @Test func objectIdsAre24LowerHexCharacters() {
        #expect(ObjectIdRule.isValid("65a1b2c3d4e5f60718293a4b"))
        #expect(!ObjectIdRule.isValid("65A1B2C3D4E5F60718293A4B"))
        #expect(!ObjectIdRule.isValid("65a1b2c3d4e5f60718293a4"))
        #expect(!ObjectIdRule.isValid("zza1b2c3d4e5f60718293a4b"))
    }
}

@Suite struct WorkflowValidationTests {
    private func step(_ name: String, order: Int = 0, exec: [String] = ["/bin/true"]) -> Step {
        Step(name: name, executionOrder: order, action: Action(exec: exec))
    }

    @Test func aValidDraftPasses() throws {
        try WorkflowDraft(name: "backup", description: "nightly", steps: [step("a"), step("b", order: 1)]).validate()
    }

    @Test func everyProblemIsReportedAtOnce() {
        var bad = step("Bad Name", order: -1, exec: [])
        bad.timeoutSeconds = 0
        bad.retries = 101
        bad.retryDelaySeconds = -1
        bad.action.env = ["1BAD": "x"]
        bad.action.cwd = "relative/dir"
        let draft = WorkflowDraft(
            name: "-nope", description: String(repeating: "x", count: Limits.descriptionLength + 1),
            steps: [bad, step("dup"), step("dup")]
        )
        do {
            try draft.validate()
            Issue.record("an invalid draft was accepted")
        } catch {
            guard case .validationFailed(let errors) = error.kind else {
                Issue.record("wrong error kind \(error.kind)")
                return
            }
            let fields = Set(errors.map(\.field))
            #expect(fields == [
                "name", "description", "steps[0].name", "steps[0].executionOrder", "steps[0].action.exec",
                "steps[0].action.env.1BAD", "steps[0].action.cwd", "steps[0].timeoutSeconds", "steps[0].retries",
                "steps[0].retryDelaySeconds", "steps[2].name",
            ])
            #expect(errors.first { $0.field == "steps[2].name" }?.message.contains("duplicate") == true)
        }
    }

    @Test func tooManyStepsIsRefused() {
        let steps = (0...Limits.stepsPerWorkflow).map { step("s\($0)") }
        #expect(throws: OrchestratorError.self) { try WorkflowDraft(name: "big", steps: steps).validate() }
    }

    @Test func oversizeArgvAndArgumentsAreRefused() {
        let errors = Action(exec: Array(repeating: "x", count: Limits.argvCount + 1)).problems(at: "a")
        #expect(errors.map(\.field) == ["a.exec"])
        let long = Action(exec: ["/bin/echo", String(repeating: "y", count: Limits.argumentLength + 1)]).problems(at: "a")
        #expect(long.map(\.field) == ["a.exec[1]"])
    }

    @Test func anEmptyUpdateIsRefusedWithAReason() {
        #expect(throws: OrchestratorError.self) { try WorkflowChanges().validate() }
        #expect(throws: OrchestratorError.self) { try StepChanges().validate() }
    }

    @Test func stepChangesReplaceOnlyTheGivenFields() throws {
        let original = Step(name: "ping", description: "d", executionOrder: 2, action: Action(exec: ["/bin/true"]), timeoutSeconds: 30, retries: 2)
        let changes = StepChanges(executionOrder: 5, timeoutSeconds: .some(nil))
        try changes.validate()
        let changed = changes.applied(to: original)
        #expect(changed.executionOrder == 5)
        #expect(changed.timeoutSeconds == nil)
        #expect(changed.retries == 2)
        #expect(changed.description == "d")
    }

    @Test func orderedStepsSortByOrderThenName() {
        let w = Workflow(id: "", name: "w", description: "", steps: [step("b", order: 1), step("c", order: 0), step("a", order: 1)], version: 1, createdAt: .now, updatedAt: .now)
        #expect(w.orderedSteps.map(\.name) == ["c", "a", "b"])
    }
}

@Suite struct ParameterNameTests {
    @Test func namesThatWouldShareAnEnvironmentVariableAreRefusedNamingThemAll() {
        let step = Step(name: "ping", executionOrder: 0, action: Action(exec: ["/bin/ping", "{{params.a-b}}"]))
        let problems = Parameters.problems(["a-b": "1", "a_b": "2", "a.b": "3", "host": "sw1"], steps: [step])
        #expect(problems.count == 1)
        #expect(problems.first?.field == "params.a-b")
        #expect(problems.first?.message.contains("'a-b' and 'a.b' and 'a_b' would all be ORCH_PARAM_A_B") == true)
        #expect(Parameters.problems(["a-b": "1", "host": "sw1"], steps: [step]).isEmpty)
    }
}

/// Bad locks are refused with every problem at once, where they are.
@Suite struct LockValidationTests {
    @Test func everyProblemWithALockIsListedWithItsField() {
        let step = Step(name: "push", executionOrder: 0, action: Action(exec: ["/bin/true"]), locks: ["", "bell\u{7}", "sw1", "sw1"])
        let draft = WorkflowDraft(name: "w", steps: [step], locks: (0...16).map { "dev-\($0)" })
        var caught: OrchestratorError?
        do { try draft.validate() } catch { caught = error }
        guard case .validationFailed(let problems)? = caught?.kind else {
            Issue.record("expected a validation error, got \(String(describing: caught))")
            return
        }
        let byField = Dictionary(grouping: problems, by: \.field).mapValues { $0.map(\.message) }
        #expect(byField["locks"] == ["at most 16 locks"], "\(problems)")
        #expect(byField["steps[0].locks[0]"] == ["must be 1 to 256 bytes"], "\(problems)")
        #expect(byField["steps[0].locks[1]"] == ["must be printable characters"], "\(problems)")
        #expect(byField["steps[0].locks"] == ["'sw1' more than once"], "\(problems)")
    }

    @Test func aLockTooLongOnceFilledInIsRefusedNamingIt() {
        let step = Step(name: "push", executionOrder: 0, action: Action(exec: ["/bin/true"]), locks: ["device:{{params.dev}}"])
        let problems = Parameters.problems(["dev": String(repeating: "x", count: 600)], steps: [step])
        #expect(problems.map(\.field) == ["locks"])
        #expect(problems.first?.message.contains("longer than 512 bytes once filled in") == true, "\(problems)")
        #expect(Parameters.problems(["dev": "sw1"], steps: [step]).isEmpty)
    }
}
