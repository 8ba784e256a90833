import Foundation
import OrchestratorServices

/// Who is on the other end of a connection, from SO_PEERCRED.
public struct PeerCredentials: Sendable, Equatable, CustomStringConvertible {
    public let pid: Int32
    public let uid: UInt32
    public let gid: UInt32

    public init(pid: Int32, uid: UInt32, gid: UInt32) {
        self.pid = pid
        self.uid = uid
        self.gid = gid
    }

    public var description: String { "uid=\(uid) gid=\(gid) pid=\(pid)" }
}

/// Decides who may mutate: root and members of the admin group. Everyone
/// who can connect may read.
public struct Authorizer: Sendable {
    public let adminGroup: String

    public init(adminGroup: String) {
        self.adminGroup = adminGroup
    }

    public func mayMutate(_ peer: PeerCredentials) -> Bool {
        if peer.uid == 0 { return true }
        guard let adminGID = Self.groupID(adminGroup) else { return false }
        if peer.gid == adminGID { return true }
        return Self.groups(of: peer).contains(adminGID)
    }

    static func groupID(_ name: String) -> UInt32? {
        Accounts.groupID(name)
    }

    /// The caller's supplementary groups as the kernel has them for its
    /// process (what `setpriv --groups` or `newgrp` set), falling back to the
    /// group database when /proc cannot tell.
    static func groups(of peer: PeerCredentials) -> Set<UInt32> {
        if let status = try? String(contentsOfFile: "/proc/\(peer.pid)/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("Groups:") })
        {
            return Set(line.dropFirst("Groups:".count).split(separator: " ").compactMap { UInt32($0.trimmingCharacters(in: .whitespaces)) })
        }
        var user = passwd()
        var name = ""
        guard Accounts.withLookupBuffer({ buffer, result in
            let rc = getpwuid_r(peer.uid, &user, buffer.baseAddress!, buffer.count, &result)
            if rc == 0, result != nil, let found = user.pw_name { name = String(cString: found) }
            return rc
        }) else { return [] }
        return Set(Accounts.groups(of: name, primary: peer.gid))
    }
}
