import Crypto
import Foundation
import HTTPTypes
import NIOCore
import PolicyHubCore
import Testing

/// `pulumi policy install` and `policyhub fetch` ask what applies to a stack, then download each pack.
@Suite("Serving stacks their policy packs")
struct StackPolicyTests {
    static func apply(
        _ api: APIClient, _ token: String, group: String, pack: String, tag: String, config: JSONValue? = nil
    ) async throws {
        var selector: [String: JSONValue] = ["name": .string(pack), "versionTag": .string(tag)]
        if let config { selector["config"] = config }
        let response = try await api.send(
            .patch, "/api/orgs/default/policygroups/\(group)", token: token, json: ["addPolicyPack": .object(selector)])
        #expect(response.status == .noContent, "\(response.text)")
    }

    @Test func theInstallSequenceFindsTheStackAndItsPacks() async throws {
        try await TestServer.with { server, api in
            let token = server.adminToken
            let archive = Fixtures.packArchive()
            try await api.publish("default", "guard", tag: "1.0.0", token: token, archive: archive)
            try await Self.apply(api, token, group: "default-policy-group", pack: "guard", tag: "1.0.0")

            let capabilities = try await api.send(.get, "/api/capabilities", token: token)
            #expect(capabilities.json == ["capabilities": [["capability": "stack-policy-packs", "version": 1]]])
            let stack = try await api.send(.get, "/api/stacks/default/web/prod", token: token)
            #expect(stack.status == .ok)
            #expect(stack.json["orgName"] == "default")
            #expect(stack.json["projectName"] == "web")
            #expect(stack.json["stackName"] == "prod")
            let required = try await api.send(.get, "/api/stacks/default/web/prod/policypacks", token: token)
            let policies = try #require(required.json["requiredPolicies"]?.arrayValue)
            #expect(policies.count == 1)
            #expect(policies[0]["name"] == "guard")
            #expect(policies[0]["version"] == 1)
            #expect(policies[0]["versionTag"] == "1.0.0")
            #expect(policies[0]["displayName"] == "Pack guard")
            #expect(policies[0]["config"] == nil)
            let location = try #require(policies[0]["packLocation"]?.stringValue)
            #expect(location.hasPrefix(TestServer.publicURL + "/api/downloads/"))

            // The download: no Authorization, exactly 200 with the bytes as uploaded.
            let download = try await api.download(location)
            #expect(download.status == .ok)
            #expect(Array(buffer: download.body) == archive)
            #expect(download.headers[.contentType] == "application/octet-stream")
            #expect(download.headers[.contentEncoding] == nil)
            #expect(download.headers[.contentLength] == String(archive.count))
            let digest = SHA256.hash(data: Data(archive)).hexString
            #expect(download.headers[.eTag] == "\"\(digest)\"")
            #expect(policies[0]["sha256"] == .string(digest))
        }
    }

