import Foundation
import OrchestratorModel

/// Which users steps may run as (`run-as-users`), and whether they (and
/// their groups) exist here. Checked when a workflow is saved and again
/// when a run starts (the configuration may have changed since).
public struct RunAsPolicy: Sendable {
    public var allowedUsers: Set<String>

    public init(allowedUsers: Set<String> = []) {
        self.allowedUsers = allowedUsers
    }

    public func problems(_ steps: [Step], at field: String = "steps") -> [FieldError] {
        var v = Validator()
        for (index, step) in steps.enumerated() {
            guard let runAs = step.runAs, RunAs.isValidName(runAs.user) else { continue }
            let at = "\(field)[\(index)].runAs"
            if !allowedUsers.contains(runAs.user) {
                let allowed = allowedUsers.isEmpty ? "it allows none" : "it allows \(allowedUsers.sorted().joined(separator: ", "))"
                v.require(false, "\(at).user", "step '\(step.name)' may not run as '\(runAs.user)': not in this daemon's run-as-users (\(allowed))")
            } else if getpwnam(runAs.user) == nil {
                v.require(false, "\(at).user", "step '\(step.name)': no user '\(runAs.user)' on this host")
            }
            if let group = runAs.group, RunAs.isValidName(group) {
                if let entry = getgrnam(group) {
                    // Another group would hand the step what that group may read (disk, shadow…).
                    v.require(Self.isMember(runAs.user, of: entry.pointee.gr_gid), "\(at).group",
                              "step '\(step.name)': user '\(runAs.user)' is not a member of group '\(group)'; a step may run only with one of its user's groups")
                } else {
                    v.require(false, "\(at).group", "step '\(step.name)': no group '\(group)' on this host")
                }
            }
        }
        return v.errors
    }

    /// `gid` is the user's primary group or one of its supplementary ones (false when there is no such user).
    static func isMember(_ user: String, of gid: gid_t) -> Bool {
        guard let entry = getpwnam(user) else { return false }
        var count: Int32 = 256
        var groups = [gid_t](repeating: 0, count: Int(count))
        guard getgrouplist(user, entry.pointee.pw_gid, &groups, &count) >= 0 else { return false }
        return groups.prefix(Int(count)).contains(gid)
    }
}
