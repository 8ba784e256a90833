import OrchestratorModel

/// Reads the inventories `target.import` accepts into target drafts, or
/// fails with every problem found (each with its line, for YAML).
///
/// - `ansible-yaml`: an Ansible YAML inventory, hand-written or as
///   `ansible-inventory --list -y` prints it: groups with `hosts`, `vars`
///   and `children`, host ranges such as `leaf[01:04]`.
/// - `json`: what `ansible-inventory --list` prints (groups, and host vars
///   under `_meta.hostvars`), or a list of targets as `target.get` shows them.
///
/// A host's vars are Ansible's, merged as Ansible merges them: `all`'s
/// vars, then each of its groups' from the outermost in (a group's children
/// override it; groups at one depth in name order), then its own. Its groups
/// (every group it is in, directly or through a child group; not `all` or
/// `ungrouped`) become the label `group`, comma-listed.
public enum Inventory {
    public enum Format: String, Sendable, CaseIterable {
        case ansibleYAML = "ansible-yaml"
        case json
    }

    public static func read(_ content: String, format: Format) throws(OrchestratorError) -> [TargetDraft] {
        let tree: InventoryTree?
        do {
            tree = try format == .json ? InventoryTree.json(content) : InventoryTree.yaml(content)
        } catch {
            throw OrchestratorError.validation([FieldError(field: "content", message: error.message)])
        }
        guard let tree, !tree.isNull else { throw OrchestratorError.validation([FieldError(field: "content", message: "the inventory is empty")]) }
        var problems = InventoryProblems()
        let drafts: [TargetDraft]
        switch (format, tree) {
        case (.json, .list(let items, _)):
            drafts = TargetList.read(items, &problems)
        case (.json, .map):
            var graph = GroupGraph()
            AnsibleJSON.read(tree, into: &graph, &problems)
            drafts = graph.targets(&problems)
        case (.ansibleYAML, .map):
            var graph = GroupGraph()
            AnsibleYAML.read(tree, into: &graph, &problems)
            drafts = graph.targets(&problems)
        default:
            problems.add("content", tree.line, "must be a mapping of groups (an Ansible inventory)\(format == .json ? " or a list of targets" : ""), not \(tree.kind)")
            drafts = []
        }
        if drafts.count > Limits.targetsPerRun {
            problems.add("content", nil, "\(drafts.count) hosts; one import holds at most \(Limits.targetsPerRun)")
        }
        guard problems.errors.isEmpty else { throw OrchestratorError.validation(problems.errors) }
        return drafts
    }
}

/// Groups, their hosts and vars, as the inventory declared them (a group
/// may be declared in several places: the declarations add up).
struct GroupGraph {
    struct Group {
        var vars: [String: (value: String, line: Int?)] = [:]
        var hosts: [String] = []
        var children: [String] = []
    }

    struct Host {
        var vars: [String: String] = [:]
        var line: Int?
        var path: String
    }

    var groups: [String: Group] = ["all": Group()]
    var hosts: [String: Host] = [:]
    /// Hosts in the order they first appear.
    var hostOrder: [String] = []

    mutating func declare(group: String) {
        if groups[group] == nil { groups[group] = Group() }
    }

    mutating func add(host: String, to group: String, line: Int?, path: String) {
        declare(group: group)
        if !groups[group]!.hosts.contains(host) { groups[group]!.hosts.append(host) }
        if hosts[host] == nil {
            hosts[host] = Host(line: line, path: path)
            hostOrder.append(host)
        }
    }

    mutating func add(child: String, to group: String) {
        declare(group: group)
        declare(group: child)
        if !groups[group]!.children.contains(child) { groups[group]!.children.append(child) }
    }

    /// Each host with the groups it is in and its vars merged, checked.
    func targets(_ problems: inout InventoryProblems) -> [TargetDraft] {
        // Top-level groups nobody lists as a child are children of `all`.
        var parents: [String: Set<String>] = [:]
        for (name, group) in groups { for child in group.children { parents[child, default: []].insert(name) } }
        let depth = depths(parents)
        for name in groups.keys.sorted() where isOwnDescendant(name) {
            problems.add(name, nil, "group '\(name)' is a child of itself (through its children); Ansible refuses such an inventory")
        }
        var drafts: [TargetDraft] = []
        for name in hostOrder {
            guard let host = hosts[name] else { continue }
            var member: Set<String> = []
            var pending = groups.filter { $0.value.hosts.contains(name) }.map(\.key)
            while let group = pending.popLast() {
                guard member.insert(group).inserted else { continue }
                pending += parents[group, default: []]
            }
            member.insert("all")
            var vars: [String: String] = [:]
            for group in member.sorted(by: { (depth[$0] ?? 0, $0) < (depth[$1] ?? 0, $1) }) {
                for (key, value) in groups[group]?.vars ?? [:] { vars[key] = value.value }
            }
            for (key, value) in host.vars { vars[key] = value }
            let labelGroups = member.subtracting(["all", "ungrouped"]).sorted()
            let draft = TargetDraft(name: name, labels: labelGroups.isEmpty ? [:] : ["group": labelGroups.joined(separator: ",")], vars: vars)
            for problem in draft.problems() {
                problems.add("\(host.path).\(problem.field)", host.line, problem.message)
            }
            drafts.append(draft)
        }
        return drafts
    }

