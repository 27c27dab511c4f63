import Foundation
import HTTPTypes
import MetadataStoreSQL
import PolicyHubCore
import Testing

@Suite("Registry views")
struct RegistryTests {
    @Test func listingNeedsAnOrganizationAndAValidAccessFilter() async throws {
        try await TestServer.with { server, api in
            try await api.publish("default", "p", tag: "1.0.0", token: server.adminToken)
            let noOrg = try await api.send(.get, "/api/preview/registry/policypacks", token: server.adminToken)
            #expect(noOrg.status == .badRequest)
            let badAccess = try await api.send(
                .get, "/api/preview/registry/policypacks?orgLogin=default&access=everything", token: server.adminToken)
            #expect(badAccess.status == .badRequest)
            #expect(badAccess.message == "Policy pack access is not valid")
            let badPost = try await api.send(
                .post, "/api/preview/registry/policypacks", token: server.adminToken, json: ["access": "nope"])
            #expect(badPost.message == "Policy pack access is not valid")
        }
    }

    @Test func anonymousCallersSeeNothingAndBadTokensAreRefused() async throws {
        try await TestServer.with { server, api in
            try await api.publish("default", "p", tag: "1.0.0", token: server.adminToken)
            let anonymous = try await api.send(.get, "/api/registry/policypacks?orgLogin=default", token: nil)
            #expect(anonymous.status == .ok)
            #expect(anonymous.json["policyPacks"] == [])
            let anonymousPost = try await api.send(.post, "/api/registry/policypacks", token: nil)
            #expect(anonymousPost.status == .ok)
            let badToken = try await api.send(
                .get, "/api/registry/policypacks?orgLogin=default",
                token: "pul-0000000000000000000000000000000000000000")
            #expect(badToken.status == .unauthorized)
        }
    }

    @Test func entriesShowTheLatestVersionAndTheCallersAccess() async throws {
        try await TestServer.with { server, api in
            try await api.publish("default", "p", tag: "1.0.0", token: server.adminToken)
            try await api.publish("default", "p", tag: "1.1.0", token: server.adminToken)
            try await api.publish("default", "legacy", tag: nil, token: server.adminToken)
            let member = try await server.makeUser("viewer", in: "default", role: .member)

            let asAdmin = try await api.send(
                .get, "/api/preview/registry/policypacks?orgLogin=default", token: server.adminToken)
            let entries = try #require(asAdmin.json["policyPacks"]?.arrayValue)
            #expect(entries.map { $0["name"] } == ["legacy", "p"])
            #expect(entries.map { $0["version"] } == ["1", "1.1.0"])
            let entry = entries[1]
            #expect(entry["source"] == "private")
            #expect(entry["publisher"] == "default")
            #expect(entry["accessLevel"] == "full")
            #expect(entry["enforcementLevels"] == ["advisory", "mandatory", "remediate", "disabled"])
            #expect(entry["policies"] == nil)
            let id = try #require(entry["id"]?.stringValue)
            #expect(UUID(uuidString: id) != nil)

            let asMember = try await api.send(
                .get, "/api/registry/policypacks?orgLogin=default&access=private", token: member)
            let memberEntry = try #require(asMember.json["policyPacks"]?.arrayValue?.last)
            #expect(memberEntry["accessLevel"] == "view-only")
            #expect(memberEntry["enforcementLevels"] == [])
            #expect(memberEntry["id"] == .string(id))  // stable for the pack
        }
    }

    @Test func postListsEveryOrganizationOfTheCallerAndDefaultsToEnabled() async throws {
        try await TestServer.with { server, api in
            try await server.identity.createOrganization("second")
            try await server.identity.addMember(organization: "second", login: "admin", role: .admin)
            try await api.publish("default", "a", tag: "1.0.0", token: server.adminToken)
            try await api.publish("second", "b", tag: "1.0.0", token: server.adminToken)
            // Nothing is applied to a policy group, so `enabled` (the POST default) is empty.
            let enabled = try await api.send(.post, "/api/preview/registry/policypacks", token: server.adminToken)
            #expect(enabled.json["policyPacks"] == [])
            let available = try await api.send(
                .post, "/api/preview/registry/policypacks", token: server.adminToken, json: ["access": "available"])
            #expect(available.json["policyPacks"]?.arrayValue?.map { $0["publisher"] } == ["default", "second"])
            let scoped = try await api.send(
                .post, "/api/registry/policypacks", token: server.adminToken,
                json: ["access": "added", "orgLogin": "second"])
            #expect(scoped.json["policyPacks"]?.arrayValue?.map { $0["name"] } == ["b"])
            let id = try #require(scoped.json["policyPacks"]?.arrayValue?.first?["id"])
            let byID = try await api.send(
                .post, "/api/registry/policypacks", token: server.adminToken,
                json: ["access": "available", "ids": [id]])
            #expect(byID.json["policyPacks"]?.arrayValue?.map { $0["name"] } == ["b"])
        }
    }

