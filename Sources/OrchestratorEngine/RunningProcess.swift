import CSpawn
import Foundation
import NIOConcurrencyHelpers
import OrchestratorModel

/// A step process: started as orchestrator-step-gate and held there until
/// `begin()` (so its pid can be recorded before it does anything), then the
/// step's program itself (same pid), in its own process group,
/// supervised on a dedicated thread (poll on its pipes and its pidfd,
/// timeout, termination, reaping), never on the cooperative pool.
final class RunningProcess: StepHandle {
    let pid: Int32
    let startTicks: UInt64
    var identity: StepProcess { StepProcess(host: ProcessIdentity.host, pid: pid, startTicks: startTicks) }
    /// The daemon's end of the gate: opened by `begin()`, the gate's report read from it after the end.
    private let gate: Int32
    /// Readable the moment the process exits (-1 on a kernel without pidfds).
    private let exitFd: Int32
    /// The pipes' write ends, kept until the process is reaped (see `prepare`).
    private let writeEnds: [Int32]
    private let stdoutFd: Int32
    private let stderrFd: Int32
    private let spec: ProcessSpec
    private let onLine: @Sendable (String, String) -> Void
    private let control = NIOLockedValueBox<Bool>(false)
    private let outcome: NIOLockedValueBox<(ProcessOutcome?, (@Sendable (ProcessOutcome) -> Void)?)> = NIOLockedValueBox((nil, nil))

    private init(
        pid: Int32, startTicks: UInt64, gate: Int32, exitFd: Int32, writeEnds: [Int32], stdout: Int32, stderr: Int32, spec: ProcessSpec,
        onLine: @escaping @Sendable (String, String) -> Void
    ) {
        self.pid = pid
        self.startTicks = startTicks
        self.gate = gate
        self.exitFd = exitFd
        self.writeEnds = writeEnds
        self.stdoutFd = stdout
        self.stderrFd = stderr
        self.spec = spec
        self.onLine = onLine
    }

    /// Starts the step's process and holds it at its gate: exactly one of
    /// `begin()` or `abandon()` must follow.
    static func prepare(_ spec: ProcessSpec, onLine: @escaping @Sendable (_ stream: String, _ line: String) -> Void) -> PreparedStep {
        var outPipe: [Int32] = [-1, -1], errPipe: [Int32] = [-1, -1]
        guard orch_pipe_cloexec(&outPipe) == 0 else { return .failed(notStarted("pipe: \(String(cString: strerror(errno)))")) }
        guard orch_pipe_cloexec(&errPipe) == 0 else {
            close(outPipe[0]); close(outPipe[1])
            return .failed(notStarted("pipe: \(String(cString: strerror(errno)))"))
        }
        // The gate's options, then "--", the program and its argv. A step
        // run as another user is started in / and enters its directory as
        // that user (the gate's --cwd), never as root.
        let (first, argv, directory): (String, [String], String?) = spec.runAs.map { runAs in
            ("--run-as=\(runAs.user):\(runAs.group ?? "")",
             (spec.workingDirectory.map { ["--cwd=\($0)"] } ?? []) + ["--", spec.program, spec.program] + spec.arguments, "/")
        } ?? ("--", [spec.program, spec.program] + spec.arguments, spec.workingDirectory)
        let envp = spec.environment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        var pid: pid_t = 0, gate: Int32 = -1, exitFd: Int32 = -1
        var provedTicks: UInt64 = 0
        let rc = withCStrings(argv) { argvPointers in
            withCStrings(envp) { envPointers in
                orch_spawn_gated(spec.gate, first, argvPointers, envPointers, directory, outPipe[1], errPipe[1], &pid, &gate, &exitFd, &provedTicks)
            }
        }
        // With a pidfd to tell when the process ends, the daemon keeps the
        // pipes' write ends until it has reaped it: the end of the output
        // then comes with the exit, one wake-up of the supervising thread
        // per step, not two (the pipes closing as the process exits, its
        // pidfd a moment later). Without one, the closing pipes are what
        // wakes it at the end.
        let writeEnds = rc == 0 && exitFd >= 0 ? [outPipe[1], errPipe[1]] : []
        if writeEnds.isEmpty {
            close(outPipe[1])
            close(errPipe[1])
        }
        guard rc == 0 else {
            close(outPipe[0]); close(errPipe[0])
            let reason = String(cString: strerror(rc))
            // The gate was checked when the daemon started: a missing file now is the directory.
            let detail = rc == ENOENT && spec.workingDirectory != nil && access(spec.gate, X_OK) == 0
                ? "cannot start \(spec.program) in \(spec.workingDirectory ?? ""): \(reason)" : "cannot start \(spec.program): \(reason)"
            return .failed(notStarted(SecretMasker(spec.masks).redact(detail)))
        }
        let startTicks = ProcessIdentity.startTicks(ofSpawned: pid, proved: UInt64(provedTicks))
        return .held(RunningProcess(
            pid: pid, startTicks: startTicks, gate: gate, exitFd: exitFd, writeEnds: writeEnds, stdout: outPipe[0], stderr: errPipe[0], spec: spec,
            onLine: onLine))
    }

