import Foundation
import OrchestratorModel

/// Recognises a process across a restart of the daemon: pid plus start time.
public enum ProcessIdentity {
    static func startTicks(of pid: Int32) -> UInt64? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return nil }
        // Fields after the command name (which may hold spaces): state is field 3, starttime field 22.
        // A zombie is as good as gone: it runs nothing and only waits to be reaped.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 19, fields[0] != "Z" else { return nil }
        return UInt64(fields[19])
    }

    /// This machine's name, as leases and step records show it.
    public static let host: String = {
        var name = [CChar](repeating: 0, count: 256)
        gethostname(&name, name.count)
        return String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }()

    /// Kills what is left of a step's process group from an earlier life of
    /// the daemon, if it is still the same process, and waits until it is gone.
    static func killLeftover(_ process: StepProcess) async -> Bool {
        guard process.host == host, process.pid > 0, startTicks(of: process.pid) == process.startTicks else { return false }
        kill(-process.pid, SIGKILL)
        kill(process.pid, SIGKILL)
        for _ in 0..<100 where startTicks(of: process.pid) == process.startTicks {
            try? await Task.sleep(for: .milliseconds(50))
        }
        return true
    }
}
