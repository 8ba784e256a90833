import Foundation
import OrchestratorClient
import OrchestratorProtocol
import Testing
import TestSupport

/// A step as the wire takes it, running a shell script (the scripts write
/// what they did into files the tests read back).
func shellStep(
    _ name: String, order: Int = 0, _ script: String, timeout: Int? = nil, retries: Int = 0, retryDelay: Int = 0,
    continueOnFailure: Bool = false, idempotent: Bool = false, env: [String: String] = [:]
) -> JSONValue {
    var step: [String: JSONValue] = [
        "name": .string(name), "executionOrder": .int(Int64(order)),
        "action": ["exec": ["/bin/sh", "-c", .string(script)], "env": .object(env.mapValues { .string($0) })],
        "retries": .int(Int64(retries)), "retryDelaySeconds": .int(Int64(retryDelay)),
        "continueOnFailure": .bool(continueOnFailure), "idempotent": .bool(idempotent),
    ]
    if let timeout { step["timeoutSeconds"] = .int(Int64(timeout)) }
    return .object(step)
}

/// A script line that records `start`/`end` stamps (nanoseconds) for the
/// step around `body`, in the file `stamps` of the test's directory.
func stamped(_ dir: URL, _ body: String) -> String {
    let file = dir.appendingPathComponent("stamps").path
    return #"echo "start $ORCH_STEP $(date +%s%N)" >> '\#(file)'; \#(body); rc=$?; echo "end $ORCH_STEP $(date +%s%N)" >> '\#(file)'; exit $rc"#
}

struct Stamps {
    var start: [String: UInt64] = [:]
    var end: [String: UInt64] = [:]

    init(_ dir: URL) throws {
        let text = try String(contentsOf: dir.appendingPathComponent("stamps"), encoding: .utf8)
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: " ")
            guard parts.count == 3, let value = UInt64(parts[2]) else { continue }
            if parts[0] == "start" { start[String(parts[1])] = value } else { end[String(parts[1])] = value }
        }
    }

    /// Every step of `a` ended before any step of `b` started.
    func before(_ a: [String], _ b: [String]) -> Bool {
        guard let lastEnd = a.compactMap({ end[$0] }).max(), let firstStart = b.compactMap({ start[$0] }).min() else { return false }
        return lastEnd <= firstStart
    }

    /// All of `names` were running at one moment.
    func overlap(_ names: [String]) -> Bool {
        guard let latestStart = names.compactMap({ start[$0] }).max(), let earliestEnd = names.compactMap({ end[$0] }).min() else { return false }
        return latestStart < earliestEnd
    }

    /// The most steps that were running at the same moment.
    var maximumConcurrency: Int {
        let points = start.values.map { ($0, 1) } + end.values.map { ($0, -1) }
        var current = 0, peak = 0
        for (_, delta) in points.sorted(by: { $0.0 == $1.0 ? $0.1 < $1.1 : $0.0 < $1.0 }) {
            current += delta
            peak = max(peak, current)
        }
        return peak
    }
}

extension TestConnection {
    func createWorkflow(_ name: String, _ steps: [JSONValue]) async throws {
        _ = try await call("workflow.create", ["name": .string(name), "steps": .array(steps)])
    }

    func startRun(_ workflow: String, _ params: [String: String] = [:]) async throws -> String {
        let run = try await call("run.start", ["workflow": .string(workflow), "params": .object(params.mapValues { .string($0) })])
        guard let id = run["id"]?.stringValue else { throw Failure("run.start returned no id: \(run)") }
        return id
    }

    /// Watches a run to its end: the events streamed and the final run.
    func watch(_ id: String) async throws -> (events: [JSONValue], run: JSONValue) {
        let (run, events) = try await callCollecting("run.watch", ["id": .string(id)])
        return (events, run)
    }

    func runStatus(_ id: String) async throws -> String? {
        try await call("run.get", ["id": .string(id)])["status"]?.stringValue
    }
}

extension JSONValue {
    func step(_ name: String) -> JSONValue? {
        self["steps"]?.arrayValue?.first { $0["name"]?.stringValue == name }
    }

    func stepStatus(_ name: String) -> String? { step(name)?["status"]?.stringValue }
}

struct Failure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

func fileLines(_ url: URL) -> [String] {
    ((try? String(contentsOf: url, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
}

func processExists(_ pid: Int32) -> Bool {
    guard kill(pid, 0) == 0 else { return false }
    // A zombie is gone for every practical purpose.
    let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
    guard let close = stat.lastIndex(of: ")") else { return false }
    return stat[stat.index(after: close)...].split(separator: " ").first != "Z"
}

/// A shell snippet that waits until the test creates `file`: a step the test
/// can hold running and release at the moment it chooses.
func waitFor(_ file: URL) -> String {
    "while [ ! -e '\(file.path)' ]; do sleep 0.05; done"
}

/// A shell snippet that announces this step and waits until every step in
/// `group` has announced itself: they are all running at the same time.
func meet(_ dir: URL, _ group: [String]) -> String {
    let here = dir.appendingPathComponent("here").path
    let checks = group.map { "[ -e '\(here)-\($0)' ]" }.joined(separator: " && ")
    return "touch '\(here)-'\"$ORCH_STEP\"; until \(checks); do sleep 0.05; done"
}

/// The command names of a process's children, as `ps --ppid` lists them
/// (a held step shows as `orchestrator-st`, its name cut to 15 bytes).
func childProcesses(of parent: Int32) -> [String] {
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    return entries.compactMap { entry in
        guard Int32(entry) != nil, let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
            let open = stat.firstIndex(of: "("), let close = stat.lastIndex(of: ")")
        else { return nil }
        // After the name: state, then the parent's pid. A zombie runs nothing.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 1, fields[0] != "Z", Int32(fields[1]) == parent else { return nil }
        return String(stat[stat.index(after: open)..<close])
    }
}