    /// Lets the process run its program; supervision (and the timeout)
    /// starts now. Whether the gate did execute the program is read from
    /// its report once the process has ended (the gate prints nothing when
    /// it fails): waiting for the exec first cost the supervising thread a
    /// sleep and a wake-up for every step. So the timeout now includes the
    /// gate's own work (becoming the step's user, entering its directory,
    /// the exec), and a termination that comes before the exec stops the gate.
    func begin() {
        onOwnThread { [self] in
            orch_gate_release(gate)
            let outcome = supervise(
                pid: pid, exitFd: exitFd, writeEnds: writeEnds, stdout: stdoutFd, stderr: stderrFd, spec: spec, terminate: control, onLine: onLine)
            let error = orch_gate_report(gate)
            guard error == 0 else { return Self.notStarted(SecretMasker(spec.masks).redact(Self.gateFailure(error, spec))) }
            return outcome
        }
    }

    /// The process exits at its gate without running anything.
    func abandon() {
        onOwnThread { [self] in
            orch_gate_abandon(gate)
            return giveUp(Self.notStarted("abandoned before it started"))
        }
    }

    private func giveUp(_ result: ProcessOutcome) -> ProcessOutcome {
        var raw: Int32 = 0
        while waitpid(pid, &raw, 0) < 0 && errno == EINTR {}
        for fd in [stdoutFd, stderrFd] + writeEnds { close(fd) }
        if exitFd >= 0 { close(exitFd) }
        return result
    }

    /// What the gate reported instead of running the program (codes of orchestrator-step-gate).
    static func gateFailure(_ code: Int32, _ spec: ProcessSpec) -> String {
        let user = spec.runAs.map { "user \($0.user)" } ?? "its user"
        switch code {
        case -1: return "cannot start \(spec.program): runAs: no such user '\(spec.runAs?.user ?? "")' on \(ProcessIdentity.host)"
        case -2: return "cannot start \(spec.program): runAs: no such group '\(spec.runAs?.group ?? "")' on \(ProcessIdentity.host)"
        case -3: return "cannot start \(spec.program): runAs: still able to become root after becoming \(user) (is the daemon root?); refused"
        case -4: return "cannot start \(spec.program): runAs: \(user) is not a member of group '\(spec.runAs?.group ?? "")' on \(ProcessIdentity.host)"
        case ...(-1000):
            return "cannot start \(spec.program) as \(user) in \(spec.workingDirectory ?? "/"): \(String(cString: strerror(-1000 - code)))"
        default:
            let reason = String(cString: strerror(code))
            return spec.runAs != nil && code == EPERM
                ? "cannot start \(spec.program) as \(user): \(reason) (changing users needs the daemon to run as root)"
                : "cannot start \(spec.program): \(reason)"
        }
    }

    private static func notStarted(_ reason: String) -> ProcessOutcome {
        ProcessOutcome(ending: .notStarted(reason), timedOut: false, terminated: false, stdout: "", stderr: reason, droppedLogLines: 0)
    }

    private func onOwnThread(_ body: @escaping @Sendable () -> ProcessOutcome) {
        SupervisorThreads.shared.run(named: "step-\(pid)") { [self] in finish(body()) }
    }

    /// Asks the process group to stop: SIGTERM now, SIGKILL after the grace period.
    func terminate() {
        control.withLockedValue { $0 = true }
    }

    func whenEnded(_ body: @escaping @Sendable (ProcessOutcome) -> Void) {
        let ready: ProcessOutcome? = outcome.withLockedValue { state in
            if let done = state.0 { return done }
            precondition(state.1 == nil, "whenEnded once per process")
            state.1 = body
            return nil
        }
        if let ready { body(ready) }
    }

    private func finish(_ result: ProcessOutcome) {
        let waiter = outcome.withLockedValue { state -> (@Sendable (ProcessOutcome) -> Void)? in
            state.0 = result
            defer { state.1 = nil }
            return state.1
        }
        waiter?(result)
    }
}

