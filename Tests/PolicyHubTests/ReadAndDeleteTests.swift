import Foundation
import HTTPTypes
import PolicyHubCore
import Testing

@Suite("Reading and deleting policy packs")
struct ReadAndDeleteTests {
    @Test func listIsSortedByNameWithAlignedTagsAndOnlyCompletedVersions() async throws {
        try await TestServer.with { server, api in
            let token = server.adminToken
            try await api.publish("default", "zeta", tag: "1.0.0", token: token)
            try await api.publish("default", "alpha", tag: "0.1.0", token: token)
            try await api.publish("default", "alpha", tag: nil, token: token)
            try await api.publish("default", "alpha", tag: "0.3.0", token: token)
            // A pending version stays out of the list.
            _ = try await api.send(
                .post, "/api/orgs/default/policypacks", token: token, json: Fixtures.createBody("alpha", tag: "0.4.0"))

            let list = try await api.send(.get, "/api/orgs/default/policypacks", token: token)
            #expect(
                list.json["policyPacks"]
                    == [
                        [
                            "name": "alpha", "displayName": "Pack alpha", "versions": [1, 2, 3],
                            "versionTags": ["0.1.0", "", "0.3.0"],
                        ],
                        ["name": "zeta", "displayName": "Pack zeta", "versions": [1], "versionTags": ["1.0.0"]],
                    ])
            let filtered = try await api.send(.get, "/api/orgs/default/policypacks?policypack=zeta", token: token)
            #expect(filtered.json["policyPacks"]?.arrayValue?.map { $0["name"] } == ["zeta"])
            let unknown = try await api.send(.get, "/api/orgs/default/policypacks?policyPack=zeta", token: token)
            #expect(unknown.status == .badRequest)
            #expect(unknown.message == "Unknown query parameter 'policyPack'.")
        }
    }

    @Test func versionReferencesResolveTagThenLatestThenNumber() async throws {
        try await TestServer.with { server, api in
            let token = server.adminToken
            try await api.publish("default", "p", tag: "5", token: token)  // version 1, tagged "5"
            try await api.publish("default", "p", tag: "1", token: token)  // version 2, tagged "1"
            try await api.publish("default", "p", tag: "2.0.0", token: token)  // version 3
            func resolve(_ reference: String) async throws -> JSONValue? {
                try await api.send(.get, "/api/orgs/default/policypacks/p/versions/\(reference)", token: token)
                    .json["version"]
            }
            #expect(try await resolve("1") == 2)  // the tag "1" wins over version number 1
            #expect(try await resolve("latest") == 3)
            #expect(try await resolve("3") == 3)  // no tag "3": version number 3
            #expect(try await resolve("2.0.0") == 3)
            let missing = try await api.send(.get, "/api/orgs/default/policypacks/p/versions/9.9.9", token: token)
            #expect(missing.status == .notFound)
            let noPack = try await api.send(.get, "/api/orgs/default/policypacks/nope/versions/1", token: token)
            #expect(noPack.status == .notFound)
            #expect(noPack.message == "Policy Pack 'nope' not found")
        }
    }

    @Test func schemaListsThePoliciesThatHaveOne() async throws {
        try await TestServer.with { server, api in
            let schema: JSONValue = [
                "type": "object", "properties": ["allowedAcls": ["type": "array", "items": ["type": "string"]]],
                "required": ["allowedAcls"],
            ]
            try await api.publish(
                "default", "p", tag: "1.0.0", token: server.adminToken,
                policies: [Fixtures.policy("with", schema: schema), Fixtures.policy("without")])
            let response = try await api.send(
                .get, "/api/orgs/default/policypacks/p/versions/latest/schema", token: server.adminToken)
            #expect(response.status == .ok)
            #expect(response.json == ["configSchema": ["with": schema]])
        }
    }

    @Test func deletingAPackRemovesEveryVersionAndArchive() async throws {
        try await TestServer.with { server, api in
            let token = server.adminToken
            try await api.publish("default", "p", tag: "1.0.0", token: token)
            try await api.publish("default", "p", tag: "2.0.0", token: token)
            try await api.publish("default", "keep", tag: "1.0.0", token: token)
            #expect(try server.storedArchives().count == 3)
            let deleted = try await api.send(.delete, "/api/orgs/default/policypacks/p", token: token)
            #expect(deleted.status == .ok)
            #expect(try server.storedArchives().count == 1)
            let list = try await api.send(.get, "/api/orgs/default/policypacks", token: token)
            #expect(list.json["policyPacks"]?.arrayValue?.map { $0["name"] } == ["keep"])
            let again = try await api.send(.delete, "/api/orgs/default/policypacks/p", token: token)
            #expect(again.status == .notFound)
            // A deleted pack starts over.
            #expect(try await api.publish("default", "p", tag: "1.0.0", token: token) == 1)
        }
    }

    @Test func deletingAVersionRemovesOnlyThatVersion() async throws {
        try await TestServer.with { server, api in
            let token = server.adminToken
            try await api.publish("default", "p", tag: "1.0.0", token: token)
            try await api.publish("default", "p", tag: "2.0.0", token: token)
            let deleted = try await api.send(.delete, "/api/orgs/default/policypacks/p/versions/1.0.0", token: token)
            #expect(deleted.status == .ok)
            let list = try await api.send(.get, "/api/orgs/default/policypacks", token: token)
            #expect(list.json["policyPacks"]?.arrayValue?.first?["versionTags"] == ["2.0.0"])
            #expect(try server.storedArchives().count == 1)
            let missing = try await api.send(.delete, "/api/orgs/default/policypacks/p/versions/1.0.0", token: token)
            #expect(missing.status == .notFound)
        }
    }
}

