import Dispatch
import OrchestratorClient
import OrchestratorProtocol

/// An RPC connection for async tests. RPCConnection blocks (it is orchctl's
/// client); run on Swift's cooperative pool, a blocked read (a run.watch
/// lasts as long as its run) would starve every other test on a 2-core
/// machine. So each operation runs on this connection's own serial queue.
public final class TestConnection: @unchecked Sendable {
    // Only ever touched on `queue`, one operation at a time.
    private let connection: RPCConnection
    private let queue: DispatchQueue

    public init(path: String) throws(ClientError) {
        ignoreBrokenPipes()
        connection = try RPCConnection(path: path)
        queue = DispatchQueue(label: "test-connection")
    }

    private func onQueue<T: Sendable>(_ body: @escaping @Sendable (RPCConnection) throws(ClientError) -> T) async throws(ClientError) -> T {
        let result: Result<T, ClientError> = await withCheckedContinuation { continuation in
            queue.async {
                do throws(ClientError) {
                    continuation.resume(returning: .success(try body(self.connection)))
                } catch {
                    continuation.resume(returning: .failure(error))
                }
            }
        }
        return try result.get()
    }

    public func call(_ method: String, _ params: [String: JSONValue] = [:]) async throws(ClientError) -> JSONValue {
        try await onQueue { connection throws(ClientError) in try connection.call(method, params) }
    }

    /// A call that streams notifications first (run.watch): its result and the notifications, in order.
    public func callCollecting(_ method: String, _ params: [String: JSONValue] = [:]) async throws(ClientError) -> (result: JSONValue, notifications: [JSONValue]) {
        try await onQueue { connection throws(ClientError) in
            var notifications: [JSONValue] = []
            let result = try connection.call(method, params) { _, params in notifications.append(params) }
            return (result, notifications)
        }
    }

    public func sendRaw(_ bytes: [UInt8]) async throws(ClientError) {
        try await onQueue { connection throws(ClientError) in try connection.sendRaw(bytes) }
    }

    public func readLine() async throws(ClientError) -> [UInt8] {
        try await onQueue { connection throws(ClientError) in try connection.readLine() }
    }

    public func finishSending() async {
        _ = try? await onQueue { connection throws(ClientError) in connection.finishSending() }
    }
}

/// The answer to one call: its result or its error.
public func call(_ connection: TestConnection, _ method: String, _ params: [String: JSONValue] = [:]) async throws -> Result<JSONValue, RPCError> {
    do {
        return .success(try await connection.call(method, params))
    } catch .rpc(let error) {
        return .failure(error)
    }
}

extension Result where Failure == RPCError {
    public var errorCode: ErrorCode? {
        if case .failure(let e) = self { return e.code }
        return nil
    }

    public var value: Success? {
        if case .success(let v) = self { return v }
        return nil
    }

    /// The error, if the call failed.
    public var failure: RPCError? {
        if case .failure(let e) = self { return e }
        return nil
    }
}
