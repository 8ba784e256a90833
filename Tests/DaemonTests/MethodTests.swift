import Foundation
import OrchestratorClient
import OrchestratorProtocol
import Testing
import TestSupport

/// Every workflow.* and step.* method and daemon.status, through a raw
/// client on the real daemon and database.
@Suite struct MethodTests {
    @Test func workflowMethodsCreateReadListUpdateAndDelete() async throws {
        try await DaemonProcess.with { daemon in
            let c = try daemon.connect()
            let created = try #require(try await call(c, "workflow.create", ["name": "core-backup", "description": "nightly", "steps": [step("save")]]).value)
            #expect(created["version"] == 1)
            #expect(created["steps"]?.arrayValue?.first?["status"] == "pending")
            let id = try #require(created["id"]?.stringValue)
            #expect(try await call(c, "workflow.get", ["name": "core-backup"]).value == created)
            #expect(try await call(c, "workflow.get", ["id": .string(id)]).value == created)

            _ = try await call(c, "workflow.create", ["name": "access-vlan"])
            let page = try #require(try await call(c, "workflow.list", ["limit": 1]).value)
            #expect(page["items"]?.arrayValue?.map { $0["name"] } == ["access-vlan"])
            #expect(page["next"] == "access-vlan")
            let rest = try #require(try await call(c, "workflow.list", ["after": "access-vlan"]).value)
            #expect(rest["items"]?.arrayValue?.map { $0["name"] } == ["core-backup"])
            #expect(rest["next"] == .null)

            let updated = try #require(try await call(c, "workflow.update", ["name": "core-backup", "description": "hourly", "expectedVersion": 1]).value)
            #expect(updated["description"] == "hourly")
            #expect(updated["version"] == 2)
            #expect(updated["steps"] == created["steps"])
            let renamed = try #require(try await call(c, "workflow.update", ["name": "core-backup", "newName": "core-config-backup"]).value)
            #expect(renamed["name"] == "core-config-backup")

            #expect(try await call(c, "workflow.delete", ["name": "core-config-backup"]).value == ["deleted": true])
            #expect(try await call(c, "workflow.get", ["name": "core-config-backup"]).errorCode == .notFound)
        }
    }

    @Test func stepMethodsAddReadListUpdateAndDelete() async throws {
        try await DaemonProcess.with { daemon in
            let c = try daemon.connect()
            _ = try await call(c, "workflow.create", ["name": "vlan"])
            _ = try await call(c, "step.add", ["workflow": "vlan", "step": step("verify", order: 2)])
            _ = try await call(c, "step.add", ["workflow": "vlan", "step": step("push", order: 1, ["/bin/echo", "vlan {{params.vlan}}"])])
            let afterAdd = try #require(try await call(c, "step.add", ["workflow": "vlan", "step": step("backup", order: 1)]).value)
            #expect(afterAdd["version"] == 4)
            let listed = try #require(try await call(c, "step.list", ["workflow": "vlan"]).value)
            #expect(listed["items"]?.arrayValue?.map { $0["name"] } == ["backup", "push", "verify"])
            let push = try #require(try await call(c, "step.get", ["workflow": "vlan", "name": "push"]).value)
            #expect(push["action"]?["exec"] == ["/bin/echo", "vlan {{params.vlan}}"])

            let updated = try #require(try await call(c, "step.update", [
                "workflow": "vlan", "name": "verify", "newName": "check", "timeoutSeconds": 30, "retries": 2,
            ]).value)
            let check = try #require(updated["steps"]?.arrayValue?.first { $0["name"] == "check" })
            #expect(check["timeoutSeconds"] == 30)
            #expect(check["retries"] == 2)
            #expect(check["executionOrder"] == 2)
            let cleared = try #require(try await call(c, "step.update", ["workflow": "vlan", "name": "check", "timeoutSeconds": .null]).value)
            #expect(cleared["steps"]?.arrayValue?.first { $0["name"] == "check" }?["timeoutSeconds"] == .null)

            let afterDelete = try #require(try await call(c, "step.delete", ["workflow": "vlan", "name": "push"]).value)
            #expect(afterDelete["steps"]?.arrayValue?.map { $0["name"] } == ["backup", "check"])
        }
    }

    @Test func daemonStatusReportsHealthAndTheCaller() async throws {
        try await DaemonProcess.with { daemon in
            let status = try #require(try await call(daemon.connect(), "daemon.status").value)
            #expect(status["mongodb"] == "ok")
            #expect(status["activeRuns"] == 0)
            #expect(status["version"]?.stringValue?.isEmpty == false)
            #expect(status["caller"]?["uid"] == .int(Int64(getuid())))
            #expect(status["pid"] == .int(Int64(daemon.pid ?? 0)))
        }
    }

    @Test func domainErrorsCarryTheSpecsCodesAndData() async throws {
        try await DaemonProcess.with { daemon in
            let c = try daemon.connect()
            _ = try await call(c, "workflow.create", ["name": "taken", "steps": [step("a")]])

            guard case .failure(let conflict) = try await call(c, "workflow.create", ["name": "taken"]) else { throw Failure("accepted a duplicate") }
            #expect(conflict.code == .conflict)

            guard case .failure(let stale) = try await call(c, "workflow.update", ["name": "taken", "description": "x", "expectedVersion": 7]) else {
                throw Failure("accepted a stale version")
            }
            #expect(stale.code == .conflict)
            #expect(stale.data?["currentVersion"] == "1")

            guard case .failure(let missing) = try await call(c, "workflow.get", ["name": "ghost"]) else { throw Failure("found a ghost") }
            #expect(missing.code == .notFound)
            #expect(missing.data == ["kind": "workflow", "name": "ghost"])

            #expect(try await call(c, "step.get", ["workflow": "taken", "name": "nope"]).errorCode == .notFound)
            #expect(try await call(c, "step.add", ["workflow": "taken", "step": step("a")]).errorCode == .conflict)

            let bad: JSONValue = ["name": "Bad Name", "description": .string(String(repeating: "x", count: 5000)),
                                  "steps": [step("dup"), step("dup", order: -1, [])]]
            guard case .failure(let invalid) = try await call(c, "workflow.create", bad.objectValue ?? [:]) else { throw Failure("accepted junk") }
            #expect(invalid.code == .validationFailed)
            let fields = invalid.data?["errors"]?.arrayValue?.compactMap { $0["field"]?.stringValue } ?? []
            #expect(Set(fields) == ["name", "description", "steps[1].name", "steps[1].executionOrder", "steps[1].action.exec"])
        }
    }
}

struct Failure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
