import ArgumentParser
import Foundation
import OrchestratorClient
import OrchestratorModel
import OrchestratorProtocol

public struct Orchctl: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "orchctl",
        abstract: "Manage orchestrator workflows and steps through orchestratord.",
        discussion: """
            orchctl talks JSON-RPC to orchestratord over its Unix socket: \
            --socket, else $ORCHCTL_SOCKET, else /run/orchestrator/orchestratord.sock.

            Exit codes: 0 success; 1 the operation failed; 3 not found; 4 conflict or \
            validation error; 5 permission denied; 64 usage error; 69 the daemon cannot be reached.

            Shell completions: orchctl --generate-completion-script bash|zsh|fish

            Examples:
              orchctl workflow create core-backup --description "nightly config backup"
              orchctl step add core-backup save --order 0 -- /usr/local/bin/backup.sh sw1
              orchctl apply -f examples/config-backup.yaml
              orchctl -o json workflow get core-backup
            """,
        version: OrchestratorVersion.current,
        subcommands: [
            WorkflowCommand.self, StepCommand.self, RunCommand.self, TargetCommand.self, ScheduleCommand.self, WindowCommand.self, SecretCommand.self, Apply.self, Status.self, Metrics.self,
        ]
    )

    public init() {}
}

public enum OutputFormat: String, ExpressibleByArgument, CaseIterable, Sendable {
    case table, json, yaml

    /// One result, as scripts read it (nil for the table, which each command renders).
    func document(_ value: JSONValue) -> String? {
        switch self {
        case .table: nil
        case .json: JSONCoding.prettyPrinted(value) + "\n"
        case .yaml: YAMLOutput.document(value)
        }
    }

    /// One item of a stream (a watched run's events, then the run): a JSON
    /// object per line, or a YAML document each.
    func streamItem(_ value: JSONValue) -> String? {
        switch self {
        case .table: nil
        case .json: JSONCoding.serialize(value) + "\n"
        case .yaml: YAMLOutput.document(value)
        }
    }
}

/// Options every command takes.
public struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Path of orchestratord's socket.", valueName: "PATH"))
    var socket: String?

    @Option(name: [.customShort("o"), .customLong("output")], help: "Output format: table for people, json or yaml for scripts (the protocol's result).")
    var output: OutputFormat = .table

    public init() {}

    static let defaultSocket = "/run/orchestrator/orchestratord.sock"

    var socketPath: String { Self.socketPath(flag: socket) }

    /// --socket, else $ORCHCTL_SOCKET, else the default.
    static func socketPath(flag: String?) -> String {
        flag ?? ProcessInfo.processInfo.environment["ORCHCTL_SOCKET"].flatMap { $0.isEmpty ? nil : $0 } ?? defaultSocket
    }

    func connect() throws -> RPCConnection {
        do {
            return try RPCConnection(path: socketPath)
        } catch {
            throw Failure.from(error)
        }
    }

    /// One call; a failure is printed and becomes the spec's exit code.
    func call<Params, Result>(_ method: RPCMethod<Params, Result>, _ params: Params) throws -> RPCReply<Result> {
        try Self.call(try connect(), method, params)
    }

    static func call<Params, Result>(_ connection: RPCConnection, _ method: RPCMethod<Params, Result>, _ params: Params) throws -> RPCReply<Result> {
        do {
            return try connection.reply(method, params)
        } catch {
            throw Failure.from(error)
        }
    }

    /// Prints the result exactly as the protocol returned it (json), or as `table` renders it.
    func emit<Result>(_ reply: RPCReply<Result>, table: (Result) -> String) {
        emit(json: reply.json) { table(reply.result) }
    }

    /// Prints `json` (json), or what `table` renders.
    func emit(json: JSONValue, table: () -> String) {
        print(output.document(json) ?? table(), terminator: "")
    }
}

/// An error already explained to the user, carrying the exit code.
struct Failure: Error, CustomStringConvertible {
    let message: String
    let code: Int32

    var description: String { message }

    static func from(_ error: ClientError) -> Failure {
        switch error {
        case .unreachable: return Failure(message: error.description, code: 69)
        case .broken: return Failure(message: error.description, code: 1)
        case .rpc(let rpc): return from(rpc)
        }
    }

    static func from(_ error: RPCError) -> Failure {
        var message = error.message
        // Every problem of what was given, one per line, whether of names and types or of the rules.
        if error.code == .validationFailed || error.code == .invalidParams, let problems = error.data?["errors"]?.arrayValue {
            message = "validation failed:\n" + problems.map { problem in
                let field = problem["field"]?.stringValue ?? ""
                return "  " + (field.isEmpty ? "" : "\(field): ") + (problem["message"]?.stringValue ?? "")
            }.joined(separator: "\n")
        }
        let code: Int32
        switch error.code {
        case .notFound: code = 3
        case .conflict, .validationFailed: code = 4
        case .invalidParams where error.data?["errors"] != nil: code = 4
        case .permissionDenied: code = 5
        default: code = 1
        }
        return Failure(message: message, code: code)
    }
}

extension ParsableCommand {
    /// Runs a command body, printing a `Failure` to stderr and exiting with its code.
    func reporting(_ body: () throws -> Void) throws {
        do {
            try body()
        } catch let failure as Failure {
            FileHandle.standardError.write(Data("orchctl: \(failure.message)\n".utf8))
            throw ExitCode(failure.code)
        }
    }
}

extension Orchctl {
    /// The spec puts global options before the command (`orchctl --socket P
    /// -o json workflow list`); the parser reads them on the subcommand, so
    /// leading ones are moved to the end (before any `--` command terminator).
    public static func hoistingGlobalOptions(_ arguments: [String]) -> [String] {
        var rest = arguments[...]
        var globals: [String] = []
        while let first = rest.first {
            if ["--socket", "-o", "--output"].contains(first), rest.count >= 2 {
                globals += rest.prefix(2)
                rest = rest.dropFirst(2)
            } else if first.hasPrefix("--socket=") || first.hasPrefix("--output=") || (first.hasPrefix("-o") && first.count > 2 && !first.hasPrefix("--")) {
                globals.append(first)
                rest = rest.dropFirst()
            } else {
                break
            }
        }
        guard !globals.isEmpty, !rest.isEmpty else { return arguments }
        var result = Array(rest)
        let insertAt = result.firstIndex(of: "--") ?? result.endIndex
        result.insert(contentsOf: globals, at: insertAt)
        return result
    }
}
