import Foundation
import Testing

@testable import OrchestratorEngine
import TestSupport

/// A step's process is started as orchestrator-step-gate and held there
/// until the daemon has recorded its pid; only then does it run anything.
@Suite struct GateTests {
    private let dir: URL

    init() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("gate-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    /// The gate helper built next to the test binary (scripts/test also says where, in ORCH_TEST_BIN_DIR).
    private static let gate: String = {
        if let dir = ProcessInfo.processInfo.environment["ORCH_TEST_BIN_DIR"] { return "\(dir)/\(EngineSettings.stepGateName)" }
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return EngineSettings.stepGate(besides: exe) ?? EngineSettings.stepGateName
    }()

    private func spec(_ program: String, _ arguments: [String], cwd: String? = nil) -> ProcessSpec {
        ProcessSpec(
            program: program, arguments: arguments, environment: ["PATH": "/usr/bin:/bin"], workingDirectory: cwd, gate: Self.gate,
            timeout: nil, killGrace: .seconds(1))
    }

    private func hold(_ spec: ProcessSpec) throws -> any StepHandle {
        switch ProcessLauncher().prepare(spec, onLine: { _, _ in }) {
        case .held(let process): return process
        case .failed(let outcome): throw GateFailure("not started: \(outcome.ending)")
        }
    }

    @Test func aHeldProcessRunsNothingUntilItIsLetGo() async throws {
        let marker = dir.appendingPathComponent("ran")
        let process = try hold(spec("/bin/sh", ["-c", "touch '\(marker.path)'; echo out; echo err >&2; exit 3"]))
        // It exists (its pid and start time can be recorded)...
        #expect(process.identity.pid > 0)
        #expect(process.identity.startTicks > 0)
        #expect(kill(process.identity.pid, 0) == 0)
        // ...and does nothing while held.
        try await Task.sleep(for: .milliseconds(300))
        #expect(!FileManager.default.fileExists(atPath: marker.path))

        process.begin()
        let outcome = await process.wait()
        #expect(outcome.ending == .exited(3))
        #expect(outcome.stdout == "out\n")
        #expect(outcome.stderr == "err\n")
        #expect(FileManager.default.fileExists(atPath: marker.path))
    }

    /// The start time recorded with a step is what a restarted daemon will
    /// compare with /proc/PID/stat before it kills a leftover: most spawns
    /// take it from the clock around the spawn, not from /proc, and each
    /// must still be exactly the kernel's.
    @Test func everySpawnedProcessIsRecordedWithTheStartTimeTheKernelShows() async throws {
        for _ in 0..<200 {
            let process = try hold(spec("/bin/true", []))
            let stat = try String(contentsOfFile: "/proc/\(process.identity.pid)/stat", encoding: .utf8)
            let shown = try #require(Array(stat.utf8).withUnsafeBufferPointer { ProcessIdentity.startTicks(parsing: $0) })
            #expect(process.identity.startTicks == shown)
            process.abandon()
            _ = await process.wait()
        }
        let disagreed = ProcessIdentity.clockDisagreed.load(ordering: .relaxed)
        #expect(!disagreed)
    }

    /// The daemon ignores SIGPIPE and its threads block signals; a step must
    /// inherit neither, and leads a process group of its own (what a
    /// timeout or a cancel kills).
    @Test func aStepStartsWithEverySignalAtItsDefaultNoneBlockedAndInAGroupOfItsOwn() async throws {
        let previousPipe = signal(SIGPIPE, SIG_IGN)
        defer { signal(SIGPIPE, previousPipe) }
        var blocked = sigset_t(), previous = sigset_t()
        sigemptyset(&blocked)
        sigaddset(&blocked, SIGUSR2)
        sigaddset(&blocked, SIGTERM)
        pthread_sigmask(SIG_BLOCK, &blocked, &previous)
        let held = Result { try hold(spec("/bin/cat", ["/proc/self/status"])) }
        pthread_sigmask(SIG_SETMASK, &previous, nil)
        let process = try held.get()
        process.begin()
        let outcome = await process.wait()
        #expect(outcome.ending == .exited(0))
        let status = statusFields(outcome.stdout)
        #expect(status["SigBlk"] == "0000000000000000")
        #expect(status["SigIgn"] == "0000000000000000")
        #expect(status["NSpgid"] == "\(process.identity.pid)")
        #expect(status["NSpid"] == "\(process.identity.pid)")
    }

    /// What the tests start their daemons and databases with gets signals
    /// as a step does: glibc's posix_spawn, used before, left SIGRTMIN and
    /// SIGRTMIN+1 ignored in them. It stays in the tests' process group.
    @Test func aProcessTheTestsStartHasEverySignalAtItsDefaultAndNoneBlocked() throws {
        var blocked = sigset_t(), previous = sigset_t()
        sigemptyset(&blocked)
        sigaddset(&blocked, SIGUSR2)
        let output = Pipe()
        let child = SpawnedProcess()
        child.executableURL = URL(fileURLWithPath: "/bin/cat")
        child.arguments = ["/proc/self/status"]
        child.standardOutput = output.fileHandleForWriting
        pthread_sigmask(SIG_BLOCK, &blocked, &previous)
        let started = Result { try child.run() }
        pthread_sigmask(SIG_SETMASK, &previous, nil)
        try started.get()
        try output.fileHandleForWriting.close()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        child.waitUntilExit()
        #expect(child.terminationStatus == 0)
        let status = statusFields(text)
        #expect(status["SigBlk"] == "0000000000000000")
        #expect(status["SigIgn"] == "0000000000000000")
        #expect(status["NSpgid"] == "\(getpgrp())")
    }

    /// The fields of a /proc/PID/status, by name.
    private func statusFields(_ text: String) -> [String: String] {
        var fields: [String: String] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 1)
            if parts.count == 2 { fields[String(parts[0])] = parts[1].trimmingCharacters(in: .whitespaces) }
        }
        return fields
    }

    @Test func anAbandonedProcessExitsHavingRunNothing() async throws {
        let marker = dir.appendingPathComponent("ran")
        let process = try hold(spec("/bin/sh", ["-c", "touch '\(marker.path)'"]))
        process.abandon()
        let outcome = await process.wait()
        #expect(outcome.ending == .notStarted("abandoned before it started"))
        #expect(!FileManager.default.fileExists(atPath: marker.path))
        // Reaped: nothing of it is left, not even a zombie.
        #expect(kill(process.identity.pid, 0) != 0)
    }

    @Test func whatCannotStartIsReportedWhenTheGateOpens() async throws {
        let missing = try hold(spec("/nonexistent/program", []))
        missing.begin()
        #expect(await missing.wait().ending == .notStarted("cannot start /nonexistent/program: No such file or directory"))

        // A missing directory is known before anything is held.
        guard case .failed(let outcome) = ProcessLauncher().prepare(spec("/bin/true", [], cwd: "/nonexistent/dir"), onLine: { _, _ in }) else {
            Issue.record("a step in a missing directory was started")
            return
        }
        #expect(outcome.ending == .notStarted("cannot start /bin/true in /nonexistent/dir: No such file or directory"))

        let notExecutable = dir.appendingPathComponent("plain")
        try "echo hi\n".write(to: notExecutable, atomically: true, encoding: .utf8)
        let denied = try hold(spec(notExecutable.path, []))
        denied.begin()
        #expect(await denied.wait().ending == .notStarted("cannot start \(notExecutable.path): Permission denied"))
    }

    @Test func aHeldSiblingDoesNotKeepAnotherStepsGateOpen() async throws {
        // The second step inherits nothing of the first's gate, so abandoning
        // the first ends it at once even while the second is still held.
        let first = try hold(spec("/bin/sleep", ["30"]))
        let second = try hold(spec("/bin/true", []))
        first.abandon()
        #expect(await first.wait().ending == .notStarted("abandoned before it started"))
        second.begin()
        #expect(await second.wait().ending == .exited(0))
    }
}

struct GateFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