    @Test func listsArePaginatedWithAContinuationToken() async throws {
        try await TestServer.with { server, api in
            let archive = Fixtures.packArchive()
            for index in 0..<103 {
                try await api.publish(
                    "default", String(format: "pack-%03d", index), tag: "1.0.0", token: server.adminToken,
                    archive: archive)
            }
            let first = try await api.send(.get, "/api/registry/policypacks?orgLogin=default", token: server.adminToken)
            #expect(first.json["policyPacks"]?.arrayValue?.count == 100)
            let token = try #require(first.json["continuationToken"]?.stringValue)
            let second = try await api.send(
                .post, "/api/registry/policypacks?continuationToken=\(token)", token: server.adminToken,
                json: ["access": "available", "orgLogin": "default"])
            #expect(second.json["policyPacks"]?.arrayValue?.map { $0["name"] } == ["pack-100", "pack-101", "pack-102"])
            #expect(second.json["continuationToken"] == nil)
            let bad = try await api.send(
                .get, "/api/registry/policypacks?orgLogin=default&continuationToken=not-a-token",
                token: server.adminToken)
            #expect(bad.status == .badRequest)
        }
    }

    @Test func versionsAndVersionDetails() async throws {
        try await TestServer.with { server, api in
            try await api.publish("default", "p", tag: "1.0.0", token: server.adminToken)
            try await api.publish("default", "p", tag: "2.0.0", token: server.adminToken)
            let versions = try await api.send(
                .get, "/api/preview/registry/policypacks/private/default/p/versions", token: server.adminToken)
            #expect(versions.json["policyPacks"]?.arrayValue?.map { $0["version"] } == ["1.0.0", "2.0.0"])
            let latest = try await api.send(
                .get, "/api/registry/policypacks/private/default/p/versions/latest", token: server.adminToken)
            #expect(latest.json["policyPack"]?["version"] == "2.0.0")
            #expect(latest.json["policies"]?.arrayValue?.first?["name"] == "rule")
            #expect(latest.json["policyPack"]?["policies"] == nil)
            let orgView = try await api.send(
                .get, "/api/orgs/default/registry/policypacks/p?tag=1.0.0", token: server.adminToken)
            #expect(orgView.json["policyPack"]?["version"] == "1.0.0")
            #expect(orgView.json["policyPack"]?["policies"] == nil)
            let publicSource = try await api.send(
                .get, "/api/registry/policypacks/pulumi/default/p/versions", token: server.adminToken)
            #expect(publicSource.status == .notFound)
            let missing = try await api.send(
                .get, "/api/registry/policypacks/private/default/nope/versions", token: server.adminToken)
            #expect(missing.status == .notFound)
        }
    }

    /// Pulumi's `GetRegistryPolicyPackVersionResponse` carries `policies: [AppPolicy]` beside `policyPack`.
    @Test func aRegistryVersionCarriesItsPoliciesWithEveryField() async throws {
        let schema: JSONValue = [
            "type": "object", "properties": ["nodeCount": ["type": "integer", "default": 3]], "required": ["nodeCount"],
        ]
        let policy: JSONValue = [
            "name": "node-count", "displayName": "Node count", "description": "Clusters have enough nodes.",
            "enforcementLevel": "mandatory", "message": "too few nodes", "configSchema": schema, "severity": "high",
            "framework": ["name": "cis", "version": "1.2", "reference": "5.1", "specification": "CIS Kubernetes"],
            "tags": ["k8s", "availability"], "remediationSteps": "Raise nodeCount.", "url": "https://example.com/nc",
        ]
        try await TestServer.with { server, api in
            try await api.publish("default", "p", tag: "1.0.0", token: server.adminToken, policies: [policy])
            for path in [
                "/api/registry/policypacks/private/default/p/versions/1.0.0",
                "/api/registry/policypacks/private/default/p/versions/1",
                "/api/registry/policypacks/private/default/p/versions/latest",
                "/api/preview/registry/policypacks/private/default/p/versions/1.0.0",
            ] {
                let response = try await api.send(.get, path, token: server.adminToken)
                #expect(response.status == .ok, "\(path): \(response.text)")
                #expect(response.json["policyPack"]?["version"] == "1.0.0", "\(path)")
                let policies = try #require(response.json["policies"]?.arrayValue, "\(path): \(response.text)")
                #expect(policies == [policy], "\(path)")
            }
        }
    }

