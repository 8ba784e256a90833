import ArgumentParser
import OrchestratorModel
import OrchestratorProtocol

struct TargetList: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List targets by name, all or those labels select, a page at a time.",
        discussion: "Examples:\n  orchctl target list\n  orchctl target list --targets site=ams,group=leaf\n  orchctl target list --after leaf10.ams"
    )

    @OptionGroup var global: GlobalOptions
    @Option(name: .customLong("targets"), help: ArgumentHelp("Only targets with these labels.", valueName: "KEY=VALUE[,KEY=VALUE]"))
    var labels: String?
    @Option(parsing: .unconditional, help: "Targets per page (1-1000).") var limit: Int = 100
    @Option(help: "Start after this name (the 'next' cursor of the previous page).") var after: String?

    func validate() throws {
        guard (1...1000).contains(limit) else { throw ValidationError("--limit must be between 1 and 1000") }
        _ = try selector(labels: labels, names: [])
    }

    func run() throws {
        try reporting {
            let chosen = try selector(labels: labels, names: [])
            let page = try global.call(RPCMethods.targetList, TargetListParams(selector: chosen, limit: limit, after: after))
            global.emit(page) { page in
                if page.items.isEmpty {
                    return chosen == nil
                        ? "No targets. Create one with 'orchctl target create NAME' or import an inventory with 'orchctl target import -f FILE'.\n"
                        : "No targets with labels \(chosen!).\n"
                }
                var table = Table("NAME", "LABELS", "VARS")
                for t in page.items { table.add(t.name, Render.pairs(t.labels), t.vars.keys.sorted().joined(separator: ",")) }
                var out = table.render()
                if let next = page.next { out += Render.more("target list", labels.map { ["--targets", $0] } ?? [], limit: limit, after: next) }
                return out
            }
        }
    }
}
