import Foundation

/// A step that runs nothing but waits for people: `approvers` distinct
/// admins (or members of `group`) approve it, or one rejects it, or it
/// times out. With `notStarter` (the default), whoever started the run
/// cannot approve it: four eyes.
public struct Approval: Sendable, Equatable {
    public var approvers: Int
    public var group: String?
    public var notStarter: Bool
    public var timeoutSeconds: Int?

    public init(approvers: Int = 1, group: String? = nil, notStarter: Bool = true, timeoutSeconds: Int? = nil) {
        self.approvers = approvers
        self.group = group
        self.notStarter = notStarter
        self.timeoutSeconds = timeoutSeconds
    }

    public static let approverRange = 1...16
    /// An approval may wait longer than a command may run: a month.
    public static let timeoutRange = 1...2_592_000
    public static let maximumCommentLength = 4096

    func problems(at field: String) -> [FieldError] {
        var v = Validator()
        v.require(Self.approverRange.contains(approvers), "\(field).approvers", "must be between \(Self.approverRange.lowerBound) and \(Self.approverRange.upperBound)")
        if let group { v.require(GroupNameRule.isValid(group), "\(field).group", "must be a Unix group name (a-z, 0-9, '_', '-', at most 32 characters)") }
        if let timeoutSeconds {
            v.require(Self.timeoutRange.contains(timeoutSeconds), "\(field).timeoutSeconds", "must be between 1 and \(Self.timeoutRange.upperBound) seconds (30 days)")
        }
        return v.errors
    }

    /// What the step shows while it waits.
    public var waitingMessage: String {
        let whom = group.map { "members of group \($0)" } ?? "admins"
        return "waiting for \(approvers) approval\(approvers == 1 ? "" : "s") by \(whom)\(notStarter ? ", not the run's starter" : "")"
            + (timeoutSeconds.map { "; times out after \($0) s" } ?? "")
    }
}

/// Unix group names as useradd(8) accepts them by default.
public enum GroupNameRule {
    public static func isValid(_ name: String) -> Bool {
        guard (1...32).contains(name.utf8.count), let first = name.unicodeScalars.first, first == "_" || ("a"..."z").contains(first) else { return false }
        return name.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "_" || $0 == "-" }
    }
}

/// One person's decision on one attempt of an approval step.
public struct ApprovalDecision: Sendable, Equatable {
    public var runId: String
    public var step: String
    /// The step's attempt it decides: a resumed run asks again, and earlier decisions do not count.
    public var attempt: Int
    public var uid: UInt32
    public var approved: Bool
    public var comment: String
    public var at: Date

    public init(runId: String, step: String, attempt: Int, uid: UInt32, approved: Bool, comment: String, at: Date) {
        self.runId = runId
        self.step = step
        self.attempt = attempt
        self.uid = uid
        self.approved = approved
        self.comment = comment
        self.at = at
    }

    public var verb: String { approved ? "approved" : "rejected" }
}

extension OrchestratorError {
    public static func alreadyDecided(_ decision: ApprovalDecision) -> OrchestratorError {
        .conflict(
            "uid \(decision.uid) has decided on step '\(decision.step)' of run \(decision.runId) already",
            details: ["runId": decision.runId, "step": decision.step, "uid": String(decision.uid)])
    }

    public static func ballotClosed(_ decision: ApprovalDecision) -> OrchestratorError {
        .conflict(
            "step '\(decision.step)' of run \(decision.runId) was settled before this decision arrived; it was not counted (see 'orchctl run get \(decision.runId)')",
            details: ["runId": decision.runId, "step": decision.step, "status": "settled"])
    }
}

/// How an approval step stands, given the decisions on its current attempt.
public enum ApprovalVerdict: Sendable, Equatable {
    case waiting
    case approved
    case rejected(by: UInt32, comment: String)
    case timedOut

    /// A rejection ends it at once; enough approvals end it; else the timeout, counted from when it began waiting.
    public static func of(_ approval: Approval, decisions: [ApprovalDecision], waitingSince: Date?, now: Date) -> ApprovalVerdict {
        if let rejection = decisions.sorted(by: { $0.at < $1.at }).first(where: { !$0.approved }) {
            return .rejected(by: rejection.uid, comment: rejection.comment)
        }
        if Set(decisions.filter(\.approved).map(\.uid)).count >= approval.approvers { return .approved }
        if let timeout = approval.timeoutSeconds, let since = waitingSince, now.timeIntervalSince(since) >= Double(timeout) { return .timedOut }
        return .waiting
    }

    public var error: String? {
        switch self {
        case .waiting, .approved: nil
        case .rejected(let uid, let comment): "rejected by uid \(uid)" + (comment.isEmpty ? "" : ": \(comment)")
        case .timedOut: "approval timed out"
        }
    }
}
