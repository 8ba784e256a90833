import Foundation
import OrchestratorProtocol
import Testing
import TestSupport

/// Two live daemons never share a daemon id (it names a run's owner: with
/// one id each would take the other's runs for its own); a daemon that
/// crashed or stopped gets its id back at once.
@Suite struct DaemonIdentityTests {
    @Test func aSecondLiveDaemonWithTheSameIdRefusesToStartAndSaysWhy() async throws {
        try await withTemporaryDirectory { dir in
            let database = TestEnvironment.uniqueDatabaseName("ident")
            let (a, b) = try DaemonProcess.pair(in: dir, database: database, arguments: ["--daemon-id", "cloned-vm", "--lease-seconds", "5"])
            try await a.start()
            try await b.start(waitUntilServing: false)
            #expect(await b.waitForExit(timeout: .seconds(60)) == 1, "log of b: \(b.log())")
            #expect(b.log().contains("another daemon is running with daemon id 'cloned-vm'"), "log of b: \(b.log())")
            #expect(b.log().contains("pid \(a.pid ?? 0)"))
            #expect(try await a.connect().call("daemon.status")["mongodb"] == "ok")
            await a.stop()
        }
    }

    /// A long lease: were the id not given back, the restart would wait it out and the start would time out.
    @Test(arguments: [SIGKILL, SIGTERM])
    func aDaemonThatStoppedGetsItsIdBackAtOnce(signal: Int32) async throws {
        try await DaemonProcess.with(arguments: ["--daemon-id", "restarted", "--lease-seconds", "300"]) { daemon in
            await daemon.stop(signal: signal)
            try await daemon.start()
            #expect(try await daemon.connect().call("daemon.status")["mongodb"] == "ok")
        }
    }
}
