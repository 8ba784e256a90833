import Foundation
import Testing
import TestSupport

/// Peer credentials decide: the socket group may connect and read, the admin
/// group (and root) may also mutate, everyone else cannot connect.
@Suite struct AuthorizationTests {
    private static let nobody: UInt32 = 65534
    private static let nogroup: UInt32 = 65534

    @Test func aReaderMayReadButNotMutate() async throws {
        guard getuid() == 0 else { throw Failure("these tests switch users with setpriv and must run as root") }
        try await DaemonProcess.with(arguments: ["--socket-group", "nogroup", "--admin-group", "adm"]) { daemon in
            let root = try await orchctl(daemon, ["workflow", "create", "audit-me"])
            #expect(root.status == 0, "\(root)")

            let reader = (uid: Self.nobody, gid: Self.nogroup, groups: [Self.nogroup])
            let list = try await orchctl(daemon, ["workflow", "list"], asUser: reader)
            #expect(list.status == 0, "\(list)")
            #expect(list.stdout.contains("audit-me"))

            let create = try await orchctl(daemon, ["workflow", "create", "sneaky"], asUser: reader)
            #expect(create.status == 5, "\(create)")
            #expect(create.stderr.contains("permission denied"))
            let delete = try await orchctl(daemon, ["workflow", "delete", "audit-me"], asUser: reader)
            #expect(delete.status == 5, "\(delete)")
            #expect(daemon.log().contains("refused workflow.create: caller is not an admin"))
            #expect(daemon.log().contains("PEER_UID=\(Self.nobody)"))
        }
    }

    @Test func anAdminGroupMemberMayMutate() async throws {
        guard getuid() == 0 else { throw Failure("these tests switch users with setpriv and must run as root") }
        let adm = try #require(groupID("adm"))
        try await DaemonProcess.with(arguments: ["--socket-group", "nogroup", "--admin-group", "adm"]) { daemon in
            let admin = (uid: Self.nobody, gid: Self.nogroup, groups: [Self.nogroup, adm])
            let create = try await orchctl(daemon, ["workflow", "create", "by-admin"], asUser: admin)
            #expect(create.status == 0, "\(create)")
            #expect(daemon.log().contains("workflow.create by uid \(Self.nobody) succeeded"))
        }
    }

    @Test func someoneOutsideTheSocketGroupCannotConnect() async throws {
        guard getuid() == 0 else { throw Failure("these tests switch users with setpriv and must run as root") }
        try await DaemonProcess.with(arguments: ["--socket-group", "nogroup", "--admin-group", "adm"]) { daemon in
            var info = stat()
            #expect(stat(daemon.socketPath, &info) == 0)
            #expect(info.st_mode & 0o777 == 0o660)
            #expect(info.st_gid == Self.nogroup)
            let outsider = try await orchctl(daemon, ["status"], asUser: (uid: Self.nobody, gid: 4242, groups: []))
            #expect(outsider.status == 69, "\(outsider)")
            #expect(outsider.stderr.contains(daemon.socketPath))
            #expect(outsider.stderr.contains("Permission denied"))
        }
    }
}
