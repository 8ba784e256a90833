import OrchestratorProtocol

/// A method's answer: the typed result, and the result exactly as the daemon
/// sent it (what `orchctl -o json` prints).
public struct RPCReply<Result: Sendable>: Sendable {
    public let result: Result
    public let json: JSONValue

    public init(result: Result, json: JSONValue) {
        self.result = result
        self.json = json
    }
}

extension RPCConnection {
    /// Calls a method of the table: `try connection.call(RPCMethods.runGet, RunKey(id: id))`.
    public func call<Params, Result>(_ method: RPCMethod<Params, Result>, _ params: Params) throws(ClientError) -> Result {
        try reply(method, params).result
    }

    /// `call`, keeping the result as sent beside the typed one.
    public func reply<Params, Result>(_ method: RPCMethod<Params, Result>, _ params: Params) throws(ClientError) -> RPCReply<Result> {
        let json = try exchange(method.name, params.paramsJSON) { (_, _) throws(ClientError) in }
        return RPCReply(result: try Self.decode(method, json), json: json)
    }

    /// A streaming call (`run.watch`): each `notification` that arrives before
    /// the answer goes to `onNotification`, typed and as sent; others are
    /// ignored. A notification that cannot be read ends the call.
    public func reply<Params, Result, Notification>(
        _ method: RPCMethod<Params, Result>, _ params: Params,
        notifications notification: RPCNotification<Notification>,
        onNotification: (Notification, JSONValue) -> Void
    ) throws(ClientError) -> RPCReply<Result> {
        let json = try exchange(method.name, params.paramsJSON) { (name, params) throws(ClientError) in
            guard name == notification.name else { return }
            do {
                onNotification(try Notification(notificationJSON: params), params)
            } catch {
                throw .broken("unreadable \(name) notification: \(error)")
            }
        }
        return RPCReply(result: try Self.decode(method, json), json: json)
    }

    /// A streaming call with several kinds of notification (`run.follow`):
    /// each one that arrives before the answer goes to `onNotification`, by
    /// name and as sent.
    public func reply<Params, Result>(
        _ method: RPCMethod<Params, Result>, _ params: Params,
        onNotification: (_ name: String, _ params: JSONValue) throws(ClientError) -> Void
    ) throws(ClientError) -> RPCReply<Result> {
        let json = try exchange(method.name, params.paramsJSON, onNotification: onNotification)
        return RPCReply(result: try Self.decode(method, json), json: json)
    }

    private static func decode<Params, Result>(_ method: RPCMethod<Params, Result>, _ json: JSONValue) throws(ClientError) -> Result {
        do {
            return try Result(resultJSON: json)
        } catch {
            throw .broken("unreadable result of \(method.name): \(error)")
        }
    }
}