    @Test func aRegistryPublishNamingAnotherPackWritesNothing() async throws {
        try await TestServer.with { server, api in
            let refused = try await api.send(
                .post, "/api/registry/policypacks/private/default/p/versions", token: server.adminToken,
                json: Fixtures.createBody("other", tag: "1.0.0", tagKey: "version"))
            #expect(refused.status == .badRequest)
            #expect(refused.text.contains("does not match the policy pack 'p'"), "\(refused.text)")
            #expect(try await server.store.pendingVersions(before: .distantFuture).isEmpty)
            let events = try await server.store.auditEvents(AuditQuery(organization: "default"), after: nil)
            #expect(!events.contains { $0.action == AuditAction.versionCreated }, "\(events)")
        }
    }

    @Test func registryPublishIsTwoPhaseAndVisibleThroughTheOrgAPI() async throws {
        try await TestServer.with { server, api in
            let body = Fixtures.createBody("reg", tag: "3.0.0", tagKey: "version")
            let created = try await api.send(
                .post, "/api/preview/registry/policypacks/private/default/reg/versions", token: server.adminToken,
                json: body)
            #expect(created.status == .created)
            #expect(created.json["version"] == "3.0.0")
            let operationID = try #require(created.json["operationID"]?.stringValue)
            let uploadURI = try #require(created.json["uploadURI"]?.stringValue)
            #expect(try await api.upload(uploadURI, Fixtures.packArchive()).status == .ok)
            let wrongOperation = try await api.send(
                .post, "/api/registry/policypacks/private/default/reg/versions/3.0.0/complete",
                token: server.adminToken, json: ["operationID": "not-this-one"])
            #expect(wrongOperation.status == .notFound)
            let completed = try await api.send(
                .post, "/api/registry/policypacks/private/default/reg/versions/3.0.0/complete",
                token: server.adminToken, json: ["operationID": .string(operationID)])
            #expect(completed.status == .noContent)
            let viaOrg = try await api.send(
                .get, "/api/orgs/default/policypacks/reg/versions/3.0.0", token: server.adminToken)
            #expect(viaOrg.status == .ok)

            // Registry publish requires the tag, and the body's name must match the path.
            let untagged = try await api.send(
                .post, "/api/registry/policypacks/private/default/reg/versions", token: server.adminToken,
                json: Fixtures.createBody("reg", tag: nil, tagKey: "version"))
            #expect(untagged.status == .badRequest)
            let mismatch = try await api.send(
                .post, "/api/registry/policypacks/private/default/other/versions", token: server.adminToken,
                json: Fixtures.createBody("reg", tag: "4.0.0", tagKey: "version"))
            #expect(mismatch.status == .badRequest)
        }
    }

    @Test func registryDeletesRemoveVersionsAndPacks() async throws {
        try await TestServer.with { server, api in
            try await api.publish("default", "p", tag: "1.0.0", token: server.adminToken)
            try await api.publish("default", "p", tag: "2.0.0", token: server.adminToken)
            let member = try await server.makeUser("viewer", in: "default", role: .member)
            let forbidden = try await api.send(
                .delete, "/api/registry/policypacks/private/default/p/versions/1.0.0", token: member)
            #expect(forbidden.status == .forbidden)
            let version = try await api.send(
                .delete, "/api/registry/policypacks/private/default/p/versions/1.0.0", token: server.adminToken)
            #expect(version.status == .noContent)
            let pack = try await api.send(
                .delete, "/api/preview/registry/policypacks/private/default/p", token: server.adminToken)
            #expect(pack.status == .noContent)
            let list = try await api.send(.get, "/api/orgs/default/policypacks", token: server.adminToken)
            #expect(list.json["policyPacks"] == [])
            #expect(try server.storedArchives().isEmpty)
        }
    }
}
