import Foundation

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
        var entry = group()
        return withLookupBuffer { buffer, result in
            getgrnam_r(name, &entry, buffer.baseAddress!, buffer.count, &result)
        } ? entry.gr_gid : nil
    }

    /// Runs a reentrant NSS lookup (`getgrnam_r`, `getpwuid_r`: connections
    /// are authorized concurrently, and the plain calls share one static
    /// buffer), growing its buffer while it says ERANGE. True when found.
    private static func withLookupBuffer<Entry>(
        _ lookup: (UnsafeMutableBufferPointer<CChar>, inout UnsafeMutablePointer<Entry>?) -> Int32
    ) -> Bool {
        var size = 4096
        while size <= 1 << 20 {
            var buffer = [CChar](repeating: 0, count: size)
            var found: UnsafeMutablePointer<Entry>?
            let rc = buffer.withUnsafeMutableBufferPointer { lookup($0, &found) }
            if rc == ERANGE {
                size *= 2
                continue
            }
            return rc == 0 && found != nil
        }
        return false
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
        guard withLookupBuffer({ buffer, result in
            let rc = getpwuid_r(peer.uid, &user, buffer.baseAddress!, buffer.count, &result)
            if rc == 0, result != nil, let found = user.pw_name { name = String(cString: found) }
            return rc
        }) else { return [] }
        var count: Int32 = 64
        var list = [gid_t](repeating: 0, count: Int(count))
        if getgrouplist(name, peer.gid, &list, &count) < 0 {
            list = [gid_t](repeating: 0, count: Int(count))
            _ = getgrouplist(name, peer.gid, &list, &count)
        }
        return Set(list.prefix(Int(max(count, 0))))
    }
}
