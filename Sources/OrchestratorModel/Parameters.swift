/// Run parameters: `{{params.NAME}}` placeholders in an action, and the
/// `ORCH_PARAM_<NAME>` environment every step gets.
public enum Parameters {
    /// Names a parameter may have: the characters a placeholder can hold.
    public static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 64 && name.utf8.allSatisfy {
            (48...57).contains($0) || (65...90).contains($0) || (97...122).contains($0) || $0 == 95 || $0 == 45 || $0 == 46
        }
    }

    /// `host-name.v4` → `ORCH_PARAM_HOST_NAME_V4`.
    public static func environmentName(_ name: String) -> String {
        "ORCH_PARAM_" + String(name.uppercased().map { $0 == "-" || $0 == "." ? "_" : $0 })
    }

    /// Every `{{params.NAME}}` name used in `text`.
    public static func references(in text: String) -> [String] {
        var names: [String] = []
        var rest = text[...]
        while let open = rest.range(of: "{{params.") {
            guard let close = rest[open.upperBound...].range(of: "}}") else { break }
            names.append(String(rest[open.upperBound..<close.lowerBound]))
            rest = rest[close.upperBound...]
        }
        return names
    }

    public static func substitute(_ text: String, _ params: [String: String]) -> String {
        var out = ""
        var rest = text[...]
        while let open = rest.range(of: "{{params.") {
            guard let close = rest[open.upperBound...].range(of: "}}") else { break }
            let name = String(rest[open.upperBound..<close.lowerBound])
            out += rest[..<open.lowerBound]
            out += params[name] ?? String(rest[open.lowerBound..<close.upperBound])
            rest = rest[close.upperBound...]
        }
        return out + rest
    }

    /// Every problem with a run's parameters against its steps: bad names,
    /// oversize values, and each placeholder without a value (named with the step using it).
    public static func problems(_ params: [String: String], steps: [Step]) -> [FieldError] {
        var v = Validator()
        v.require(params.count <= 128, "params", "at most 128 parameters")
        for (name, value) in params.sorted(by: { $0.key < $1.key }) {
            v.require(isValidName(name), "params.\(name)", "parameter names are letters, digits, '_', '-', '.'")
            v.require(value.utf8.count <= Limits.envValueLength, "params.\(name)", "must be at most \(Limits.envValueLength) bytes")
            v.require(!value.utf8.contains(0), "params.\(name)", "must not contain a NUL byte")
        }
        // Two names one environment variable would hold: a step would see only one of their values.
        let byVariable = Dictionary(grouping: params.keys.filter(isValidName), by: environmentName)
        for (variable, names) in byVariable.sorted(by: { $0.key < $1.key }) where names.count > 1 {
            let sorted = names.sorted()
            v.require(false, "params.\(sorted[0])",
                      "\(sorted.map { "'\($0)'" }.joined(separator: " and ")) would all be \(variable) in the steps' environment; rename all but one")
        }
        var reported: Set<String> = []
        for step in steps {
            let texts = step.action.exec + step.action.env.values.sorted() + [step.action.cwd ?? ""]
            for name in texts.flatMap(references(in:)) where params[name] == nil && reported.insert(name).inserted {
                v.require(false, "params.\(name)", "missing: step '\(step.name)' uses {{params.\(name)}}")
            }
        }
        return v.errors
    }

    /// The action with every placeholder replaced.
    public static func resolve(_ action: Action, _ params: [String: String]) -> Action {
        Action(
            exec: action.exec.map { substitute($0, params) },
            env: action.env.mapValues { substitute($0, params) },
            cwd: action.cwd.map { substitute($0, params) })
    }
}
