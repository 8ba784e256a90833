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

    /// Every problem of the steps' `runAs`; the host's accounts are asked on the accounts queue.
    public func problems(_ steps: [Step], at field: String = "steps") async -> [FieldError] {
        let asking = steps.enumerated().compactMap { index, step in step.runAs.map { (index, step.name, $0) } }
        guard !asking.isEmpty else { return [] }
        let allowedUsers = allowedUsers
        return await Accounts.lookUp {
            var v = Validator()
            for (index, name, runAs) in asking where RunAs.isValidName(runAs.user) {
                let at = "\(field)[\(index)].runAs"
                let user = Accounts.user(named: runAs.user)
                if !allowedUsers.contains(runAs.user) {
                    let allowed = allowedUsers.isEmpty ? "it allows none" : "it allows \(allowedUsers.sorted().joined(separator: ", "))"
                    v.require(false, "\(at).user", "step '\(name)' may not run as '\(runAs.user)': not in this daemon's run-as-users (\(allowed))")
                } else if user == nil {
                    v.require(false, "\(at).user", "step '\(name)': no user '\(runAs.user)' on this host")
                }
                guard let group = runAs.group, RunAs.isValidName(group) else { continue }
                guard let gid = Accounts.groupID(group) else {
                    v.require(false, "\(at).group", "step '\(name)': no group '\(group)' on this host")
                    continue
                }
                // Another group would hand the step what that group may read (disk, shadow…).
                let member = user.map { Accounts.groups(of: runAs.user, primary: $0.gid).contains(gid) } ?? false
                v.require(member, "\(at).group",
                          "step '\(name)': user '\(runAs.user)' is not a member of group '\(group)'; a step may run only with one of its user's groups")
            }
            return v.errors
        }
    }
}
