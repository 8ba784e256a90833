import Foundation
import OrchestratorProtocol
import Testing
import TestSupport

/// The daemon's metrics: `metrics.get` on the socket, and a real Prometheus
/// (Debian's) scraping the optional loopback listener and answering PromQL.
@Suite struct MetricsTests {
    private static func workflow(_ name: String) -> [String: JSONValue] {
        ["name": .string(name), "steps": [["name": "ok", "executionOrder": 0, "action": ["exec": ["/bin/true"]]]]]
    }

    /// The sample of `name` with exactly `labels` in Prometheus's text format; nil when absent.
    private static func sample(_ text: String, _ name: String, _ labels: String = "") -> Double? {
        let key = labels.isEmpty ? name : "\(name){\(labels)}"
        for line in text.split(separator: "\n") where line.hasPrefix(key + " ") {
            return Double(line.dropFirst(key.count + 1))
        }
        return nil
    }

    @Test func metricsCountRunsStepsAndRequests() async throws {
        try await DaemonProcess.with { daemon in
            let c = try daemon.connect()
            _ = try await c.call("workflow.create", Self.workflow("count-me"))
            let id = try #require(try await c.call("run.start", ["workflow": "count-me"])["id"]?.stringValue)
            #expect(try await c.callCollecting("run.watch", ["id": .string(id)]).result["status"] == "succeeded")
            _ = try await call(c, "run.explode", [:])
            _ = try await call(c, "run.get", ["id": "6b1037a78c2883c81f07c0e2"])

            let result = try await c.call("metrics.get")
            #expect(result["contentType"]?.stringValue == "text/plain; version=0.0.4; charset=utf-8")
            let text = try #require(result["text"]?.stringValue)
            #expect(Self.sample(text, "orchestrator_runs_started_total", #"kind="run""#) == 1, "\(text)")
            #expect(Self.sample(text, "orchestrator_runs_finished_total", #"status="succeeded",kind="run""#) == 1, "\(text)")
            #expect(Self.sample(text, "orchestrator_step_duration_seconds_count", #"status="succeeded""#) == 1, "\(text)")
            #expect(Self.sample(text, "orchestrator_rpc_requests_total", #"method="run.start",outcome="ok""#) == 1, "\(text)")
            // An unknown method is counted without its name (a caller cannot make series), an error by its code.
            #expect(Self.sample(text, "orchestrator_rpc_requests_total", #"method="unknown",outcome="-32601""#) == 1, "\(text)")
            #expect(Self.sample(text, "orchestrator_rpc_requests_total", #"method="run.get",outcome="-32001""#) == 1, "\(text)")
            #expect(Self.sample(text, "orchestrator_active_runs") == 0, "\(text)")
            #expect(Self.sample(text, "orchestrator_connections") == 1, "\(text)")
            #expect((Self.sample(text, "orchestrator_mongodb_operation_duration_seconds_count") ?? 0) > 0, "\(text)")

            let printed = try await orchctl(daemon, ["metrics"])
            #expect(printed.status == 0 && printed.stdout.contains("# TYPE orchestrator_runs_finished_total counter"), "\(printed)")
        }
    }

    @Test func prometheusScrapesTheListenerAndCountsARunJustMade() async throws {
        let prometheus = try TestEnvironment.prometheus()
        let (metricsPort, prometheusPort) = (try FreePort.find(), try FreePort.find())
        try await DaemonProcess.with(arguments: ["--metrics-listen", "127.0.0.1:\(metricsPort)"]) { daemon in
            let dir = URL(fileURLWithPath: daemon.socketPath).deletingLastPathComponent()
            let config = dir.appendingPathComponent("prometheus.yml")
            try """
                global:
                  scrape_interval: 1s
                scrape_configs:
                  - job_name: orchestratord
                    static_configs:
                      - targets: ["127.0.0.1:\(metricsPort)"]
                """.write(to: config, atomically: true, encoding: .utf8)
            let server = SpawnedProcess()
            server.executableURL = URL(fileURLWithPath: prometheus)
            server.arguments = [
                "--config.file", config.path, "--storage.tsdb.path", dir.appendingPathComponent("tsdb").path,
                "--web.listen-address", "127.0.0.1:\(prometheusPort)",
            ]
            let log = dir.appendingPathComponent("prometheus.log")
            _ = FileManager.default.createFile(atPath: log.path, contents: nil)
            server.standardError = try FileHandle(forWritingTo: log)
            try server.run()
            defer {
                server.terminate()
                server.waitUntilExit()
            }

            let c = try daemon.connect()
            _ = try await c.call("workflow.create", Self.workflow("scraped"))
            for _ in 0..<2 {
                let id = try #require(try await c.call("run.start", ["workflow": "scraped"])["id"]?.stringValue)
                #expect(try await c.callCollecting("run.watch", ["id": .string(id)]).result["status"] == "succeeded")
            }
            // PromQL over Prometheus's HTTP API, through Python's HTTP client.
            let query = #"sum(orchestrator_runs_finished_total{job="orchestratord",status="succeeded"})"#
            let ask = """
                import json, sys, urllib.parse, urllib.request
                url = "http://127.0.0.1:\(prometheusPort)/api/v1/query?" + urllib.parse.urlencode({"query": sys.argv[1]})
                try:
                    answer = json.load(urllib.request.urlopen(url, timeout=5))
                    print(" ".join(r["value"][1] for r in answer["data"]["result"]))
                except Exception as error:
                    print("error", error)
                """
            var last = ""
            let counted = try await eventually(timeout: .seconds(60)) {
                last = try await runCommand(try TestEnvironment.python(), ["-c", ask, query]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
                return last == "2"
            }
            #expect(counted, "Prometheus answered '\(last)'; its log: \((try? String(contentsOf: log, encoding: .utf8)) ?? "")")
        }
    }

    /// The listener has no authentication: anything but a loopback address
    /// (written plainly: `0127` may be read as octal) is refused at start.
    @Test(arguments: ["0.0.0.0:9469", "0127.0.0.1:9469", "127.1:9469", "[::]:9469", "127.0.0.1:0", "10.0.0.1:9469", "127.0.0.1"])
    func aMetricsListenerOffLoopbackIsRefused(_ address: String) async throws {
        let uri = try TestEnvironment.mongoURI()
        try await withTemporaryDirectory { dir in
            let daemon = DaemonProcess(directory: dir, mongoURI: uri, arguments: ["--metrics-listen", address])
            try await daemon.start(waitUntilServing: false)
            #expect(await daemon.waitForExit() == 78)
            await daemon.stop()
            #expect(daemon.log().contains("metrics-listen: '\(address)' must be a loopback address and a port"), "\(daemon.log())")
        }
    }
}
