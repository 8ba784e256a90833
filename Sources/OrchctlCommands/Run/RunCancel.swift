import ArgumentParser
import OrchestratorModel
import OrchestratorProtocol

struct RunCancel: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cancel",
        abstract: "Cancel a run: running steps get SIGTERM, then SIGKILL after 5 s; the rest are cancelled.",
        discussion: """
            With --wait, follows the run until it has ended (its steps stopped and recorded), \
            then exits 0 if it ended cancelled, 1 if it ended some other way first.

            Examples:
              orchctl run cancel 65a1b2c3d4e5f60718293a4b
              orchctl run cancel 65a1b2c3d4e5f60718293a4b --wait
            """
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var target: RunID
    @Flag(help: "Wait until the run has ended, showing its steps as they stop.") var wait = false

    func run() throws {
        try reporting {
            let target = try target.resolved(global)
            guard wait else {
                let result = try global.call(RPCMethods.runCancel, RunKey(id: target.id))
                global.emit(result) { "run \(target.id): cancel requested (now \($0.status.rawValue))\n" }
                return
            }
            let connection = try global.connect()
            let requested: Run
            do {
                requested = try GlobalOptions.call(connection, RPCMethods.runCancel, RunKey(id: target.id)).result
            } catch let failure as Failure where failure.code == 4 {
                // Ended already: what --wait waits for is there; the exit status says how it ended.
                let ended = try GlobalOptions.call(connection, RPCMethods.runGet, RunKey(id: target.id))
                global.emit(ended) { "run \(target.id) \($0.status.phrase) already\n" }
                guard ended.result.status == .cancelled else { throw ExitCode(1) }
                return
            }
            if global.output == .table { print("run \(target.id): cancel requested (now \(requested.status.rawValue))") }
            let final = try follow(connection, runId: target.id, output: global.output, reconnect: global.connect).result
            guard final.status == .cancelled else {
                throw Failure(message: "run \(target.id) \(final.status.phrase): it ended before the cancel took effect", code: 1)
            }
        }
    }
}
