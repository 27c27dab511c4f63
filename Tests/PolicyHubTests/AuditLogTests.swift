import Foundation
import HTTPTypes
import PolicyHubCore
import Testing

/// Every change, and every refused attempt at one, leaves an event its organization's admins can read.
@Suite("Audit log")
struct AuditLogTests {
    @Test func changesAndRefusalsAreRecordedWithWhoAndFromWhere() async throws {
        try await TestServer.with { server, api in
            let token = server.adminToken
            let member = try await server.makeUser("viewer", in: "default", role: .member)
            // One step a second, so the newest-first order is the order of the steps.
            try await api.publish("default", "guard", tag: "1.0.0", token: token)
            server.clock.advance(by: 1)
            _ = try await api.send(
                .post, "/api/orgs/default/policygroups", token: token, json: ["name": "prod", "entityType": "stacks"])
            server.clock.advance(by: 1)
            _ = try await api.send(
                .patch, "/api/orgs/default/policygroups/prod", token: token, json: ["addStack": ["name": "web"]])
            server.clock.advance(by: 1)
            _ = try await api.send(.delete, "/api/orgs/default/policygroups/prod", token: token)
            server.clock.advance(by: 1)
            _ = try await api.send(.delete, "/api/orgs/default/policypacks/guard/versions/1.0.0", token: token)
            server.clock.advance(by: 1)
            let refused = try await api.send(.delete, "/api/orgs/default/policypacks/guard", token: member)
            #expect(refused.status == .forbidden)

            let log = try await api.send(.get, "/api/orgs/default/auditlogs", token: token)
            #expect(log.status == .ok)
            let events = try #require(log.json["auditLogEvents"]?.arrayValue)
            let lines = events.map { "\($0["event"]?.stringValue ?? "") \($0["target"]?.stringValue ?? "")" }
            #expect(
                lines.prefix(5) == [
                    "authorization.denied guard: delete Policy Packs",
                    "policypack.version.delete guard@1.0.0",
                    "policygroup.delete prod",
                    "policygroup.update prod",
                    "policygroup.create prod",
                ])
            // Created and completed within the same second, by the same publish.
            #expect(
                Set(lines.suffix(2)) == [
                    "policypack.version.complete guard@1.0.0", "policypack.version.create guard@1.0.0",
                ])
            #expect(events.first?["actor"] == "viewer")
            #expect(events.last?["actor"] == "admin")
            #expect(events.last?["userAgent"] == "pulumi-cli/1 (v3.259.0; linux; cmd=policy-publish)")

            let filtered = try await api.send(
                .get, "/api/orgs/default/auditlogs?event=policygroup.create", token: token)
            #expect(filtered.json["auditLogEvents"]?.arrayValue?.count == 1)
            let future = Int(server.clock.wallClock.now().timeIntervalSince1970) + 60
            let none = try await api.send(.get, "/api/orgs/default/auditlogs?startTime=\(future)", token: token)
            #expect(none.json["auditLogEvents"] == [])

            // Admins only; nothing in the API changes or removes events.
            #expect(try await api.send(.get, "/api/orgs/default/auditlogs", token: member).status == .forbidden)
            let outsider = try await server.makeUser("outsider")
            #expect(try await api.send(.get, "/api/orgs/default/auditlogs", token: outsider).status == .notFound)
            #expect(
                try await api.send(.delete, "/api/orgs/default/auditlogs", token: token).status == .methodNotAllowed)
        }
    }

    @Test func aFailedChangeLeavesNoEventOfItsOwn() async throws {
        try await TestServer.with { server, api in
            let token = server.adminToken
            // The create fails validation, the group does not exist: no event claims either happened.
            _ = try await api.send(
                .post, "/api/orgs/default/policypacks", token: token,
                json: Fixtures.createBody("p", tag: "1", policies: []))
            _ = try await api.send(.delete, "/api/orgs/default/policygroups/missing", token: token)
            let log = try await api.send(.get, "/api/orgs/default/auditlogs", token: token)
            #expect(log.json["auditLogEvents"] == [])
        }
    }

    @Test func pagesFollowTheContinuationToken() async throws {
        try await TestServer.with { server, api in
            for index in 0..<105 {
                _ = try await api.send(
                    .post, "/api/orgs/default/policypacks", token: server.adminToken,
                    json: Fixtures.createBody("p\(index)", tag: "1.0.0"))
                server.clock.advance(by: 1)
            }
            let first = try await api.send(.get, "/api/orgs/default/auditlogs", token: server.adminToken)
            #expect(first.json["auditLogEvents"]?.arrayValue?.count == 100)
            let next = try #require(first.json["continuationToken"]?.stringValue)
            let second = try await api.send(
                .get, "/api/orgs/default/auditlogs?continuationToken=\(next)", token: server.adminToken)
            #expect(
                second.json["auditLogEvents"]?.arrayValue?.map { $0["target"] } == [
                    "p4@1.0.0", "p3@1.0.0", "p2@1.0.0", "p1@1.0.0", "p0@1.0.0",
                ])
            #expect(second.json["continuationToken"] == nil)
        }
    }
}
