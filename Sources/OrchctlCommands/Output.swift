import OrchestratorProtocol

/// Column-aligned text tables for people.
struct Table {
    var headers: [String]
    var rows: [[String]] = []

    init(_ headers: String...) {
        self.headers = headers
    }

    mutating func add(_ cells: String...) {
        rows.append(cells)
    }

    func render() -> String {
        let all = [headers] + rows
        let widths = headers.indices.map { column in all.map { $0.indices.contains(column) ? $0[column].count : 0 }.max() ?? 0 }
        return all.map { row in
            row.enumerated().map { index, cell in
                index == row.count - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }.joined(separator: "\n") + "\n"
    }
}

/// Key: value lines with aligned values.
func fields(_ pairs: [(String, String)]) -> String {
    let width = pairs.map(\.0.count).max() ?? 0
    return pairs.map { "\(($0.0 + ":").padding(toLength: width + 1, withPad: " ", startingAt: 0)) \($0.1)" }.joined(separator: "\n") + "\n"
}

enum Render {
    static func text(_ value: JSONValue?) -> String {
        switch value {
        case .none, .some(.null): "-"
        case .some(.string(let s)): s
        case .some(.int(let i)): String(i)
        case .some(.bool(let b)): b ? "yes" : "no"
        case .some(let other): JSONCoding.serialize(other)
        }
    }

    /// An argv as a shell would show it, quoting what needs it.
    static func command(_ step: JSONValue) -> String {
        (step["action"]?["exec"]?.arrayValue ?? []).compactMap(\.stringValue).map(shellQuoted).joined(separator: " ")
    }

    /// Newlines are shown as `\n` so a multi-line script keeps a table row on one line.
    static func shellQuoted(_ word: String) -> String {
        let word = word.replacingOccurrences(of: "\n", with: "\\n")
        if !word.isEmpty, word.allSatisfy({ $0.isLetter || $0.isNumber || "-_./:=@%+,{}".contains($0) }) { return word }
        return "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }

    static func steps(_ steps: [JSONValue]) -> String {
        var table = Table("ORDER", "NAME", "STATUS", "TIMEOUT", "RETRIES", "FLAGS", "COMMAND")
        for step in steps {
            var flags: [String] = []
            if step["continueOnFailure"] == .bool(true) { flags.append("continue-on-failure") }
            if step["idempotent"] == .bool(true) { flags.append("idempotent") }
            table.add(
                text(step["executionOrder"]), text(step["name"]), text(step["status"]),
                step["timeoutSeconds"]?.intValue.map { "\($0)s" } ?? "-", text(step["retries"]),
                flags.isEmpty ? "-" : flags.joined(separator: ","), command(step))
        }
        return table.render()
    }

    static func workflow(_ w: JSONValue) -> String {
        var out = fields([
            ("Name", text(w["name"])), ("Id", text(w["id"])), ("Description", text(w["description"])),
            ("Version", text(w["version"])), ("Created", text(w["createdAt"])), ("Updated", text(w["updatedAt"])),
        ])
        let stepList = w["steps"]?.arrayValue ?? []
        out += "\n" + (stepList.isEmpty ? "No steps yet: add one with 'orchctl step add \(text(w["name"])) NAME --order N -- CMD'.\n" : steps(stepList))
        return out
    }

    static func step(_ s: JSONValue) -> String {
        var pairs: [(String, String)] = [
            ("Name", text(s["name"])), ("Description", text(s["description"])), ("Order", text(s["executionOrder"])),
            ("Status", text(s["status"])), ("Command", command(s)),
        ]
        if let env = s["action"]?["env"]?.objectValue, !env.isEmpty {
            pairs.append(("Environment", env.keys.sorted().map { "\($0)=\(text(env[$0]))" }.joined(separator: " ")))
        }
        if let cwd = s["action"]?["cwd"]?.stringValue { pairs.append(("Directory", cwd)) }
        pairs += [
            ("Timeout", s["timeoutSeconds"]?.intValue.map { "\($0)s" } ?? "none"), ("Retries", text(s["retries"])),
            ("Retry delay", "\(text(s["retryDelaySeconds"]))s"), ("Continue on failure", text(s["continueOnFailure"])),
            ("Idempotent", text(s["idempotent"])),
        ]
        return fields(pairs)
    }
}
