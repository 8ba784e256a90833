import Dispatch
import Foundation

/// The host's users and groups, asked of NSS with the reentrant calls (the
/// plain ones share one static buffer, and requests are served on several
/// threads). NSS may block (LDAP, sssd): services ask through `lookUp`, on a
/// queue of its own, never on the event loops their handlers run on.
public enum Accounts {
    private static let queue = DispatchQueue(label: "orchestrator.accounts")

    /// Runs `body`, which may ask NSS, on the accounts queue.
    public static func lookUp<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            queue.async { continuation.resume(returning: body()) }
        }
    }

    /// A user's uid and primary group, or nil when the host has none of that name.
    public static func user(named name: String) -> (uid: uid_t, gid: gid_t)? {
        var entry = passwd()
        return withLookupBuffer { buffer, result in
            getpwnam_r(name, &entry, buffer.baseAddress!, buffer.count, &result)
        } ? (entry.pw_uid, entry.pw_gid) : nil
    }

    public static func groupID(_ name: String) -> gid_t? {
        var entry = group()
        return withLookupBuffer { buffer, result in
            getgrnam_r(name, &entry, buffer.baseAddress!, buffer.count, &result)
        } ? entry.gr_gid : nil
    }

    /// The groups `user` is in: `primary` and its supplementary groups.
    public static func groups(of user: String, primary: gid_t) -> [gid_t] {
        var count: Int32 = 64
        var list = [gid_t](repeating: 0, count: Int(count))
        if getgrouplist(user, primary, &list, &count) < 0 {
            list = [gid_t](repeating: 0, count: Int(count))
            _ = getgrouplist(user, primary, &list, &count)
        }
        return Array(list.prefix(Int(max(count, 0))))
    }

    /// Runs a reentrant NSS lookup, growing its buffer while it says ERANGE. True when found.
    public static func withLookupBuffer<Entry>(
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
}
