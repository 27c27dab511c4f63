import Foundation
import HTTPTypes
import NIOCore
import PackArchive
import PolicyHubCore
import PolicyHubHTTP
import Testing

/// Every limit answers a clear 4xx and stores nothing.
@Suite("Limits on what clients send")
struct LimitTests {
    @Test func aJSONBodyOverTheLimitIsRefused() async throws {
        try await TestServer.with(httpLimits: HTTPLimits(maxJSONBodyBytes: 4096)) { server, api in
            let body = Fixtures.createBody("p", tag: "1.0.0", policies: [Fixtures.policy("rule")])
            var members = body.objectValue ?? [:]
            members["readme"] = .string(String(repeating: "x", count: 5000))
            let response = try await api.send(
                .post, "/api/orgs/default/policypacks", token: server.adminToken, json: .object(members))
            #expect(response.status == .contentTooLarge)
            #expect(response.code == 413)
            #expect(response.message?.contains("4096") == true)
            #expect(
                try await api.send(.get, "/api/orgs/default/policypacks", token: server.adminToken).json["policyPacks"]
                    == [])
        }
    }

    @Test func policiesPerPackAndFieldLengthsAreBounded() async throws {
        try await TestServer.with(draftLimits: DraftLimits(maxPolicies: 3, maxFieldLength: 50)) { server, api in
            let many = try await api.send(
                .post, "/api/orgs/default/policypacks", token: server.adminToken,
                json: Fixtures.createBody("p", tag: "1", policies: (0..<4).map { Fixtures.policy("r\($0)") }))
            #expect(many.status == .badRequest)
            #expect(many.message?.contains("more than the limit of 3") == true)
            var long = Fixtures.createBody("p", tag: "1").objectValue ?? [:]
            long["description"] = .string(String(repeating: "d", count: 51))
            let response = try await api.send(
                .post, "/api/orgs/default/policypacks", token: server.adminToken, json: .object(long))
            #expect(response.status == .badRequest)
            #expect(response.json["errors"]?.arrayValue?.first?["attribute"] == "description")
        }
    }

    @Test func archivesWithTooManyEntriesOrLinksOutOfThePackageAreRefused() async throws {
        try await TestServer.with(archiveLimits: ArchiveLimits(maxEntries: 3)) { server, api in
            let crowded = Fixtures.packArchive(
                files: Dictionary(uniqueKeysWithValues: (0..<5).map { ("package/f\($0).js", "x") })
                    .merging(["package/PulumiPolicy.yaml": "runtime: nodejs\n"]) { first, _ in first })
            let link = HostileArchives.withLink(named: "package/evil", target: "../../etc/passwd")
            for (tag, archive, reason) in [("1", crowded, "entries"), ("2", link, "outside")] {
                let created = try await api.send(
                    .post, "/api/orgs/default/policypacks", token: server.adminToken,
                    json: Fixtures.createBody("p", tag: tag))
                let uploadURI = try #require(created.json["uploadURI"]?.stringValue)
                #expect(try await api.upload(uploadURI, archive).status == .ok)
                let completed = try await api.send(
                    .post, "/api/orgs/default/policypacks/p/versions/\(tag)/complete", token: server.adminToken)
                #expect(completed.status == .badRequest, "\(reason)")
                #expect(completed.message?.contains(reason) == true, "\(completed.message ?? "")")
            }
        }
    }
}
