import ArgumentParser
import OrchestratorProtocol

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the daemon's health: version, uptime, active runs, clients, MongoDB.",
        discussion: "Example:\n  orchctl status\n  orchctl -o json status | jq .mongodb"
    )

    @OptionGroup var global: GlobalOptions

    func run() throws {
        try reporting {
            let status = try global.call(Method.daemonStatus.rawValue)
            global.emit(status) { s in
                fields([
                    ("Daemon", "orchestratord \(Render.text(s["version"])) (pid \(Render.text(s["pid"])))"),
                    ("Uptime", "\(Render.text(s["uptimeSeconds"]))s"), ("Active runs", Render.text(s["activeRuns"])),
                    ("Clients", "\(Render.text(s["connections"])) connected, \(Render.text(s["watchers"])) watching a run"),
                    ("MongoDB", Render.text(s["mongodb"])), ("Database", Render.text(s["database"])),
                    ("Socket", Render.text(s["socket"])),
                    ("You", "uid \(Render.text(s["caller"]?["uid"])), \(s["caller"]?["admin"] == .bool(true) ? "may change things" : "read-only")"),
                ])
            }
        }
    }
}
