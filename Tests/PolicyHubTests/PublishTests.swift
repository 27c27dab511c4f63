import Foundation
import HTTPTypes
import PolicyHubCore
import Testing

@Suite("Publishing policy packs")
struct PublishTests {
    @Test func createUploadCompleteMakesTheVersionVisible() async throws {
        try await TestServer.with { server, api in
            let token = server.adminToken
            let created = try await api.send(
                .post, "/api/orgs/default/policypacks", token: token, json: Fixtures.createBody("aws", tag: "1.4.0"))
            #expect(created.status == .created)
            #expect(created.json["version"] == .int(1))
            let uploadURI = try #require(created.json["uploadURI"]?.stringValue)
            #expect(uploadURI.hasPrefix(TestServer.publicURL + "/api/uploads/"))
            #expect(created.json["requiredHeaders"] == .object(["Content-Type": .string("application/octet-stream")]))

            // Pending versions are invisible.
            let before = try await api.send(.get, "/api/orgs/default/policypacks", token: token)
            #expect(before.json["policyPacks"] == .array([]))
            let pending = try await api.send(.get, "/api/orgs/default/policypacks/aws/versions/1.4.0", token: token)
            #expect(pending.status == .badRequest)
            #expect(pending.message == "Cannot get incomplete Policy Pack")

            let uploaded = try await api.upload(uploadURI, Fixtures.packArchive())
            #expect(uploaded.status == .ok)
            let completed = try await api.send(
                .post, "/api/orgs/default/policypacks/aws/versions/1.4.0/complete", token: token)
            #expect(completed.status == .noContent)

            let list = try await api.send(.get, "/api/orgs/default/policypacks", token: token)
            #expect(
                list.json
                    == .object([
                        "policyPacks": .array([
                            .object([
                                "name": "aws", "displayName": "Pack aws", "versions": .array([.int(1)]),
                                "versionTags": .array(["1.4.0"]),
                            ])
                        ])
                    ]))
            let version = try await api.send(.get, "/api/orgs/default/policypacks/aws/versions/1.4.0", token: token)
            #expect(version.status == .ok)
            #expect(version.json["applied"] == .bool(false))
            #expect(version.json["policies"]?.arrayValue?.first?["name"] == "rule")
            #expect(try server.storedArchives().count == 1)
        }
    }

    @Test func versionNumbersCountUpAndAreNeverReused() async throws {
        try await TestServer.with { server, api in
            let token = server.adminToken
            #expect(try await api.publish("default", "p", tag: "1.0.0", token: token) == 1)
            #expect(try await api.publish("default", "p", tag: "1.1.0", token: token) == 2)
            let deleted = try await api.send(.delete, "/api/orgs/default/policypacks/p/versions/1.1.0", token: token)
            #expect(deleted.status == .ok)
            #expect(try await api.publish("default", "p", tag: "1.2.0", token: token) == 3)
            // Another pack has its own counter.
            #expect(try await api.publish("default", "q", tag: "1.0.0", token: token) == 1)
        }
    }

    @Test func aCompletedTagCannotBePublishedAgain() async throws {
        try await TestServer.with { server, api in
            try await api.publish("default", "p", tag: "1.0.0", token: server.adminToken)
            let again = try await api.send(
                .post, "/api/orgs/default/policypacks", token: server.adminToken,
                json: Fixtures.createBody("p", tag: "1.0.0"))
            #expect(again.status == .conflict)
            #expect(again.code == 409)
            #expect(again.json["errors"]?.arrayValue?.first?["errorType"] == "already_exists")
        }
    }

    @Test func repeatingThePendingTagReusesTheVersionWithAFreshLink() async throws {
        try await TestServer.with { server, api in
            let body = Fixtures.createBody("p", tag: "2.0.0")
            let first = try await api.send(.post, "/api/orgs/default/policypacks", token: server.adminToken, json: body)
            server.clock.advance(by: 1)
            let second = try await api.send(
                .post, "/api/orgs/default/policypacks", token: server.adminToken, json: body)
            #expect(first.json["version"] == .int(1))
            #expect(second.json["version"] == .int(1))
            #expect(first.json["uploadURI"] != second.json["uploadURI"])
            // Either link still works for the pending version.
            let uploaded = try await api.upload(
                try #require(first.json["uploadURI"]?.stringValue), Fixtures.packArchive())
            #expect(uploaded.status == .ok)
        }
    }

    @Test func untaggedVersionsAreCompletedByNumber() async throws {
        try await TestServer.with { server, api in
            #expect(try await api.publish("default", "legacy", tag: nil, token: server.adminToken) == 1)
            let list = try await api.send(.get, "/api/orgs/default/policypacks", token: server.adminToken)
            #expect(list.json["policyPacks"]?.arrayValue?.first?["versionTags"] == .array([""]))
            let version = try await api.send(
                .get, "/api/orgs/default/policypacks/legacy/versions/1", token: server.adminToken)
            #expect(version.json["versionTag"] == "")
        }
    }

    @Test func createReportsEveryProblemAtOnce() async throws {
        try await TestServer.with { server, api in
            let body: JSONValue = .object([
                "displayName": .int(3),
                "versionTag": "not a tag!",
                "policies": .array([
                    Fixtures.policy("dup", level: "sometimes"),
                    Fixtures.policy("dup"),
                    .object([
                        "name": "schema", "displayName": "", "description": "", "message": "",
                        "enforcementLevel": "advisory", "severity": "urgent",
                        "configSchema": .object(["type": "string"]),
                    ]),
                ]),
            ])
            let response = try await api.send(
                .post, "/api/orgs/default/policypacks", token: server.adminToken, json: body)
            #expect(response.status == .badRequest)
            #expect(response.code == 400)
            let errors = try #require(response.json["errors"]?.arrayValue)
            let pairs = errors.map {
                "\($0["resource"]?.stringValue ?? "").\($0["attribute"]?.stringValue ?? ""):\($0["errorType"]?.stringValue ?? "")"
            }
            #expect(
                Set(pairs)
                    == [
                        "policypack.name:required", "policypack.displayName:invalid", "policypack.versionTag:invalid",
                        "policies[0].enforcementLevel:invalid", "policies[1].name:already_exists",
                        "policies[2].severity:invalid", "policies[2].configSchema.type:invalid",
                    ])
            #expect(
                try await api.send(.get, "/api/orgs/default/policypacks", token: server.adminToken).json["policyPacks"]
                    == .array([]))
        }
    }

    @Test func aPackNeedsAtLeastOnePolicy() async throws {
        try await TestServer.with { server, api in
            let response = try await api.send(
                .post, "/api/orgs/default/policypacks", token: server.adminToken,
                json: Fixtures.createBody("p", tag: "1.0.0", policies: []))
            #expect(response.status == .badRequest)
            #expect(response.message == "Policy Pack must have at least one policy.")
        }
    }

    @Test(arguments: ["bad name", "a/b", String(repeating: "x", count: 101), "ünïcode"])
    func invalidPackNamesAreRejected(name: String) async throws {
        try await TestServer.with { server, api in
            let response = try await api.send(
                .post, "/api/orgs/default/policypacks", token: server.adminToken,
                json: Fixtures.createBody(name, tag: "1.0.0"))
            #expect(response.status == .badRequest)
            #expect(response.message?.contains("name") == true)
        }
    }
}
