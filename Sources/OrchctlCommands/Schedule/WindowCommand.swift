import ArgumentParser
import Foundation
import OrchestratorModel
import OrchestratorProtocol

struct WindowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "window",
        abstract: "Maintenance windows: when runs of the workflows and schedules bound to them may start steps.",
        discussion: """
            A window opens at each fire time of its cron expression (read in its time zone) and \
            stays open --duration minutes. A run bound to it (the workflow's 'window:', or the \
            schedule's --window) waits queued until it opens, and starts no step after it \
            closed: such a step fails, saying so, and the run fails and rolls back what it did.
            """,
        subcommands: [WindowCreate.self, WindowList.self, WindowGet.self, WindowDelete.self]
    )
}

struct WindowName: ParsableArguments {
    @Argument(help: "The window's name.") var name: String

    func validate() throws {
        try checkName(name, what: "window name")
    }
}

struct WindowCreate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create",
        abstract: "Create a maintenance window.",
        discussion: """
            Examples:
              orchctl window create sat-night --cron "0 22 * * sat" --duration 240 \\
                  --timezone Europe/Berlin
              orchctl window create weekday-lunch --cron "0 12 * * mon-fri" --duration 60
            """
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var window: WindowName
    @Option(help: ArgumentHelp("When it opens: 5 cron fields or a macro such as @daily.", valueName: "EXPR")) var cron: String
    @Option(parsing: .unconditional, help: ArgumentHelp("How long it stays open, in minutes (1-10080).", valueName: "MINUTES")) var duration: Int
    @Option(help: ArgumentHelp("The IANA time zone the cron expression is read in.", valueName: "ZONE")) var timezone = "UTC"

    func run() throws {
        try reporting {
            let created = try global.call(RPCMethods.windowCreate, WindowDraft(name: window.name, cron: cron, timezone: timezone, durationMinutes: duration))
            global.emit(created) { "window \($0.name) created: opens \($0.cron) (\($0.timezone)) for \($0.durationMinutes) minutes\n" }
        }
    }
}

struct WindowList: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List maintenance windows.")

    @OptionGroup var global: GlobalOptions
    @Option(parsing: .unconditional, help: "Windows per page (1-1000).") var limit: Int = 100
    @Option(help: "Start after this name (the 'next' cursor of the previous page).") var after: String?

    func run() throws {
        try reporting {
            let page = try global.call(RPCMethods.windowList, NamedListParams(limit: limit, after: after))
            global.emit(page) { page in
                if page.items.isEmpty { return "No maintenance windows. Create one with 'orchctl window create NAME --cron EXPR --duration MINUTES'.\n" }
                var table = Table("NAME", "OPENS", "TIMEZONE", "MINUTES", "NOW")
                for w in page.items { table.add(w.name, w.cron, w.timezone, String(w.durationMinutes), Render.windowState(w)) }
                var out = table.render()
                if let next = page.next { out += Render.more("window list", limit: limit, after: next) }
                return out
            }
        }
    }
}

struct WindowGet: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "get", abstract: "Show a maintenance window and whether it is open now.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var window: WindowName

    func run() throws {
        try reporting {
            let found = try global.call(RPCMethods.windowGet, NameParams(name: window.name))
            global.emit(found) { w in
                fields([("Name", w.name), ("Opens", "\(w.cron) (\(w.timezone))"), ("Duration", "\(w.durationMinutes) minutes"), ("Now", Render.windowState(w))])
            }
        }
    }
}

struct WindowDelete: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "delete", abstract: "Delete a maintenance window (runs already bound to it keep it as it was).")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var window: WindowName

    func run() throws {
        try reporting {
            let deleted = try global.call(RPCMethods.windowDelete, NameParams(name: window.name))
            global.emit(deleted) { _ in "window \(window.name) deleted\n" }
        }
    }
}

extension Render {
    /// Open (until when) or closed (until when), by this host's clock.
    static func windowState(_ w: MaintenanceWindow) -> String {
        let now = Date()
        if let opening = w.opening(containing: now) { return "open until \(text(opening.closes))" }
        return w.nextOpening(after: now).map { "closed; opens \(text($0))" } ?? "closed; never opens again"
    }
}
