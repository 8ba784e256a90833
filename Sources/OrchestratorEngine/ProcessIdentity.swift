import Foundation
import OrchestratorModel
import Synchronization

/// Recognises a process across a restart of the daemon: pid plus start time.
public enum ProcessIdentity {
    /// The start time to record for a process just spawned, given the one
    /// the clock around its spawn proved (0: not proved). Reading
    /// /proc/PID/stat for every step cost about 5 % of the daemon's CPU per
    /// step; the proof costs two clock readings. Should a kernel ever round
    /// or clock it otherwise, killing leftovers after a restart would quietly
    /// stop working: so the first spawns, and one in 64 after, are checked
    /// against /proc, and a single disagreement means /proc from then on.
    static func startTicks(ofSpawned pid: Int32, proved: UInt64) -> UInt64 {
        let checks = spawnChecks.add(1, ordering: .relaxed).oldValue
        guard proved != 0, !clockDisagreed.load(ordering: .relaxed) else { return startTicks(of: pid) ?? 0 }
        guard checks < 16 || checks % 64 == 0 else { return proved }
        guard let shown = startTicks(of: pid) else { return proved }  // gone already: nothing to compare
        if shown != proved { clockDisagreed.store(true, ordering: .relaxed) }
        return shown
    }

    private static let spawnChecks = Atomic<Int>(0)
    /// Set for good once the clock's proof and /proc disagreed.
    static let clockDisagreed = Atomic<Bool>(false)

    /// Read for every step as it is spawned, so it parses the bytes of
    /// /proc/PID/stat itself (a String and its split cost 170 k instructions a step).
    static func startTicks(of pid: Int32) -> UInt64? {
        let fd = open("/proc/\(pid)/stat", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        // The line is at most a few hundred bytes; the command name is at most 64.
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 1024) { buffer -> UInt64? in
            var count = 0
            while count < buffer.count {
                let n = read(fd, buffer.baseAddress! + count, buffer.count - count)
                if n < 0, errno == EINTR { continue }
                guard n > 0 else { break }
                count += n
            }
            return startTicks(parsing: UnsafeBufferPointer(rebasing: buffer[..<count]))
        }
    }

    /// Fields after the command name (which may hold spaces and parentheses,
    /// hence the last `)`): state is field 3, starttime field 22. A zombie is
    /// as good as gone: it runs nothing and only waits to be reaped.
    static func startTicks(parsing stat: UnsafeBufferPointer<UInt8>) -> UInt64? {
        guard let close = stat.lastIndex(of: UInt8(ascii: ")")) else { return nil }
        var field = 2
        var index = close + 1
        while index < stat.count {
            while index < stat.count, stat[index] == UInt8(ascii: " ") { index += 1 }
            guard index < stat.count else { return nil }
            field += 1
            let start = index
            while index < stat.count, stat[index] != UInt8(ascii: " "), stat[index] != UInt8(ascii: "\n") { index += 1 }
            if field == 3, index - start == 1, stat[start] == UInt8(ascii: "Z") { return nil }
            if field == 22 {
                guard index > start else { return nil }
                var value: UInt64 = 0
                for byte in stat[start..<index] {
                    guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
                    let (times10, o1) = value.multipliedReportingOverflow(by: 10)
                    let (sum, o2) = times10.addingReportingOverflow(UInt64(byte - UInt8(ascii: "0")))
                    guard !o1, !o2 else { return nil }
                    value = sum
                }
                return value
            }
        }
        return nil
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
