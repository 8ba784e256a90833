import OrchestratorModel
import Testing
@testable import OrchestratorProtocol

@Suite struct ParamDecodingTests {
    @Test func aStepDecodesWithTheSpecsDefaults() throws {
        let step = try Step(params: ParamReader(["name": "ping", "executionOrder": 2, "action": ["exec": ["/bin/ping", "-c", "1"]]]))
        #expect(step.retries == 0)
        #expect(step.retryDelaySeconds == 1)
        #expect(!step.continueOnFailure)
        #expect(!step.idempotent)
        #expect(step.timeoutSeconds == nil)
        #expect(step.action.exec == ["/bin/ping", "-c", "1"])
    }

    @Test func typeErrorsNameTheParameterByItsPath() {
        let params: [String: JSONValue] = ["name": "w", "steps": [["name": "a", "executionOrder": 0, "action": ["exec": ["/bin/true", 5]]]]]
        #expect(throws: RPCError.invalidParams("invalid params: steps[0].action.exec[1] must be a string, got an integer")) {
            try WorkflowDraft(params: ParamReader(params))
        }
        #expect(throws: RPCError.invalidParams("invalid params: missing required parameter 'name'")) {
            try WorkflowDraft(params: ParamReader([:]))
        }
        #expect(throws: RPCError.self) { try WorkflowDraft(params: ParamReader(["name": "w", "stepz": []])) }
        #expect(throws: RPCError.self) { try WorkflowDraft(params: ParamReader(["name": "w", "steps": [["name": "a", "executionOrder": 1.5, "action": ["exec": ["x"]]]]])) }
    }

    @Test func nullTimeoutClearsItAndAbsentLeavesIt() throws {
        #expect(try StepChanges(params: ParamReader(["timeoutSeconds": .null])).timeoutSeconds == .some(nil))
        #expect(try StepChanges(params: ParamReader(["retries": 2])).timeoutSeconds == nil)
    }

    @Test func domainErrorsMapToTheSpecsCodesAndData() {
        let notFound = OrchestratorError.notFound("workflow", "core").rpcError
        #expect(notFound.code == .notFound)
        #expect(notFound.data == ["kind": "workflow", "name": "core"])
        let invalid = OrchestratorError.validation([FieldError(field: "name", message: "bad"), FieldError(field: "steps[0].name", message: "dup")]).rpcError
        #expect(invalid.code == .validationFailed)
        #expect(invalid.data?["errors"]?.arrayValue?.count == 2)
        #expect(OrchestratorError(.storageUnavailable, "down").rpcError.code == .storageUnavailable)
        #expect(OrchestratorError.conflict("taken").rpcError.code == .conflict)
    }
}
