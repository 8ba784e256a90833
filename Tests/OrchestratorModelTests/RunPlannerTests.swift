import Testing
@testable import OrchestratorModel

@Suite struct RunPlannerTests {
    private func step(_ name: String, _ order: Int, continueOnFailure: Bool = false) -> Step {
        Step(name: name, executionOrder: order, action: Action(exec: ["/bin/true"]), continueOnFailure: continueOnFailure)
    }

    private let definition = [
        Step(name: "backup-a", executionOrder: 0, action: Action(exec: ["x"])),
        Step(name: "backup-b", executionOrder: 0, action: Action(exec: ["x"])),
        Step(name: "push", executionOrder: 1, action: Action(exec: ["x"])),
        Step(name: "verify", executionOrder: 2, action: Action(exec: ["x"])),
    ]

    @Test func theFirstGroupStartsTogether() {
        let d = RunPlanner.decide(definition: definition, states: [:], cancelRequested: false)
        #expect(d == RunPlanner.Decision(start: ["backup-a", "backup-b"]))
    }

    @Test func aGroupWaitsForEveryStepOfThePreviousOne() {
        let d = RunPlanner.decide(definition: definition, states: ["backup-a": .succeeded, "backup-b": .running], cancelRequested: false)
        #expect(d == RunPlanner.Decision())
        let next = RunPlanner.decide(definition: definition, states: ["backup-a": .succeeded, "backup-b": .succeeded], cancelRequested: false)
        #expect(next.start == ["push"])
    }

    @Test func aFailureLetsItsGroupFinishThenSkipsTheRest() {
        let running = RunPlanner.decide(definition: definition, states: ["backup-a": .failed, "backup-b": .running], cancelRequested: false)
        #expect(running == RunPlanner.Decision(skip: ["push", "verify"], outcome: nil))
        let done = RunPlanner.decide(definition: definition, states: ["backup-a": .timedOut, "backup-b": .succeeded], cancelRequested: false)
        #expect(done == RunPlanner.Decision(skip: ["push", "verify"], outcome: .failed))
    }

    @Test func continueOnFailureLetsLaterGroupsRunButTheRunStillFails() {
        let steps = [step("probe", 0, continueOnFailure: true), step("report", 1)]
        #expect(RunPlanner.decide(definition: steps, states: ["probe": .failed], cancelRequested: false).start == ["report"])
        #expect(RunPlanner.decide(definition: steps, states: ["probe": .failed, "report": .succeeded], cancelRequested: false).outcome == .failed)
        #expect(RunPlanner.decide(definition: steps, states: ["probe": .succeeded, "report": .succeeded], cancelRequested: false).outcome == .succeeded)
    }

    @Test func aPendingStepAfterAFailureIsWaitingForItsRetry() {
        let d = RunPlanner.decide(definition: definition, states: ["backup-a": .pending, "backup-b": .succeeded], cancelRequested: false)
        #expect(d.start == ["backup-a"])
    }

    @Test func anInterruptedStepFailsTheRun() {
        let d = RunPlanner.decide(definition: definition, states: ["backup-a": .succeeded, "backup-b": .succeeded, "push": .interrupted], cancelRequested: false)
        #expect(d == RunPlanner.Decision(skip: ["verify"], outcome: .failed))
    }

    @Test func cancellingWaitsForRunningStepsAndCancelsTheRest() {
        let d = RunPlanner.decide(definition: definition, states: ["backup-a": .running, "backup-b": .succeeded], cancelRequested: true)
        #expect(d == RunPlanner.Decision(cancel: ["push", "verify"], outcome: nil))
        let done = RunPlanner.decide(definition: definition, states: ["backup-a": .cancelled, "backup-b": .succeeded, "push": .cancelled, "verify": .cancelled], cancelRequested: true)
        #expect(done.outcome == .cancelled)
    }

    @Test func everyStepSucceededMeansTheRunSucceeded() {
        let states = Dictionary(uniqueKeysWithValues: definition.map { ($0.name, StepStatus.succeeded) })
        #expect(RunPlanner.decide(definition: definition, states: states, cancelRequested: false).outcome == .succeeded)
        #expect(RunPlanner.decide(definition: [], states: [:], cancelRequested: false).outcome == .succeeded)
    }
}

@Suite struct ParametersTests {
    @Test func placeholdersAreReplacedAndMissingOnesNamed() {
        let action = Action(exec: ["/bin/ping", "-c", "1", "{{params.host}}"], env: ["V": "{{params.vlan}}"])
        #expect(Parameters.resolve(action, ["host": "sw1", "vlan": "120"]).exec.last == "sw1")
        #expect(Parameters.resolve(action, ["host": "sw1", "vlan": "120"]).env["V"] == "120")
        let problems = Parameters.problems(["host": "sw1"], steps: [Step(name: "p", executionOrder: 0, action: action)])
        #expect(problems == [FieldError(field: "params.vlan", message: "missing: step 'p' uses {{params.vlan}}")])
    }

    @Test func environmentNamesAreUpperCaseWithUnderscores() {
        #expect(Parameters.environmentName("host-name.v4") == "ORCH_PARAM_HOST_NAME_V4")
    }

    @Test func shellMetacharactersAreNotSpecial() {
        let hostile = "sw1; rm -rf / $(reboot) `id` \"'"
        #expect(Parameters.substitute("{{params.h}}", ["h": hostile]) == hostile)
        #expect(Parameters.references(in: "a {{params.x}} b {{params.y}} {{params.") == ["x", "y"])
    }

    /// Text without a `{{` is passed over quickly, and a lone brace is not a placeholder.
    @Test func textWithoutPlaceholdersIsLeftAsItIs() {
        for text in ["", "{", "a { b } c", "{x}{y}", "{ {params.x}}", "ends with {"] {
            #expect(Parameters.references(in: text).isEmpty, "\(text)")
            #expect(Parameters.substitute(text, ["x": "1"]) == text)
            #expect(Parameters.resolve(Action(exec: [text]), ["x": "1"]).exec == [text])
        }
        #expect(Parameters.references(in: "{{{params.x}}") == ["x"])
        #expect(Parameters.substitute("{{{params.x}}}", ["x": "1"]) == "{1}")
        #expect(Parameters.resolve(Action(exec: ["{{params.x}}{{params.x}}"]), ["x": "1"]).exec == ["11"])
    }
}
