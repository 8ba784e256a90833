import OrchestratorModel

/// Secrets on the wire: `secret.*` params and results. A value travels
/// only in `secret.set`'s params, never in a result.

extension SecretRecord: RPCResult, PageItem {
    public var json: JSONValue {
        ["name": .string(name), "setBy": JSONValue(Int(setBy)), "setAt": JSONValue(setAt), "keyId": .string(keyId)]
    }

    public init(result r: ResultReader) throws(ResultDecodingError) {
        self.init(name: try r.string("name"), setBy: UInt32(clamping: try r.int("setBy")), setAt: try r.date("setAt"), keyId: try r.string("keyId"))
    }

    public init(resultJSON: JSONValue) throws(ResultDecodingError) { try self.init(result: ResultReader(resultJSON)) }
    public var resultJSON: JSONValue { json }
    public init(pageItem: ResultReader) throws(ResultDecodingError) { try self.init(result: pageItem) }
    public var pageItemJSON: JSONValue { json }
}

/// `secret.set`: `name`, `value` (1 byte to 64 KiB of UTF-8 text, no NUL).
public struct SecretSetParams: RPCParams, Equatable {
    public var name: String
    public var value: String

    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }

    public init(params p: ParamReader) throws(RPCError) {
        try p.allowOnly(["name", "value"])
        self.init(name: try p.string("name"), value: try p.string("value"))
    }

    public var paramsJSON: [String: JSONValue] { ["name": .string(name), "value": .string(value)] }
}

/// `run.resume`: `id`, and `params`: the values of the run's secret
/// parameters, which are not kept once a run ends or its daemon restarts.
public struct RunResumeParams: RPCParams, Equatable {
    public var id: String
    public var params: [String: String]

    public init(id: String, params: [String: String] = [:]) {
        self.id = id
        self.params = params
    }

    public init(params p: ParamReader) throws(RPCError) {
        try p.allowOnly(["id", "params"])
        self.init(id: try p.string("id"), params: try p.optionalStringMap("params") ?? [:])
    }

    public var paramsJSON: [String: JSONValue] {
        var o: [String: JSONValue] = ["id": .string(id)]
        if !params.isEmpty { o["params"] = .object(params.mapValues { .string($0) }) }
        return o
    }
}
