import CSpawn
import Foundation

/// A child process started by `orch_spawn`: the part of Foundation's
/// `Process` the tests use. Foundation's `Process.run()` on Linux copies
/// the whole 256-byte name of each `/proc/self/fd` entry and, when one sits
/// at the end of glibc's buffer, reads past it and crashes
/// (swift-corelibs-foundation pull request 5472): it took a whole test run
/// down. Its stdio defaults to /dev/null; no other descriptor is inherited.
public final class SpawnedProcess: @unchecked Sendable {
    public var executableURL: URL?
    public var arguments: [String] = []
    /// The child's whole environment; this process's when nil.
    public var environment: [String: String]?
    public var standardInput: FileHandle?
    public var standardOutput: FileHandle?
    public var standardError: FileHandle?

    // Guards `pid` and `status`: polled from several tasks.
    private let lock = NSLock()
    private var pid: pid_t = 0
    /// The raw wait status once the child was reaped.
    private var status: Int32?

    public init() {
        ignoreBrokenPipes()
    }

    public var processIdentifier: Int32 { lock.withLock { pid } }

    public func run() throws {
        guard let path = executableURL?.path else { throw POSIXError(.ENOENT) }
        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        let envp = (environment ?? ProcessInfo.processInfo.environment).map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        // FileHandle.nullDevice has no descriptor of its own here: /dev/null is opened for it, as for no handle at all.
        let devNull = open("/dev/null", O_RDWR | O_CLOEXEC)
        defer { if devNull >= 0 { close(devNull) } }
        func descriptor(_ handle: FileHandle?) -> Int32 { handle.map { $0.fileDescriptor >= 0 ? $0.fileDescriptor : devNull } ?? devNull }
        var child: pid_t = 0
        let rc = orch_spawn(path, argv, envp, descriptor(standardInput), descriptor(standardOutput), descriptor(standardError), &child)
        guard rc == 0 else { throw POSIXError(POSIXErrorCode(rawValue: rc) ?? .EIO) }
        lock.withLock { pid = child }
    }

    public var isRunning: Bool {
        lock.withLock {
            guard pid > 0, status == nil else { return false }
            var raw: Int32 = 0
            if waitpid(pid, &raw, WNOHANG) == pid { status = raw }
            return status == nil
        }
    }

    public func waitUntilExit() {
        lock.withLock {
            guard pid > 0, status == nil else { return }
            var raw: Int32 = 0
            while waitpid(pid, &raw, 0) == -1 && errno == EINTR {}
            status = raw
        }
    }

    /// As Foundation's: the exit code, or the signal that ended it.
    public var terminationStatus: Int32 {
        lock.withLock {
            guard let status else { return -1 }
            return status & 0x7f == 0 ? (status >> 8) & 0xff : status & 0x7f
        }
    }

    /// Whether a signal ended it (rather than an exit).
    public var terminatedBySignal: Bool {
        lock.withLock { status.map { $0 & 0x7f != 0 } ?? false }
    }

    public func terminate() {
        let pid = processIdentifier
        if pid > 0, isRunning { kill(pid, SIGTERM) }
    }
}

/// A write to a socket or pipe whose reader is gone is an error here, not
/// the end of the test process (Foundation's `Process` used to set this as
/// a side effect). Children get the default back (`orch_spawn`).
public func ignoreBrokenPipes() {
    _ = brokenPipesIgnored
}

private let brokenPipesIgnored: Void = {
    signal(SIGPIPE, SIG_IGN)
}()