/// The supervision loop, on its own thread.
private func supervise(
    pid: Int32, exitFd: Int32, writeEnds: [Int32], stdout: Int32, stderr: Int32, spec: ProcessSpec, terminate: NIOLockedValueBox<Bool>,
    onLine: @Sendable (String, String) -> Void
) -> ProcessOutcome {
    var captures = [OutputCapture(), OutputCapture()]
    // Secret values are masked before anything is kept or logged.
    var maskers = [SecretMasker(spec.masks), SecretMasker(spec.masks)]
    var open = [true, true]
    let fds = [stdout, stderr]
    let streams = ["stdout", "stderr"]
    let clock = ContinuousClock()
    let deadline = spec.timeout.map { clock.now + $0 }
    var killAt: ContinuousClock.Instant?
    var timedOut = false
    var terminated = false
    var status: Int32?
    var exitedAt: ContinuousClock.Instant?
    let buffer = ReadBuffers.shared.take()
    defer { ReadBuffers.shared.giveBack(buffer) }
    // The pidfd: readable the moment the process exits, so a short step is reaped at once.
    defer { if exitFd >= 0 { close(exitFd) } }

    while open.contains(true) || status == nil {
        // Timeout and termination: SIGTERM to the group, SIGKILL after the grace.
        if killAt == nil, status == nil {
            if let deadline, clock.now >= deadline { timedOut = true }
            if terminate.withLockedValue({ $0 }) { terminated = true }
            if timedOut || terminated {
                kill(-pid, SIGTERM)
                killAt = clock.now + spec.killGrace
            }
        }
        if let at = killAt, clock.now >= at {
            kill(-pid, SIGKILL)
            killAt = .now + .seconds(3600)
        }
        // Read what is there.
        var pollFds = (0..<2).filter { open[$0] }.map { pollfd(fd: fds[$0], events: Int16(POLLIN), revents: 0) }
        if status == nil && exitFd >= 0 { pollFds.append(pollfd(fd: exitFd, events: Int16(POLLIN), revents: 0)) }
        if !pollFds.isEmpty {
            _ = poll(&pollFds, nfds_t(pollFds.count), 100)
            for entry in pollFds where entry.revents != 0 && entry.fd != exitFd {
                guard let index = fds.firstIndex(of: entry.fd) else { continue }
                let n = read(entry.fd, buffer.baseAddress, buffer.count)
                if n > 0 {
                    captures[index].append(maskers[index].feed(UnsafeRawBufferPointer(rebasing: buffer[..<n]))[...]) { onLine(streams[index], $0) }
                } else if n == 0 || (errno != EINTR && errno != EAGAIN) {
                    open[index] = false
                    close(entry.fd)
                }
            }
        } else {
            usleep(20_000)
        }
        // Reap the leader; then make sure nothing of its group is left
        // behind (a background child would otherwise outlive the step and
        // could keep the pipes open forever).
        if status == nil {
            var raw: Int32 = 0
            if waitpid(pid, &raw, WNOHANG) == pid {
                status = raw
                exitedAt = clock.now
                kill(-pid, SIGKILL)
                // Now the pipes end once whatever else of the step held them is gone.
                for fd in writeEnds { close(fd) }
            }
        } else if let exitedAt, clock.now - exitedAt > .seconds(5) {
            // Something outside the group holds the pipes: stop waiting for EOF.
            for index in 0..<2 where open[index] { close(fds[index]); open[index] = false }
        }
    }
    for index in 0..<2 {
        captures[index].append(maskers[index].finish()[...]) { onLine(streams[index], $0) }
        captures[index].finish { onLine(streams[index], $0) }
    }
    let raw = status ?? 0
    let ending: ProcessOutcome.Ending = (raw & 0x7F) == 0 ? .exited((raw >> 8) & 0xFF) : .signalled(raw & 0x7F)
    return ProcessOutcome(
        ending: ending, timedOut: timedOut, terminated: terminated, stdout: captures[0].text, stderr: captures[1].text,
        droppedLogLines: captures[0].droppedLines + captures[1].droppedLines)
}

/// The supervising threads' 64 KiB read buffers (a pipe's capacity), kept
/// for the next step: a buffer that size, allocated and freed for every
/// step, made glibc's malloc merge its fast bins as it was allocated and
/// again as it was freed (callgrind: 7.6 merges per step before, 6.2 after). Not
/// zeroed: a step's start paid 64 KiB of memset for it. At most `kept` wait
/// here; the rest of a burst's are freed.
final class ReadBuffers: @unchecked Sendable {
    static let shared = ReadBuffers(kept: 16)
    static let size = 65536

    private let lock = NIOLock()
    // Guarded by `lock`.
    private var free: [UnsafeMutableRawBufferPointer] = []
    private let kept: Int

    init(kept: Int) {
        self.kept = kept
    }

    func take() -> UnsafeMutableRawBufferPointer {
        lock.withLock { free.popLast() } ?? UnsafeMutableRawBufferPointer.allocate(byteCount: Self.size, alignment: 16)
    }

    func giveBack(_ buffer: UnsafeMutableRawBufferPointer) {
        let keep = lock.withLock { () -> Bool in
            guard free.count < kept else { return false }
            free.append(buffer)
            return true
        }
        if !keep { buffer.deallocate() }
    }
}

/// Runs `body` with the strings as a NULL-terminated C array.
private func withCStrings<T>(_ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> T) -> T {
    var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
    pointers.append(nil)
    defer { for pointer in pointers { free(pointer) } }
    return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
}

