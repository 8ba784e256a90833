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

    public static let paramsPlaceholder = "{{params."
    public static let targetPlaceholder = "{{target."

    /// Whether `text` holds a `{{` at all. Most arguments hold none, and
    /// Foundation's `range(of:)` is slow enough to show in every step's start.
    static func mayHoldPlaceholders(_ text: String) -> Bool {
        var previous: UInt8 = 0
        for byte in text.utf8 {
            if byte == UInt8(ascii: "{"), previous == byte { return true }
            previous = byte
        }
        return false
    }

    /// Every `{{params.NAME}}` name (or with `placeholder` `{{target.`, every
    /// `{{target.VAR}}` var) used in `text`.
    public static func references(in text: String, placeholder: String = paramsPlaceholder) -> [String] {
        guard mayHoldPlaceholders(text) else { return [] }
        var names: [String] = []
        var rest = text[...]
        while let open = rest.range(of: placeholder) {
            guard let close = rest[open.upperBound...].range(of: "}}") else { break }
            names.append(String(rest[open.upperBound..<close.lowerBound]))
            rest = rest[close.upperBound...]
        }
        return names
    }

    public static func substitute(_ text: String, _ params: [String: String], placeholder: String = paramsPlaceholder) -> String {
        guard mayHoldPlaceholders(text) else { return text }
        var out = ""
        var rest = text[...]
        while let open = rest.range(of: placeholder) {
            guard let close = rest[open.upperBound...].range(of: "}}") else { break }
            let name = String(rest[open.upperBound..<close.lowerBound])
            out += rest[..<open.lowerBound]
            out += params[name] ?? String(rest[open.lowerBound..<close.upperBound])
            rest = rest[close.upperBound...]
        }
        return out + rest
    }

    /// Every problem with a run's parameters against its steps: bad names,
    /// oversize values, and each placeholder without a value (named with the
    /// step using it); for a fleet run, each `{{target.VAR}}` some of its
    /// targets have no var for (a run without targets has none at all).
    public static func problems(_ params: [String: String], steps: [Step], locks: [String] = [], targets: [FleetTarget]? = nil) -> [FieldError] {
        var v = Validator()
        v.require(params.count <= 128, "params", "at most 128 parameters")
        for (name, value) in params.sorted(by: { $0.key < $1.key }) {
            v.require(isValidName(name), "params.\(name)", "parameter names are letters, digits, '_', '-', '.'")
            v.require(value.utf8.count <= Limits.envValueLength, "params.\(name)", "must be at most \(Limits.envValueLength) bytes")
            v.require(!value.utf8.contains(0), "params.\(name)", "must not contain a NUL byte")
        }
        v.distinctVariables(params.keys.filter(isValidName), as: environmentName, at: "params")
        var reported: Set<String> = []
        for (user, texts) in placeholderTexts(steps: steps, locks: locks) {
            for name in texts.flatMap({ references(in: $0) }) where params[name] == nil && reported.insert(name).inserted {
                v.require(false, "params.\(name)", "missing: \(user) uses {{params.\(name)}}")
            }
            for variable in texts.flatMap({ references(in: $0, placeholder: targetPlaceholder) }) where reported.insert("target.\(variable)").inserted {
                guard let targets else {
                    v.require(false, "targets", "\(user) uses {{target.\(variable)}}: start the run with targets")
                    continue
                }
                let lacking = targets.filter { targetValues($0)[variable] == nil }.map(\.name)
                v.require(lacking.isEmpty, "targets",
                          "\(user) uses {{target.\(variable)}}, a var \(lacking.count) of the targets do not have: "
                              + lacking.prefix(5).joined(separator: ", ") + (lacking.count > 5 ? ", …" : ""))
            }
        }
        // Filled in, a lock is a key in the database's index: it must stay short.
        let each: [FleetTarget?] = targets.map { $0.map { Optional($0) } } ?? [nil]
        for target in each {
            for lock in locks + steps.flatMap(\.locks) where fill(lock, params, target: target).utf8.count > LockRules.maximumResolvedLength {
                if reported.insert("lock.\(lock)").inserted {
                    v.require(false, "locks", "lock '\(lock.prefix(60))' is longer than \(LockRules.maximumResolvedLength) bytes once filled in")
                }
            }
        }
        return v.errors
    }

    /// The texts where placeholders are filled in, by who uses them.
    static func placeholderTexts(steps: [Step], locks: [String]) -> [(user: String, texts: [String])] {
        [("the workflow's locks", locks)] + steps.map { step in
            ("step '\(step.name)'", step.action.exec + step.action.env.values.sorted() + [step.action.cwd ?? ""] + step.locks)
        }
    }

    /// Every `{{params.NAME}}` of these steps (their rollbacks' too) and locks, sorted.
    public static func referenced(steps: [Step], locks: [String]) -> [String] {
        let rollbacks = steps.compactMap(\.undoing)
        return Set(placeholderTexts(steps: steps + rollbacks, locks: locks).flatMap { $0.texts.flatMap { references(in: $0) } }).sorted()
    }

    /// `text` with its `{{params.NAME}}` and, for a fleet member, `{{target.VAR}}` filled in.
    public static func fill(_ text: String, _ params: [String: String], target: FleetTarget?) -> String {
        let filled = substitute(text, params)
        guard let target else { return filled }
        return substitute(filled, targetValues(target), placeholder: targetPlaceholder)
    }

    /// What `{{target.…}}` reads: the target's vars, and its name as `name`.
    public static func targetValues(_ target: FleetTarget) -> [String: String] {
        target.vars.merging(["name": target.name]) { _, name in name }
    }

    /// The action with every placeholder replaced: `{{params.NAME}}`,
    /// `{{secrets.NAME}}`, and in a fleet member's steps `{{target.VAR}}`,
    /// in one pass over the text as written: a value filled in is never
    /// read for placeholders, so a parameter (or a target's var) holding
    /// `{{secrets.token}}` cannot pull a secret into the command.
    public static func resolve(_ action: Action, _ params: [String: String], target: FleetTarget? = nil, secrets: [String: String] = [:]) -> Action {
        var sources = [(paramsPlaceholder, params), (SecretRules.placeholder, secrets)]
        if let target { sources.append((targetPlaceholder, targetValues(target))) }
        let once = { (text: String) in fillOnce(text, sources) }
        return Action(exec: action.exec.map(once), env: action.env.mapValues(once), cwd: action.cwd.map(once))
    }

    /// `text` with each `{{<prefix>NAME}}` of `sources` that has a value replaced, scanning only the text as written.
    static func fillOnce(_ text: String, _ sources: [(prefix: String, values: [String: String])]) -> String {
        guard mayHoldPlaceholders(text) else { return text }
        var out = ""
        var rest = text[...]
        while let open = rest.range(of: "{{") {
            out += rest[..<open.lowerBound]
            let placeholder = rest[open.lowerBound...]
            if let source = sources.first(where: { placeholder.hasPrefix($0.prefix) }),
               let close = placeholder.range(of: "}}"),
               let value = source.values[String(placeholder[placeholder.index(placeholder.startIndex, offsetBy: source.prefix.count)..<close.lowerBound])] {
                out += value
                rest = placeholder[close.upperBound...]
            } else {
                out += "{{"
                rest = placeholder.dropFirst(2)
            }
        }
        return out + rest
    }
}
