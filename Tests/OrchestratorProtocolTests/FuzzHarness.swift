import OrchestratorModel
import OrchestratorProtocol

/// The path every request byte takes in the daemon before any I/O: framing,
/// JSON-RPC decoding, params decoding and validation, and the answer's
/// serialisation. A broken invariant traps, which is what the fuzzer looks for.
///
/// Test code, not product code: it lives in this test target, where
/// FuzzRegressionTests replays Fuzz/seeds and Fuzz/regressions through it, and
/// scripts/fuzz compiles this same file (its imports removed) into the
/// libFuzzer build beside Fuzz/ProtocolFuzzer.swift. One copy, two users.
enum FuzzHarness {
    static let maximumLineBytes = 4096

    static func exercise(_ bytes: some Collection<UInt8>) {
        var rest = Array(bytes)[...]
        while true {
            switch LineFraming.next(in: rest, maximumLineBytes: maximumLineBytes) {
            case .line(let length):
                handle(line: rest.prefix(length))
                rest = rest.dropFirst(length + 1)
            case .needMoreData:
                if !rest.isEmpty { handle(line: rest) }
                return
            case .tooLong:
                return
            }
        }
    }

    private static func handle(line: ArraySlice<UInt8>) {
        let message = RPCCodec.decode(line: LineFraming.trimmed(line))
        answer(message)
        // Whatever parses must serialise back to the same value.
        if let value = try? JSONCoding.parse(line) {
            let again = try? JSONCoding.parse(JSONCoding.serializeBytes(value))
            precondition(again == value, "JSON did not round-trip")
        }
    }

    private static func answer(_ message: IncomingMessage) {
        switch message {
        case .batch(let items):
            items.forEach(answer)
        case .invalid(let id, let error):
            roundTrip(RPCCodec.response(id: id, error: error))
        case .malformedNotification:
            break
        case .request(let request):
            let params = ParamReader(request.params)
            let outcome: JSONValue
            do {
                outcome = try decodeAsEveryMethod(params)
            } catch {
                outcome = RPCCodec.response(id: request.id ?? .null, error: error)
            }
            roundTrip(outcome)
        }
    }

    /// Decodes the params as each method's input would be decoded, and
    /// validates what decodes.
    private static func decodeAsEveryMethod(_ params: ParamReader) throws(RPCError) -> JSONValue {
        var problems: [FieldError] = []
        if let draft = try? WorkflowDraft(params: params) {
            do { try draft.validate() } catch { problems += fieldErrors(error) }
        }
        if let changes = try? WorkflowChanges(params: params) {
            do { try changes.validate() } catch { problems += fieldErrors(error) }
        }
        if let changes = try? StepChanges(params: params) {
            do { try changes.validate() } catch { problems += fieldErrors(error) }
        }
        if let step = try? params.object("step"), let decoded = try? Step(params: step) {
            problems += decoded.problems(at: "step")
        }
        if let values = try? params.optionalStringMap("params") {
            problems += Parameters.problems(values, steps: [])
        }
        return OrchestratorError.validation(problems).rpcError.data ?? .null
    }

    private static func fieldErrors(_ error: OrchestratorError) -> [FieldError] {
        if case .validationFailed(let errors) = error.kind { return errors }
        return []
    }

    private static func roundTrip(_ value: JSONValue) {
        let bytes = JSONCoding.serializeBytes(value)
        precondition(!bytes.contains(UInt8(ascii: "\n")), "an answer must stay on one line")
        precondition((try? JSONCoding.parse(bytes)) == value, "an answer did not round-trip")
    }
}
