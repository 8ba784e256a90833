import ArgumentParser
import OrchestratorModel
import OrchestratorProtocol

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the daemon's health: version, uptime, active runs, clients, MongoDB.",
        discussion: "Example:\n  orchctl status\n  orchctl -o json status | jq .mongodb"
    )

    @OptionGroup var global: GlobalOptions

    func run() throws {
        try reporting {
            let status = try global.call(RPCMethods.daemonStatus, NoParams())
            global.emit(status) { s in
                fields([
                    ("Daemon", "orchestratord \(s.version) (pid \(s.pid))"),
                    ("Uptime", "\(s.uptimeSeconds)s"), ("Active runs", Render.text(s.activeRuns)),
                    ("Clients", "\(s.connections) connected, \(s.watchers) watching a run"),
                    ("MongoDB", s.mongodb), ("Database", s.database),
                    ("Socket", s.socket),
                    ("You", "uid \(s.caller.uid), \(s.caller.admin ? "may change things" : "read-only")"),
                ])
            }
        }
    }
}
