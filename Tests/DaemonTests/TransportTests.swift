import Foundation
import OrchestratorClient
import OrchestratorProtocol
import Testing
import TestSupport

/// Malformed input, framing, concurrency and vanishing clients: every bad
/// line gets an answer and the connection (and daemon) stay usable.
@Suite struct TransportTests {
    @Test func everyMalformedInputIsAnsweredAndTheConnectionStaysUsable() async throws {
        try await DaemonProcess.with { daemon in
            let c = try daemon.connect()
            let cases: [(String, Int, JSONValue)] = [
                ("{nope", -32700, .null),
                ("\u{1}\u{2}\u{7F}binary", -32700, .null),
                ("42", -32600, .null),
                ("[]", -32600, .null),
                (#"{"jsonrpc":"1.0","id":1,"method":"daemon.status"}"#, -32600, 1),
                (#"{"jsonrpc":"2.0","id":2}"#, -32600, 2),
                (#"{"jsonrpc":"2.0","id":3,"method":"workflow.explode"}"#, -32601, 3),
                (#"{"jsonrpc":"2.0","id":4,"method":"workflow.get","params":{"name":5}}"#, -32602, 4),
                (#"{"jsonrpc":"2.0","id":5,"method":"workflow.get","params":[]}"#, -32602, 5),
                (#"{"jsonrpc":"2.0","id":6,"method":"step.add","params":{"workflow":"w"}}"#, -32602, 6),
                (#"{"jsonrpc":"2.0","id":7,"method":"workflow.create","params":{"name":"a","colour":"red"}}"#, -32602, 7),
                (#"{"jsonrpc":"2.0","id":"s","method":"workflow.create","params":{"name":"a","steps":[{"name":"x","executionOrder":"1","action":{"exec":["/bin/true"]}}]}}"#, -32602, "s"),
            ]
            for (line, code, id) in cases {
                let answer = try #require(try await exchange(c, line + "\n").first)
                #expect(answer["error"]?["code"] == .int(Int64(code)), "for \(line)")
                #expect(answer["id"] == id, "for \(line)")
                #expect(answer["jsonrpc"] == "2.0")
            }
            let missing = try #require(try await exchange(c, #"{"jsonrpc":"2.0","id":8,"method":"step.add","params":{"workflow":"w"}}"# + "\n").first)
            #expect(missing["error"]?["message"]?.stringValue?.contains("'step'") == true)
            // Still usable after all of that.
            #expect(try await call(c, "daemon.status").value?["mongodb"] == "ok")
        }
    }

    /// The catalogue of docs/reliability.md, sent for real: numbers, Unicode,
    /// NUL bytes, nesting, sizes, and the run methods' own inputs.
    @Test func theBadInputCatalogueGetsItsDocumentedAnswers() async throws {
        try await DaemonProcess.with { daemon in
            let c = try daemon.connect()
            let hugeSteps = (0...1000).map { #"{"name":"s\#($0)","executionOrder":0,"action":{"exec":["/bin/true"]}}"# }.joined(separator: ",")
            let cases: [(String, Int, String)] = [
                (#"{"jsonrpc":"2.0","id":1,"method":"workflow.list","params":{"limit":1e999}}"#, -32700, "out of range"),
                (#"{"jsonrpc":"2.0","id":2,"method":"workflow.list","params":{"limit":99999999999999999999}}"#, -32602, "limit must be an integer"),
                (#"{"jsonrpc":"2.0","id":3,"method":"workflow.list","params":{"limit":1.5}}"#, -32602, "limit must be an integer"),
                (#"{"jsonrpc":"2.0","id":4,"method":"workflow.create","params":{"name":"a\u0000b"}}"#, -32003, "must be 1-63 characters"),
                (#"{"jsonrpc":"2.0","id":5,"method":"workflow.create","params":{"name":"nul","steps":[{"name":"s","executionOrder":0,"action":{"exec":["/bin/echo","x\u0000y"]}}]}}"#, -32003, "must not contain a NUL byte"),
                (#"{"jsonrpc":"2.0","id":6,"method":"workflow.create","params":{"name":"\ud800"}}"#, -32700, "surrogate"),
                (String(repeating: "[", count: 100), -32700, "nested deeper than 64 levels"),
                (#"{"jsonrpc":"2.0","id":7,"method":"workflow.create","params":{"name":"huge","steps":[\#(hugeSteps)]}}"#, -32003, "at most 1000 steps"),
                (#"{"jsonrpc":"2.0","id":8,"method":"run.get","params":{"id":"not-an-id"}}"#, -32001, "not found"),
                (#"{"jsonrpc":"2.0","id":9,"method":"run.list","params":{"status":"done"}}"#, -32602, "status must be one of"),
                (#"{"jsonrpc":"2.0","id":10,"method":"run.start","params":{"workflow":"x","params":{"n":5}}}"#, -32602, "params.n must be a string"),
            ]
            for (line, code, words) in cases {
                let answer = try #require(try await exchange(c, line + "\n").first)
                #expect(answer["error"]?["code"] == .int(Int64(code)), "for \(line.prefix(80))")
                #expect(answer["error"]?["message"]?.stringValue?.contains(words) == true, "for \(line.prefix(80)): \(answer)")
            }
            // Unicode where text is free is kept as sent.
            let created = try await c.call("workflow.create", ["name": "unicode", "description": "é😀 ok"])
            #expect(created["description"] == "é😀 ok")
            #expect(try await c.call("workflow.get", ["name": "unicode"])["description"] == "é😀 ok")
        }
    }

    @Test func batchesAreAnsweredAsOneArrayAndNotificationsGetNoAnswer() async throws {
        try await DaemonProcess.with { daemon in
            let c = try daemon.connect()
            let batch = #"[{"jsonrpc":"2.0","id":1,"method":"daemon.status"},{"jsonrpc":"2.0","method":"daemon.status"},7]"#
            let answer = try #require(try await exchange(c, batch + "\n").first?.arrayValue)
            #expect(answer.count == 2)
            #expect(answer[0]["id"] == 1)
            #expect(answer[1]["error"]?["code"] == -32600)
            // A notification alone gets nothing; the next request's answer comes next.
            let next = try await exchange(c, #"{"jsonrpc":"2.0","method":"daemon.status"}"# + "\n" + #"{"jsonrpc":"2.0","id":9,"method":"daemon.status"}"# + "\n")
            #expect(next.first?["id"] == 9)
        }
    }

    @Test func pipelinedRequestsAreAnsweredInOrderWithTheirIds() async throws {
        try await DaemonProcess.with { daemon in
            let c = try daemon.connect()
            var text = #"{"jsonrpc":"2.0","id":"create","method":"workflow.create","params":{"name":"pipe"}}"# + "\n"
            for i in 0..<50 {
                text += #"{"jsonrpc":"2.0","id":\#(i),"method":"step.add","params":{"workflow":"pipe","step":{"name":"s\#(i)","executionOrder":\#(i),"action":{"exec":["/bin/true"]}}}}"# + "\n"
            }
            let answers = try await exchange(c, text, answers: 51)
            #expect(answers.map { $0["id"] } == ["create"] + (0..<50).map { .int(Int64($0)) })
            #expect(answers.allSatisfy { $0["error"] == nil })
            #expect(answers.last?["result"]?["version"] == 51)
        }
    }

    @Test func anOversizeLineClosesOnlyThatConnection() async throws {
        try await DaemonProcess.with(arguments: ["--max-request-bytes", "4096"]) { daemon in
            let bystander = try daemon.connect()
            let c = try daemon.connect()
            let huge = #"{"jsonrpc":"2.0","id":1,"method":"workflow.create","params":{"name":"a","description":""# + String(repeating: "x", count: 10_000) + "\"}}\n"
            try? await c.sendRaw(Array(huge.utf8))
            let answer = try JSONCoding.parse(await c.readLine())
            #expect(answer["error"]?["code"] == .int(Int64(ErrorCode.requestTooLarge.rawValue)))
            await #expect(throws: ClientError.self) { try await c.readLine() }
            #expect(try await call(bystander, "daemon.status").value?["mongodb"] == "ok")
            #expect(try await call(daemon.connect(), "workflow.list").value != nil)
        }
    }

    @Test func aLastLineWithoutNewlineIsAnsweredAfterHalfClose() async throws {
        try await DaemonProcess.with { daemon in
            let c = try daemon.connect()
            try await c.sendRaw(Array(#"{"jsonrpc":"2.0","id":1,"method":"daemon.status"}"#.utf8))
            await c.finishSending()
            #expect(try JSONCoding.parse(await c.readLine())["id"] == 1)
        }
    }

    @Test func clientsThatVanishMidRequestCostNothing() async throws {
        try await DaemonProcess.with { daemon in
            for _ in 0..<20 {
                let half = try daemon.connect()
                try await half.sendRaw(Array(#"{"jsonrpc":"2.0","id":1,"method":"workflow.cre"#.utf8))
                let gone = try daemon.connect()
                try await gone.sendRaw(Array((#"{"jsonrpc":"2.0","id":1,"method":"workflow.list"}"# + "\n").utf8))
                // Both are dropped here without reading anything.
            }
            let c = try daemon.connect()
            #expect(try await call(c, "daemon.status").value?["mongodb"] == "ok")
            #expect(daemon.isRunning)
        }
    }

    @Test func aClientThatNeverReadsDoesNotBlockOthers() async throws {
        try await DaemonProcess.with { daemon in
            _ = try await call(daemon.connect(), "workflow.create", ["name": "big", "description": .string(String(repeating: "d", count: 4000))])
            // A separate process pipelines far more answers than socket buffers
            // hold and never reads one; it blocks in send() once they are full.
            let script = """
                import socket, sys
                s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
                line = b'{"jsonrpc":"2.0","id":1,"method":"workflow.list","params":{"limit":1000}}\\n'
                print("connected", flush=True)
                for _ in range(20000): s.sendall(line)
                """
            let slow = SpawnedProcess()
            slow.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            slow.arguments = ["python3", "-c", script, daemon.socketPath]
            try slow.run()
            defer { slow.terminate() }
            try await Task.sleep(for: .seconds(1))
            #expect(slow.isRunning, "the slow client should still be stuck sending")
            let other = try daemon.connect()
            #expect(try await call(other, "daemon.status").value?["mongodb"] == "ok")
            #expect(try await call(other, "workflow.create", ["name": "still-served"]).value != nil)
        }
    }

    @Test func fiftyConcurrentClientsAllGetTheirAnswers() async throws {
        try await DaemonProcess.with { daemon in
            let socket = daemon.socketPath
            let results = try await withThrowingTaskGroup(of: Int.self) { group in
                for client in 0..<50 {
                    group.addTask {
                        let c = try TestConnection(path: socket)
                        _ = try await c.call("workflow.create", ["name": .string("client-\(client)")])
                        for i in 0..<5 {
                            _ = try await c.call("step.add", ["workflow": .string("client-\(client)"), "step": step("s\(i)", order: i)])
                        }
                        return try await c.call("workflow.get", ["name": .string("client-\(client)")])["steps"]?.arrayValue?.count ?? -1
                    }
                }
                return try await group.reduce(into: [Int]()) { $0.append($1) }
            }
            #expect(results == Array(repeating: 5, count: 50))
            let all = try await daemon.connect().call("workflow.list", ["limit": 100])
            #expect(all["items"]?.arrayValue?.count == 50)
        }
    }
}