    private func isOwnDescendant(_ group: String) -> Bool {
        var seen: Set<String> = []
        var pending = groups[group]?.children ?? []
        while let next = pending.popLast() {
            if next == group { return true }
            if seen.insert(next).inserted { pending += groups[next]?.children ?? [] }
        }
        return false
    }

    /// Each group's distance from `all` (top-level groups are 1); nil for a
    /// group in a cycle that `all` does not reach.
    private func depths(_ parents: [String: Set<String>]) -> [String: Int] {
        var depth: [String: Int] = ["all": 0]
        var queue = ["all"] + groups.keys.filter { $0 != "all" && parents[$0] == nil }.sorted()
        for top in queue.dropFirst() { depth[top] = 1 }
        while !queue.isEmpty {
            let group = queue.removeFirst()
            for child in groups[group]?.children ?? [] where depth[child] == nil {
                depth[child] = depth[group]! + 1
                queue.append(child)
            }
        }
        return depth
    }
}

/// Ansible's YAML inventory: a mapping of groups (usually just `all`), each
/// with optional `hosts` (host → its vars), `vars` and `children`.
enum AnsibleYAML {
    static func read(_ root: InventoryTree, into graph: inout GroupGraph, _ problems: inout InventoryProblems) {
        guard case .map(let groups, _) = root else { return }
        for (name, line, definition) in groups {
            group(name, definition, path: name, line: line, into: &graph, &problems)
        }
    }

    private static func group(
        _ name: String, _ definition: InventoryTree, path: String, line: Int?, into graph: inout GroupGraph, _ problems: inout InventoryProblems
    ) {
        graph.declare(group: name)
        if definition.isNull { return }
        guard case .map(let sections, _) = definition else {
            problems.add(path, definition.line ?? line, "a group is a mapping of hosts, vars and children, not \(definition.kind)")
            return
        }
        for (key, keyLine, value) in sections {
            let at = "\(path).\(key)"
            switch key {
            case "hosts":
                if value.isNull { continue }
                guard case .map(let hosts, _) = value else {
                    problems.add(at, value.line ?? keyLine, "hosts is a mapping of host names to their vars, not \(value.kind)")
                    continue
                }
                for (pattern, hostLine, vars) in hosts {
                    for host in HostPattern.expand(pattern, at: "\(at).\(pattern)", line: hostLine, &problems) {
                        graph.add(host: host, to: name, line: hostLine, path: "\(at).\(host)")
                        VarsReader.read(vars, at: "\(at).\(pattern)", line: hostLine, &problems) { key, value, _ in
                            graph.hosts[host]!.vars[key] = value
                        }
                    }
                }
            case "vars":
                VarsReader.read(value, at: at, line: keyLine, &problems) { key, value, varLine in
                    graph.groups[name]!.vars[key] = (value, varLine)
                }
            case "children":
                if value.isNull { continue }
                guard case .map(let children, _) = value else {
                    problems.add(at, value.line ?? keyLine, "children is a mapping of group names, not \(value.kind)")
                    continue
                }
                for (child, childLine, childDefinition) in children {
                    graph.add(child: child, to: name)
                    group(child, childDefinition, path: "\(at).\(child)", line: childLine, into: &graph, &problems)
                }
            default:
                problems.add(at, keyLine, "unknown key '\(key)' in group '\(name)' (a group has hosts, vars and children)")
            }
        }
    }
}

/// What `ansible-inventory --list` prints: groups as `{hosts: [...],
/// children: [...], vars: {...}}`, host vars under `_meta.hostvars`.
enum AnsibleJSON {
    static func read(_ root: InventoryTree, into graph: inout GroupGraph, _ problems: inout InventoryProblems) {
        guard case .map(let entries, _) = root else { return }
        var hostVars: [String: InventoryTree] = [:]
        for (name, _, definition) in entries {
            if name == "_meta" {
                if case .map(let meta, _) = definition, let vars = meta.first(where: { $0.key == "hostvars" })?.value, case .map(let byHost, _) = vars {
                    for (host, _, v) in byHost { hostVars[host] = v }
                }
                continue
            }
            graph.declare(group: name)
            guard case .map(let sections, _) = definition else {
                problems.add(name, nil, "a group is an object with hosts, children and vars, not \(definition.kind)")
                continue
            }
            for (key, _, value) in sections {
                switch key {
                case "hosts", "children":
                    guard case .list(let items, _) = value else {
                        problems.add("\(name).\(key)", nil, "must be a list of names, not \(value.kind)")
                        continue
                    }
                    for (index, item) in items.enumerated() {
                        guard case .scalar(let member, false, _) = item else {
                            problems.add("\(name).\(key)[\(index)]", nil, "must be a name, not \(item.kind)")
                            continue
                        }
                        if key == "hosts" { graph.add(host: member, to: name, line: nil, path: "\(name).hosts.\(member)") }
                        else { graph.add(child: member, to: name) }
                    }
                case "vars":
                    VarsReader.read(value, at: "\(name).vars", line: nil, &problems) { key, value, _ in graph.groups[name]!.vars[key] = (value, nil) }
                default:
                    problems.add("\(name).\(key)", nil, "unknown key '\(key)' in group '\(name)' (a group has hosts, children and vars)")
                }
            }
        }
        for (host, vars) in hostVars.sorted(by: { $0.key < $1.key }) {
            if graph.hosts[host] == nil { graph.add(host: host, to: "ungrouped", line: nil, path: "_meta.hostvars.\(host)") }
            VarsReader.read(vars, at: "_meta.hostvars.\(host)", line: nil, &problems) { key, value, _ in graph.hosts[host]!.vars[key] = value }
        }
    }
}

