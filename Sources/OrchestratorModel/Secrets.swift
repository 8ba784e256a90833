import Foundation

/// A secret as anyone may learn of it: its name, who set it and when, and
/// which key it is sealed under. Never its value.
public struct SecretRecord: Sendable, Equatable {
    public var name: String
    public var setBy: UInt32
    public var setAt: Date
    /// The id of the key its value is encrypted under (see SecretKeyring).
    public var keyId: String

    public init(name: String, setBy: UInt32, setAt: Date, keyId: String) {
        self.name = name
        self.setBy = setBy
        self.setAt = setAt
        self.keyId = keyId
    }
}

/// A secret's value as it is kept: AES-GCM's nonce, ciphertext and tag in
/// one (`AES.GCM.SealedBox.combined`), bound to the secret's name.
public struct SealedSecret: Sendable, Equatable {
    public var record: SecretRecord
    public var sealed: [UInt8]

    public init(record: SecretRecord, sealed: [UInt8]) {
        self.record = record
        self.sealed = sealed
    }
}

/// The user (and group) a step's process runs as instead of the daemon's.
public struct RunAs: Sendable, Equatable {
    public var user: String
    /// Nil: the user's primary group.
    public var group: String?

    public init(user: String, group: String? = nil) {
        self.user = user
        self.group = group
    }

    /// POSIX portable user and group names (useradd's default rule).
    public static func isValidName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard let first = bytes.first, bytes.count <= 32 else { return false }
        func isStart(_ b: UInt8) -> Bool { (97...122).contains(b) || b == 95 }
        return isStart(first) && bytes.dropFirst().allSatisfy { isStart($0) || (48...57).contains($0) || $0 == 45 }
    }

    public func problems(at field: String) -> [FieldError] {
        var v = Validator()
        v.require(Self.isValidName(user), "\(field).user", "'\(user.prefix(40))' is not a user name (a-z, 0-9, '_', '-', starting with a letter or '_', at most 32)")
        if let group {
            v.require(Self.isValidName(group), "\(field).group", "'\(group.prefix(40))' is not a group name (a-z, 0-9, '_', '-', starting with a letter or '_', at most 32)")
        }
        return v.errors
    }
}

/// The rules of secrets: their names, their values, `{{secrets.NAME}}` and
/// the `ORCH_SECRET_<NAME>` a step's `secrets` puts in its environment.
public enum SecretRules {
    public static let maximumValueBytes = 64 * 1024
    public static let placeholder = "{{secrets."
    /// What a secret's value is shown as, wherever it would be.
    public static let mask = "***"

    /// `device-pw.v2` → `ORCH_SECRET_DEVICE_PW_V2`.
    public static func environmentName(_ name: String) -> String {
        "ORCH_SECRET_" + String(name.uppercased().map { $0 == "-" || $0 == "." ? "_" : $0 })
    }

    public static func problems(name: String, value: String) -> [FieldError] {
        var v = Validator()
        v.name(name, "name")
        v.require(!value.isEmpty, "value", "must not be empty")
        v.require(value.utf8.count <= maximumValueBytes, "value", "must be at most \(maximumValueBytes) bytes (64 KiB), got \(value.utf8.count)")
        v.require(!value.utf8.contains(0), "value", "must not contain a NUL byte (it goes into an environment or an argument)")
        return v.errors
    }

    /// Every secret `step` uses: its `secrets` and each `{{secrets.NAME}}`
    /// in its action's argv and environment (and its rollback's).
    public static func used(by step: Step) -> [String] {
        let actions = [step.action] + (step.rollback.map { [$0] } ?? [])
        let texts = actions.flatMap { $0.exec + $0.env.values.sorted() }
        return Array(Set(step.secrets + texts.flatMap { Parameters.references(in: $0, placeholder: placeholder) })).sorted()
    }

    /// Every secret a run of these steps uses, sorted.
    public static func used(by steps: [Step]) -> [String] {
        Array(Set(steps.flatMap(used(by:)))).sorted()
    }