@Suite("Uploads and completion")
struct UploadTests {
    func createVersion(_ api: APIClient, _ token: String, tag: String = "1.0.0") async throws -> String {
        let created = try await api.send(
            .post, "/api/orgs/default/policypacks", token: token, json: Fixtures.createBody("p", tag: tag))
        return try #require(created.json["uploadURI"]?.stringValue)
    }

    @Test func completeWithoutUploadIsRefused() async throws {
        try await TestServer.with { server, api in
            _ = try await createVersion(api, server.adminToken)
            let response = try await api.send(
                .post, "/api/orgs/default/policypacks/p/versions/1.0.0/complete", token: server.adminToken)
            #expect(response.status == .badRequest)
            #expect(response.message?.contains("No archive was uploaded") == true)
        }
    }

    @Test(arguments: [
        ("not gzip", "not gzip"),
        ("no manifest", "PulumiPolicy.yaml"),
        ("escaping path", ".."),
    ])
    func completeRejectsInvalidArchives(kind: String, reason: String) async throws {
        let archive: [UInt8] =
            switch kind {
            case "not gzip": Array("plain text, not an archive".utf8)
            case "no manifest": Fixtures.packArchive(files: ["package/index.js": "x"])
            default: HostileArchives.withEntry(named: "package/../../evil.txt")
            }
        try await TestServer.with { server, api in
            let uploadURI = try await createVersion(api, server.adminToken)
            #expect(try await api.upload(uploadURI, archive).status == .ok)
            let response = try await api.send(
                .post, "/api/orgs/default/policypacks/p/versions/1.0.0/complete", token: server.adminToken)
            #expect(response.status == .badRequest)
            #expect(response.message?.hasPrefix("The uploaded archive is not a valid policy pack") == true)
            #expect(response.message?.contains(reason) == true)
            // Still pending: a corrected upload can be completed.
            #expect(try await api.upload(uploadURI, Fixtures.packArchive()).status == .ok)
            let retried = try await api.send(
                .post, "/api/orgs/default/policypacks/p/versions/1.0.0/complete", token: server.adminToken)
            #expect(retried.status == .noContent)
        }
    }

