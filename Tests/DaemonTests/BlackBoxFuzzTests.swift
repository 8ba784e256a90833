import Foundation
import OrchestratorProtocol
import Testing
import TestSupport

/// Thousands of mutated requests on one connection to the real daemon: every
/// block of them is followed by a sentinel request that must be answered, the
/// connection stays open, the daemon stays up, its memory stays bounded.
@Suite struct BlackBoxFuzzTests {
    /// A small deterministic generator, so a failure can be replayed.
    struct SplitMix: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    static let seeds: [[UInt8]] = {
        let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Fuzz/seeds")
        let files = (try? FileManager.default.contentsOfDirectory(at: dir, includingPropertiesForKeys: nil)) ?? []
        return files.compactMap { try? Data(contentsOf: $0) }.map { Array($0).filter { $0 != 10 } }
    }()

    static let fragments: [[UInt8]] = ["null", "true", "\"\"", "[]", "{}", "-1", "1e999", "\"\\ud800\"", "{\"a\":", "]]]", "\u{00e9}", "\"x\"", "999999999999999999999"].map { Array($0.utf8) }

    static func mutate(_ seed: [UInt8], _ rng: inout SplitMix) -> [UInt8] {
        var bytes = seed
        for _ in 0..<Int.random(in: 1...4, using: &rng) where !bytes.isEmpty {
            let at = Int.random(in: 0..<bytes.count, using: &rng)
            switch Int.random(in: 0..<6, using: &rng) {
            case 0: bytes[at] = UInt8.random(in: 0...255, using: &rng)
            case 1: bytes.insert(UInt8.random(in: 0...255, using: &rng), at: at)
            case 2: bytes.removeSubrange(at..<min(bytes.count, at + Int.random(in: 1...16, using: &rng)))
            case 3: bytes.insert(contentsOf: fragments.randomElement(using: &rng) ?? [], at: at)
            case 4: bytes = Array(bytes.prefix(at))
            default: bytes.insert(contentsOf: bytes[at..<min(bytes.count, at + 32)], at: at)
            }
        }
        // One request per line; and nothing that would start a run of a mutated command.
        return bytes.map { $0 == 10 ? 32 : $0 }
    }

    @Test func mutatedRequestsAreAllAnsweredAndTheDaemonStaysUp() async throws {
        #expect(Self.seeds.count >= 10)
        try await DaemonProcess.with { daemon in
            let c = try daemon.connect()
            let pid = try #require(daemon.pid)
            _ = try await c.call("daemon.status")
            let rssBefore = residentKiB(pid)
            var rng = SplitMix(state: 20261127)
            var sent = 0
            var answers = 0
            for block in 0..<30 {
                var text: [UInt8] = []
                var lines = 0
                while lines < 100 {
                    let line = Self.mutate(Self.seeds[Int.random(in: 0..<Self.seeds.count, using: &rng)], &rng)
                    let asText = String(decoding: line, as: UTF8.self)
                    if asText.contains("run.start") || asText.contains("run.resume") { continue }
                    text += line + [10]
                    lines += 1
                }
                let sentinel = "sentinel-\(block)"
                text += Array(#"{"jsonrpc":"2.0","id":"\#(sentinel)","method":"daemon.status"}"#.utf8) + [10]
                try await c.sendRaw(text)
                sent += lines
                while true {
                    let answer = try JSONCoding.parse(await c.readLine())
                    let items = answer.arrayValue ?? [answer]
                    for item in items {
                        #expect(item["jsonrpc"] == "2.0")
                        #expect(item["result"] != nil || item["error"]?["code"]?.intValue != nil)
                    }
                    if answer["id"] == .string(sentinel) { break }
                    answers += 1
                }
            }
            #expect(sent == 3000)
            // Only notifications go unanswered; mutations rarely make one.
            #expect(answers > sent * 9 / 10, "\(answers) answers to \(sent) requests")
            #expect(daemon.isRunning)
            #expect(try await c.call("daemon.status")["mongodb"] == "ok")
            let rssAfter = residentKiB(pid)
            print("black-box fuzz: \(sent) mutated requests, \(answers) answers, RSS \(rssBefore) KiB -> \(rssAfter) KiB")
            #expect(rssAfter - rssBefore < 64 * 1024, "resident memory grew from \(rssBefore) KiB to \(rssAfter) KiB")
        }
    }
}

/// VmRSS of a process in KiB.
func residentKiB(_ pid: Int32) -> Int {
    let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
    let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
    return Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
}