    /// Problems of a step's secrets: names, their variables, and
    /// `{{secrets.…}}` where a value would be stored or shown (cwd, locks).
    public static func problems(of step: Step, at field: String) -> [FieldError] {
        var v = Validator()
        v.require(step.secrets.count <= 32, "\(field).secrets", "at most 32 secrets")
        for name in step.secrets { v.name(name, "\(field).secrets") }
        v.require(Set(step.secrets).count == step.secrets.count, "\(field).secrets", "names a secret twice")
        v.distinctVariables(Set(step.secrets.filter(NameRule.isValid)), as: environmentName, at: "\(field).secrets")
        for (index, action) in ([step.action] + (step.rollback.map { [$0] } ?? [])).enumerated() {
            let at = index == 0 ? "\(field).action" : "\(field).rollback"
            for name in (action.exec + action.env.values.sorted()).flatMap({ Parameters.references(in: $0, placeholder: placeholder) }) {
                v.name(name, "\(at): {{secrets.\(name.prefix(40))}}")
            }
            if let cwd = action.cwd {
                v.require(!cwd.contains(placeholder), "\(at).cwd", "a secret cannot be part of a working directory (it would be shown in errors)")
            }
        }
        for lock in step.locks {
            v.require(!lock.contains(placeholder), "\(field).locks", "a secret cannot be part of a lock's name (locks are stored and shown)")
        }
        return v.errors
    }

    /// Problems of a workflow's secret parameters: their names, and their
    /// use in locks (which are stored and shown with the values filled in).
    public static func problems(secretParams: [String], locks: [String], steps: [Step], at field: String = "secretParams") -> [FieldError] {
        var v = Validator()
        v.require(secretParams.count <= 32, field, "at most 32 secret parameters")
        for name in secretParams { v.require(Parameters.isValidName(name), field, "'\(name.prefix(40))': parameter names are letters, digits, '_', '-', '.'") }
        v.require(Set(secretParams).count == secretParams.count, field, "names a parameter twice")
        let secret = Set(secretParams)
        for lock in locks + steps.flatMap(\.locks) {
            for name in Parameters.references(in: lock) where secret.contains(name) {
                v.require(false, "locks", "lock '\(lock.prefix(60))' uses secret parameter '\(name)': locks are stored and shown, a secret cannot be part of one")
            }
        }
        return v.errors
    }

    /// `params` with the values of the secret ones shown as `***`.
    public static func masked(_ params: [String: String], secret: [String]) -> [String: String] {
        var shown = params
        for name in secret where shown[name] != nil { shown[name] = mask }
        return shown
    }
}

/// Replaces every occurrence of secret values in a stream of bytes by
/// `***`, across the chunks the stream arrives in: it holds back the last
/// bytes of a chunk that could be the start of a value until the next
/// chunk (or the end) tells. Values are matched longest first.
public struct SecretMasker: Sendable {
    private let values: [[UInt8]]
    private let longest: Int
    private var pending: [UInt8] = []

    /// `values`: what must never be shown. Each line of a multi-line value
    /// is masked on its own as well (a step may print it line by line).
    public init(_ values: some Sequence<String>) {
        var all = Set<String>()
        for value in values where !value.isEmpty {
            all.insert(value)
            for line in value.split(whereSeparator: \.isNewline) where line.utf8.count >= 4 { all.insert(String(line)) }
        }
        self.values = all.map { Array($0.utf8) }.sorted { $0.count > $1.count }
        longest = self.values.first?.count ?? 0
    }

    public var isEmpty: Bool { values.isEmpty }

    /// The bytes of `chunk` that can be let through now, masked.
    public mutating func feed(_ chunk: some Collection<UInt8>) -> [UInt8] {
        guard !values.isEmpty else { return Array(chunk) }
        pending.append(contentsOf: chunk)
        let (out, kept) = Self.mask(pending, holdBack: longest - 1, values: values)
        pending = kept
        return out
    }

    /// What is held back, masked: the stream ended.
    public mutating func finish() -> [UInt8] {
        defer { pending.removeAll() }
        return Self.mask(pending, holdBack: 0, values: values).out
    }

    /// `text` with every value masked.
    public func redact(_ text: String) -> String {
        guard !values.isEmpty else { return text }
        return String(decoding: Self.mask(Array(text.utf8), holdBack: 0, values: values).out, as: UTF8.self)
    }

    private static func mask(_ bytes: [UInt8], holdBack: Int, values: [[UInt8]]) -> (out: [UInt8], kept: [UInt8]) {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var index = 0
        scanning: while index < bytes.count {
            for value in values where bytes[index] == value[0] {
                let end = index + value.count
                if end <= bytes.count {
                    if bytes[index..<end].elementsEqual(value) {
                        out.append(contentsOf: SecretRules.mask.utf8)
                        index = end
                        continue scanning
                    }
                } else if holdBack > 0, bytes[index...].elementsEqual(value.prefix(bytes.count - index)) {
                    // Could be a value the next chunk completes: keep it (and what follows) back.
                    return (out, Array(bytes[index...]))
                }
            }
            out.append(bytes[index])
            index += 1
        }
        return (out, [])
    }
}
