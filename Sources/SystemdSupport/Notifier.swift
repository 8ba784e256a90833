import CSystemd
import Foundation

/// The sd_notify protocol: readiness, status text, watchdog pings, stopping.
/// A no-op when NOTIFY_SOCKET is unset (not started by systemd).
public struct SystemdNotifier: Sendable {
    public init() {}

    /// Sends the assignments (e.g. `["READY=1", "STATUS=serving"]`) in one datagram.
    /// `sd_notify(0, …)`: unsetting the environment from here is not thread-safe.
    @discardableResult
    public func notify(_ assignments: [String]) -> Bool {
        let text = assignments.map { $0.replacingOccurrences(of: "\n", with: " ") }.joined(separator: "\n")
        return sd_notify(0, text) > 0
    }

    public func ready(status: String) { notify(["READY=1", "STATUS=\(status)", "MAINPID=\(getpid())"]) }
    public func status(_ text: String) { notify(["STATUS=\(text)"]) }
    public func stopping(status: String) { notify(["STOPPING=1", "STATUS=\(status)"]) }
    public func reloading(status: String) { notify(["RELOADING=1", "STATUS=\(status)"]) }
    public func reloaded(status: String) { notify(["READY=1", "STATUS=\(status)"]) }
    public func watchdogPing() { notify(["WATCHDOG=1"]) }

    /// The watchdog interval systemd expects pings within, when it set one for this process.
    public func watchdogInterval() -> Duration? {
        var usec: UInt64 = 0
        guard sd_watchdog_enabled(0, &usec) > 0, usec > 0 else { return nil }
        return .microseconds(Int64(usec))
    }
}

/// Sockets handed over by systemd (`orchestratord.socket`).
public enum SocketActivation {
    /// The first passed file descriptor, if this process was socket-activated.
    /// `sd_listen_fds(1)` checks LISTEN_PID against our pid and unsets the
    /// LISTEN_* variables, so step processes never inherit them; call it once,
    /// first thing, while the process has a single thread.
    public static func takeListeningSocket() -> Int32? {
        let count = sd_listen_fds(1)
        guard count >= 1 else { return nil }
        let fd = SD_LISTEN_FDS_START
        // The fd must not leak into step processes.
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        // Other fds than the first are not used; close them so they are not held open.
        if count > 1 {
            for extra in (fd + 1)..<(fd + count) { close(extra) }
        }
        return fd
    }
}