    @Test func downloadsSupportConditionalAndRangeRequestsAndExpire() async throws {
        try await TestServer.with { server, api in
            let token = server.adminToken
            let archive = Fixtures.packArchive()
            try await api.publish("default", "guard", tag: "1.0.0", token: token, archive: archive)
            try await Self.apply(api, token, group: "default-policy-group", pack: "guard", tag: "1.0.0")
            let required = try await api.send(.get, "/api/stacks/default/web/prod/policypacks", token: token)
            let location = try #require(
                required.json["requiredPolicies"]?.arrayValue?.first?["packLocation"]?.stringValue)
            let etag = try #require(try await api.download(location).headers[.eTag])

            let cached = try await api.download(location, headers: [.ifNoneMatch: etag])
            #expect(cached.status == .notModified)
            #expect(cached.body.readableBytes == 0)
            let stale = try await api.download(location, headers: [.ifNoneMatch: "\"other\""])
            #expect(stale.status == .ok)

            let partial = try await api.download(location, headers: [.range: "bytes=10-19"])
            #expect(partial.status == .partialContent)
            #expect(Array(buffer: partial.body) == Array(archive[10...19]))
            #expect(partial.headers[.contentRange] == "bytes 10-19/\(archive.count)")
            let suffix = try await api.download(location, headers: [.range: "bytes=-5"])
            #expect(Array(buffer: suffix.body) == Array(archive.suffix(5)))
            let outside = try await api.download(location, headers: [.range: "bytes=\(archive.count)-"])
            #expect(outside.status == .rangeNotSatisfiable)

            let head = try await api.download(location, method: .head)
            #expect(head.status == .ok)
            #expect(head.headers[.eTag] == etag)
            #expect(head.body.readableBytes == 0)

            var tampered = Array(location)
            tampered[tampered.count - 3] = tampered[tampered.count - 3] == "x" ? "y" : "x"
            #expect(try await api.download(String(tampered)).status == .forbidden)
            server.clock.advance(by: 3601)
            let expired = try await api.download(location)
            #expect(expired.status == .forbidden)
            #expect(expired.message?.contains("expired") == true)
        }
    }

    @Test func stacksBelongToTheGroupsListingThemOrElseToTheDefault() async throws {
        try await TestServer.with { server, api in
            let token = server.adminToken
            try await api.publish("default", "base", tag: "1.0.0", token: token)
            try await api.publish("default", "strict", tag: "1.0.0", token: token)
            try await api.publish("default", "strict", tag: "2.0.0", token: token)
            try await Self.apply(api, token, group: "default-policy-group", pack: "base", tag: "1.0.0")
            try await Self.apply(api, token, group: "default-policy-group", pack: "strict", tag: "1.0.0")
            for name in ["prod", "audit"] {
                _ = try await api.send(
                    .post, "/api/orgs/default/policygroups", token: token,
                    json: ["name": .string(name), "entityType": "stacks"])
            }
            // `prod` lists web/prod; `audit` lists every project's `prod` (no routingProject).
            _ = try await api.send(
                .patch, "/api/orgs/default/policygroups/prod", token: token,
                json: ["addStack": ["name": "prod", "routingProject": "web"]])
            _ = try await api.send(
                .patch, "/api/orgs/default/policygroups/audit", token: token, json: ["addStack": ["name": "prod"]])
            try await Self.apply(
                api, token, group: "prod", pack: "strict", tag: "2.0.0",
                config: ["rule": "advisory"])

            func required(_ project: String, _ stack: String) async throws -> [String: JSONValue] {
                let response = try await api.send(
                    .get, "/api/stacks/default/\(project)/\(stack)/policypacks", token: token)
                var byName: [String: JSONValue] = [:]
                for policy in response.json["requiredPolicies"]?.arrayValue ?? [] {
                    byName[policy["name"]?.stringValue ?? ""] = policy
                }
                return byName
            }
            // web/prod is listed by `prod` and `audit`: not in the default group.
            let webProd = try await required("web", "prod")
            #expect(webProd.keys.sorted() == ["strict"])
            #expect(webProd["strict"]?["versionTag"] == "2.0.0")
            #expect(webProd["strict"]?["config"] == ["rule": ["enforcementLevel": "advisory"]])
            // api/prod is listed only by `audit`, which applies nothing.
            #expect(try await required("api", "prod").isEmpty)
            // web/dev is listed nowhere: the default group's packs.
            let webDev = try await required("web", "dev")
            #expect(webDev.keys.sorted() == ["base", "strict"])
            #expect(webDev["strict"]?["versionTag"] == "1.0.0")

            // When two groups of a stack apply different versions, the newer wins.
            _ = try await api.send(
                .patch, "/api/orgs/default/policygroups/default-policy-group", token: token,
                json: ["addStack": ["name": "prod", "routingProject": "web"]])
            let both = try await required("web", "prod")
            #expect(both.keys.sorted() == ["base", "strict"])
            #expect(both["strict"]?["versionTag"] == "2.0.0")

            let groups = try await api.send(.get, "/api/stacks/default/web/prod/policygroups", token: token)
            #expect(
                groups.json["policyGroups"]?.arrayValue?.map { $0["name"] }
                    == ["default-policy-group", "audit", "prod"])
            let devGroups = try await api.send(.get, "/api/stacks/default/web/dev/policygroups", token: token)
            #expect(devGroups.json["policyGroups"]?.arrayValue?.map { $0["name"] } == ["default-policy-group"])
        }
    }

    @Test func aStackWithNothingAppliedNeedsNothing() async throws {
        try await TestServer.with { server, api in
            let response = try await api.send(.get, "/api/stacks/default/web/dev/policypacks", token: server.adminToken)
            #expect(response.status == .ok)
            #expect(response.json["requiredPolicies"] == [])
            let badName = try await api.send(
                .get, "/api/stacks/default/web/bad%20name/policypacks", token: server.adminToken)
            #expect(badName.status == .badRequest)
        }
    }
}
