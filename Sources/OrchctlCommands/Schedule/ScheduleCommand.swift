import ArgumentParser
import Foundation
import OrchestratorModel
import OrchestratorProtocol

struct ScheduleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schedule",
        abstract: "Start workflows on a cron schedule: create, list, show, pause, resume and delete schedules.",
        discussion: """
            A schedule starts a run of its workflow at each fire time of a 5-field cron \
            expression (minute hour day-of-month month day-of-week; names such as mon-fri and \
            jan, steps such as */15, and @daily, @hourly...) read in an IANA time zone. Across \
            daylight-saving changes a time the clocks skip fires once, at the jump, and a time \
            they pass twice fires once. Every daemon sharing the database fires schedules, and \
            each fire time starts exactly one run.

            After downtime (fire times more than a minute late), --missed says what happens: \
            skip (default) starts nothing for them, runOnce starts one run for the latest.

            A systemd timer that calls 'orchctl run start' works too (see \
            systemd/examples/); a schedule needs no unit per workflow, survives a daemon's \
            host going away, and shows its next fire times here.
            """,
        subcommands: [ScheduleCreate.self, ScheduleList.self, ScheduleGet.self, SchedulePause.self, ScheduleResume.self, ScheduleDelete.self]
    )
}

struct ScheduleName: ParsableArguments {
    @Argument(help: "The schedule's name.") var name: String

    func validate() throws {
        try checkName(name, what: "schedule name")
    }
}

struct ScheduleCreate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create",
        abstract: "Create a schedule.",
        discussion: """
            Examples:
              orchctl schedule create nightly-backup --workflow config-backup \\
                  --cron "30 2 * * *" --timezone Europe/Berlin -p dest=/var/backups
              orchctl schedule create weekly-vlan --workflow vlan-fleet \\
                  --cron "0 22 * * sat" --targets site=ams --batch 25% \\
                  --window sat-night
              orchctl schedule create hourly-health --workflow interface-health \\
                  --cron @hourly --missed runOnce -p iface=lo
            """
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var schedule: ScheduleName
    @Option(help: "The workflow it starts.") var workflow: String
    @Option(help: ArgumentHelp("When it fires: 5 cron fields or a macro such as @daily.", valueName: "EXPR")) var cron: String
    @Option(help: ArgumentHelp("The IANA time zone the cron expression is read in.", valueName: "ZONE")) var timezone = "UTC"
    @OptionGroup var parameters: ParamOptions
    @OptionGroup var fleetOptions: FleetOptions
    @Option(help: ArgumentHelp("What fire times missed while no daemon ran do: skip or runOnce.", valueName: "POLICY")) var missed = "skip"
    @Option(help: ArgumentHelp("Runs start only inside this maintenance window (default: the workflow's).", valueName: "WINDOW")) var window: String?
    @Flag(help: "Create it paused (resume it with 'orchctl schedule resume').") var paused = false

    func validate() throws {
        try checkName(workflow, what: "workflow name")
        guard MissedPolicy(rawValue: missed) != nil else { throw ValidationError("--missed must be skip or runOnce") }
        if let window { try checkName(window, what: "window name") }
    }

    func run() throws {
        try reporting {
            let fleet = try fleetOptions.fleet()
            let draft = ScheduleDraft(
                name: schedule.name, workflow: workflow, cron: cron, timezone: timezone, params: try parameters.values(), targets: fleet?.targets,
                batchSize: fleet?.batchSize, maxFailPercentage: fleet?.maxFail, enabled: !paused, missed: MissedPolicy(rawValue: missed) ?? .skip,
                window: window)
            let created = try global.call(RPCMethods.scheduleCreate, draft)
            global.emit(created) { view in "schedule \(view.schedule.name) created\n" + Render.upcoming(view) }
        }
    }
}

struct ScheduleList: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List schedules by name, with when each fires next.")

    @OptionGroup var global: GlobalOptions
    @Option(parsing: .unconditional, help: "Schedules per page (1-1000).") var limit: Int = 100
    @Option(help: "Start after this name (the 'next' cursor of the previous page).") var after: String?

    func run() throws {
        try reporting {
            let page = try global.call(RPCMethods.scheduleList, NamedListParams(limit: limit, after: after))
            global.emit(page) { page in
                if page.items.isEmpty { return "No schedules. Create one with 'orchctl schedule create NAME --workflow WF --cron EXPR'.\n" }
                var table = Table("NAME", "WORKFLOW", "CRON", "TIMEZONE", "STATE", "NEXT", "LAST RUN")
                for view in page.items {
                    let s = view.schedule
                    table.add(s.name, s.workflow, s.cron, s.timezone, s.enabled ? "active" : "paused", Render.text(s.nextFireAt), s.lastRunId ?? "-")
                }
                var out = table.render()
                if let next = page.next { out += Render.more("schedule list", limit: limit, after: next) }
                return out
            }
        }
    }
}

struct ScheduleGet: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "get", abstract: "Show a schedule and its next fire times.", discussion: "Example:\n  orchctl schedule get nightly-backup")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var schedule: ScheduleName

    func run() throws {
        try reporting {
            let view = try global.call(RPCMethods.scheduleGet, NameParams(name: schedule.name))
            global.emit(view) { view in
                let s = view.schedule
                var pairs: [(String, String)] = [
                    ("Name", s.name), ("Workflow", s.workflow), ("Cron", "\(s.cron) (\(s.timezone))"), ("State", s.enabled ? "active" : "paused"),
                    ("Missed", s.missed.rawValue), ("Parameters", Render.pairs(s.params)), ("Window", s.window ?? "- (the workflow's, if any)"),
                ]
                if let targets = s.targets { pairs.append(("Targets", "\(targets)" + (s.batchSize.map { ", batches of \($0)" } ?? ""))) }
                pairs += [("Last fired", Render.text(s.lastFireAt)), ("Last run", s.lastRunId ?? "-")]
                return fields(pairs) + Render.upcoming(view)
            }
        }
    }
}

/// `pause` and `resume`: one update of `enabled`.
struct ScheduleToggle {
    static func set(_ enabled: Bool, _ name: String, _ global: GlobalOptions) throws {
        let view = try global.call(RPCMethods.scheduleUpdate, ScheduleUpdateParams(name: name, changes: ScheduleChanges(enabled: enabled)))
        global.emit(view) { view in "schedule \(name) \(enabled ? "resumed" : "paused")\n" + (enabled ? Render.upcoming(view) : "") }
    }
}

struct SchedulePause: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pause", abstract: "Stop a schedule from firing (runs it started go on).")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var schedule: ScheduleName

    func run() throws {
        try reporting { try ScheduleToggle.set(false, schedule.name, global) }
    }
}

struct ScheduleResume: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resume", abstract: "Let a paused schedule fire again, from now on (fire times passed while paused do not fire).")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var schedule: ScheduleName

    func run() throws {
        try reporting { try ScheduleToggle.set(true, schedule.name, global) }
    }
}

struct ScheduleDelete: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "delete", abstract: "Delete a schedule (runs it started are kept).")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var schedule: ScheduleName

    func run() throws {
        try reporting {
            let deleted = try global.call(RPCMethods.scheduleDelete, NameParams(name: schedule.name))
            global.emit(deleted) { _ in "schedule \(schedule.name) deleted\n" }
        }
    }
}

extension Render {
    static func upcoming(_ view: ScheduleView) -> String {
        guard !view.upcoming.isEmpty else { return view.schedule.enabled ? "It never fires again.\n" : "" }
        return "Next fire times:\n" + view.upcoming.map { "  \(text($0))\n" }.joined()
    }
}