/// A list of targets as `target.get` shows them: `name`, `labels`, `vars`.
enum TargetList {
    static func read(_ items: [InventoryTree], _ problems: inout InventoryProblems) -> [TargetDraft] {
        var drafts: [TargetDraft] = []
        var seen: Set<String> = []
        for (index, item) in items.enumerated() {
            let at = "[\(index)]"
            guard case .map(let fields, _) = item else {
                problems.add(at, nil, "a target is an object with name, labels and vars, not \(item.kind)")
                continue
            }
            var draft = TargetDraft(name: "")
            for (key, _, value) in fields {
                switch key {
                case "name":
                    if case .scalar(let name, false, _) = value { draft.name = name } else { problems.add("\(at).name", nil, "must be a string") }
                case "labels", "vars":
                    VarsReader.read(value, at: "\(at).\(key)", line: nil, &problems) { k, v, _ in
                        if key == "labels" { draft.labels[k] = v } else { draft.vars[k] = v }
                    }
                case "id", "createdAt", "updatedAt": continue  // as `target.get` shows them: ignored
                default: problems.add("\(at).\(key)", nil, "unknown key '\(key)' (a target has name, labels and vars)")
                }
            }
            for problem in draft.problems() { problems.add("\(at).\(problem.field)", nil, problem.message) }
            if !draft.name.isEmpty, !seen.insert(draft.name).inserted {
                problems.add("\(at).name", nil, "target '\(draft.name)' is listed more than once")
            }
            drafts.append(draft)
        }
        return drafts
    }
}

/// A mapping of var names to values (null: no vars).
enum VarsReader {
    static func read(
        _ tree: InventoryTree, at path: String, line: Int?, _ problems: inout InventoryProblems, _ set: (String, String, Int?) -> Void
    ) {
        if tree.isNull { return }
        guard case .map(let entries, _) = tree else {
            problems.add(path, tree.line ?? line, "must be a mapping of names to values, not \(tree.kind)")
            return
        }
        for (key, keyLine, value) in entries { set(key, value.varValue, keyLine) }
    }
}

/// Ansible's host ranges: `leaf[01:04]` is leaf01 to leaf04 (the width of
/// the first bound is kept), `[a:c]` letters, `[1:9:2]` a stride.
enum HostPattern {
    static let maximumHosts = Limits.targetsPerRun

    static func expand(_ pattern: String, at path: String, line: Int?, _ problems: inout InventoryProblems) -> [String] {
        guard let open = pattern.firstIndex(of: "["), let close = pattern[open...].firstIndex(of: "]") else { return [pattern] }
        let head = String(pattern[..<open]), tail = String(pattern[pattern.index(after: close)...])
        let parts = pattern[pattern.index(after: open)..<close].split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 2 || parts.count == 3, let stride = parts.count == 3 ? Int(parts[2]) : 1, stride > 0 else {
            problems.add(path, line, "a host range is [START:END] or [START:END:STEP], e.g. leaf[01:24]")
            return []
        }
        var items: [String] = []
        if let start = Int(parts[0]), let end = Int(parts[1]), start <= end {
            let width = parts[0].count
            for n in Swift.stride(from: start, through: end, by: stride) {
                let digits = String(n)
                items.append(String(repeating: "0", count: max(0, width - digits.count)) + digits)
            }
        } else if parts[0].count == 1, parts[1].count == 1, let a = parts[0].unicodeScalars.first, let b = parts[1].unicodeScalars.first,
                  a.properties.isAlphabetic, b.properties.isAlphabetic, a.value <= b.value {
            for v in Swift.stride(from: a.value, through: b.value, by: stride) { items.append(String(Character(Unicode.Scalar(v)!))) }
        } else {
            problems.add(path, line, "a host range counts up from numbers or single letters, e.g. leaf[01:24] or rack-[a:f]")
            return []
        }
        guard items.count <= maximumHosts else {
            problems.add(path, line, "the range makes \(items.count) hosts; at most \(maximumHosts)")
            return []
        }
        // A pattern may hold further ranges after this one.
        return items.flatMap { item in expand(head + item + tail, at: path, line: line, &problems) }
    }
}