    @Test func aTamperedLinkIsForbidden() async throws {
        try await TestServer.with { server, api in
            let uploadURI = try await createVersion(api, server.adminToken)
            var tampered = Array(uploadURI)
            let index = tampered.count - 5
            tampered[index] = tampered[index] == "A" ? "B" : "A"
            let response = try await api.upload(String(tampered), Fixtures.packArchive())
            #expect(response.status == .forbidden)
            #expect(response.code == 403)
            let garbage = try await api.upload(
                TestServer.publicURL + "/api/uploads/garbage", Fixtures.packArchive())
            #expect(garbage.status == .forbidden)
        }
    }

    @Test func anExpiredLinkIsForbidden() async throws {
        try await TestServer.with(uploadLinkLifetime: 60) { server, api in
            let uploadURI = try await createVersion(api, server.adminToken)
            server.clock.advance(by: 61)
            let response = try await api.upload(uploadURI, Fixtures.packArchive())
            #expect(response.status == .forbidden)
            #expect(response.message?.contains("expired") == true)
        }
    }

    @Test func uploadingToACompletedVersionIsAConflict() async throws {
        try await TestServer.with { server, api in
            let uploadURI = try await createVersion(api, server.adminToken)
            #expect(try await api.upload(uploadURI, Fixtures.packArchive()).status == .ok)
            _ = try await api.send(
                .post, "/api/orgs/default/policypacks/p/versions/1.0.0/complete", token: server.adminToken)
            let response = try await api.upload(
                uploadURI, Fixtures.packArchive(files: ["package/PulumiPolicy.yaml": "changed"]))
            #expect(response.status == .conflict)
            #expect(try server.storedArchives().count == 1)
        }
    }

    @Test func anArchiveOverTheLimitIsRefusedAndNotKept() async throws {
        try await TestServer.with(maxArchiveBytes: 1000) { server, api in
            let uploadURI = try await createVersion(api, server.adminToken)
            let response = try await api.upload(uploadURI, [UInt8](repeating: 7, count: 5000))
            #expect(response.status == .contentTooLarge)
            #expect(response.code == 413)
            #expect(try server.storedArchives().isEmpty)
            let leftovers = try FileManager.default.contentsOfDirectory(
                atPath: server.directory.appendingPathComponent("blobs/.incoming").path)
            #expect(leftovers.isEmpty)
        }
    }

    @Test func anEmptyUploadIsRefused() async throws {
        try await TestServer.with { server, api in
            let uploadURI = try await createVersion(api, server.adminToken)
            let response = try await api.upload(uploadURI, [])
            #expect(response.status == .badRequest)
            #expect(try server.storedArchives().isEmpty)
        }
    }

    @Test func aSecondUploadReplacesThePendingArchive() async throws {
        try await TestServer.with { server, api in
            let uploadURI = try await createVersion(api, server.adminToken)
            #expect(
                try await api.upload(uploadURI, Fixtures.packArchive(files: ["package/index.js": "x"])).status
                    == .ok)
            #expect(try await api.upload(uploadURI, Fixtures.packArchive()).status == .ok)
            #expect(try server.storedArchives().count == 1)
            let completed = try await api.send(
                .post, "/api/orgs/default/policypacks/p/versions/1.0.0/complete", token: server.adminToken)
            #expect(completed.status == .noContent)
        }
    }

    @Test func completingTwiceIsRefused() async throws {
        try await TestServer.with { server, api in
            try await api.publish("default", "p", tag: "1.0.0", token: server.adminToken)
            let response = try await api.send(
                .post, "/api/orgs/default/policypacks/p/versions/1.0.0/complete", token: server.adminToken)
            #expect(response.status == .badRequest)
            #expect(response.message == "Policy Pack is already complete")
        }
    }
}
