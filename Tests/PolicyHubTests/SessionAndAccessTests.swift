import BlobStoreFileSystem
import Foundation
import HTTPTypes
import NIOCore
import PolicyHubCore
import Synchronization
import Testing

@Suite("Login endpoints and access control")
struct SessionAndAccessTests {
    @Test func loginEndpointsDescribeTheCaller() async throws {
        try await TestServer.with { server, api in
            let user = try await api.send(.get, "/api/user", token: server.adminToken)
            #expect(user.status == .ok)
            #expect(user.json["githubLogin"] == "admin")
            // The personal organization is implied by the login and not listed.
            #expect(
                user.json["organizations"] == [
                    ["githubLogin": "default", "name": "default", "avatarUrl": "", "role": "admin"]
                ]
            )
            let capabilities = try await api.send(.get, "/api/capabilities", token: server.adminToken)
            #expect(capabilities.json == ["capabilities": [["capability": "stack-policy-packs", "version": 1]]])
            let organization = try await api.send(.get, "/api/user/organizations/default", token: server.adminToken)
            #expect(organization.json == ["GitHubLogin": "default", "Messages": []])
            let stacks = try await api.send(.get, "/api/user/stacks", token: server.adminToken)
            #expect(stacks.json == ["stacks": []])
        }
    }

    @Test func aUserWithoutOrganizationsDefaultsToTheirPersonalOne() async throws {
        try await TestServer.with { server, api in
            let token = try await server.makeUser("solo")
            let organization = try await api.send(.get, "/api/user/organizations/default", token: token)
            #expect(organization.json["GitHubLogin"] == "solo")
            // The username works as an organization.
            try await api.publish("solo", "mine", tag: "1.0.0", token: token)
            let list = try await api.send(.get, "/api/orgs/solo/policypacks", token: token)
            #expect(list.json["policyPacks"]?.arrayValue?.count == 1)
        }
    }

    @Test func bearerTokensWorkAndBadTokensAreUnauthorized() async throws {
        try await TestServer.with { server, api in
            let bearer = try await api.send(
                .get, "/api/user", token: nil, headers: [.authorization: "Bearer \(server.adminToken)"])
            #expect(bearer.status == .ok)
            for header in [
                "token pul-0000000000000000000000000000000000000000", "token nonsense", "Basic abc", "token",
            ] {
                let response = try await api.send(.get, "/api/user", token: nil, headers: [.authorization: header])
                #expect(response.status == .unauthorized, "\(header)")
                #expect(response.code == 401)
            }
            let anonymous = try await api.send(.get, "/api/orgs/default/policypacks", token: nil)
            #expect(anonymous.status == .unauthorized)
        }
    }

    @Test func expiredAndRevokedTokensAreRefusedAndUseIsRecorded() async throws {
        try await TestServer.with { server, api in
            let expiring = try await server.identity.createToken(login: "admin", description: "ci", lifetime: 600)
            let revoked = try await server.identity.createToken(login: "admin", description: "old laptop")
            #expect(try await api.send(.get, "/api/user", token: expiring).status == .ok)
            #expect(try await api.send(.get, "/api/user", token: revoked).status == .ok)
            let records = try await server.identity.listTokens(login: "admin")
            #expect(records.first { $0.description == "ci" }?.lastUsedAt != nil)
            let oldLaptop = try #require(records.first { $0.description == "old laptop" })
            try await server.identity.revokeToken(id: oldLaptop.id)
            #expect(try await api.send(.get, "/api/user", token: revoked).status == .unauthorized)
            server.clock.advance(by: 601)
            #expect(try await api.send(.get, "/api/user", token: expiring).status == .unauthorized)
            #expect(try await api.send(.get, "/api/user", token: server.adminToken).status == .ok)
        }
    }

    @Test func membersReadButCannotChange() async throws {
        try await TestServer.with { server, api in
            try await api.publish("default", "p", tag: "1.0.0", token: server.adminToken)
            let member = try await server.makeUser("reader", in: "default", role: .member)
            #expect(try await api.send(.get, "/api/orgs/default/policypacks", token: member).status == .ok)
            #expect(
                try await api.send(.get, "/api/orgs/default/policypacks/p/versions/1.0.0", token: member).status == .ok)
            #expect(
                try await api.send(.get, "/api/orgs/default/policypacks/p/versions/1.0.0/schema", token: member).status
                    == .ok)
            let create = try await api.send(
                .post, "/api/orgs/default/policypacks", token: member, json: Fixtures.createBody("p", tag: "2.0.0"))
            #expect(create.status == .forbidden)
            #expect(create.code == 403)
            let complete = try await api.send(
                .post, "/api/orgs/default/policypacks/p/versions/1.0.0/complete", token: member)
            #expect(complete.status == .forbidden)
            #expect(try await api.send(.delete, "/api/orgs/default/policypacks/p", token: member).status == .forbidden)
            #expect(
                try await api.send(.delete, "/api/orgs/default/policypacks/p/versions/1.0.0", token: member).status
                    == .forbidden)
            let list = try await api.send(.get, "/api/orgs/default/policypacks", token: server.adminToken)
            #expect(list.json["policyPacks"]?.arrayValue?.first?["versionTags"] == ["1.0.0"])
        }
    }

    @Test func nonMembersAreToldTheOrganizationDoesNotExist() async throws {
        try await TestServer.with { server, api in
            try await api.publish("default", "p", tag: "1.0.0", token: server.adminToken)
            let outsider = try await server.makeUser("outsider")
            let requests: [(HTTPRequest.Method, String)] = [
                (.get, "/api/orgs/default/policypacks"),
                (.get, "/api/orgs/default/policypacks/p/versions/1.0.0"),
                (.delete, "/api/orgs/default/policypacks/p"),
                (.get, "/api/orgs/default/registry/policypacks/p"),
                (.get, "/api/orgs/no-such-org/policypacks"),
            ]
            for (method, path) in requests {
                let response = try await api.send(method, path, token: outsider)
                #expect(response.status == .notFound, "\(method) \(path)")
                #expect(response.message == "Organization not found", "\(method) \(path)")
            }
            let create = try await api.send(
                .post, "/api/orgs/default/policypacks", token: outsider, json: Fixtures.createBody("x", tag: "1"))
            #expect(create.status == .notFound)
        }
    }
}

@Suite("Error responses")
struct ErrorResponseTests {
    @Test func unknownRoutesAndWrongMethodsAnswerJSON() async throws {
        try await TestServer.with { server, api in
            let unknown = try await api.send(.get, "/api/nothing/here", token: server.adminToken)
            #expect(unknown.status == .notFound)
            #expect(unknown.code == 404)
            let wrongMethod = try await api.send(.patch, "/api/orgs/default/policypacks", token: server.adminToken)
            #expect(wrongMethod.status == .methodNotAllowed)
            #expect(wrongMethod.code == 405)
            #expect(wrongMethod.headers[.allow] == "GET, POST")
            let wrongUploadMethod = try await api.send(.get, "/api/uploads/abc", token: nil)
            #expect(wrongUploadMethod.status == .methodNotAllowed)
        }
    }

    @Test func malformedJSONIsABadRequest() async throws {
        try await TestServer.with { server, api in
            var headers = APIClient.cliHeaders
            headers[.authorization] = "token \(server.adminToken)"
            for body in ["{not json", "[1, 2]", "\"text\""] {
                let response = try await api.raw(
                    .post, "/api/orgs/default/policypacks", headers: headers, body: .init(string: body))
                #expect(response.status == .badRequest, "\(body)")
                #expect(response.code == 400)
                #expect(response.message?.isEmpty == false)
            }
            let missing = try await api.raw(.post, "/api/orgs/default/policypacks", headers: headers, body: nil)
            #expect(missing.status == .badRequest)
        }
    }

    @Test func responsesCarryNoContentEncodingExceptGzip() async throws {
        try await TestServer.with { server, api in
            try await api.publish("default", "p", tag: "1.0.0", token: server.adminToken)
            for path in [
                "/api/user", "/api/orgs/default/policypacks", "/api/orgs/default/policypacks/p/versions/1.0.0", "/nope",
            ] {
                let response = try await api.send(.get, path, token: server.adminToken)
                let encoding = response.headers[.contentEncoding]
                #expect(encoding == nil || encoding == "gzip", "\(path): \(encoding ?? "")")
            }
        }
    }

    @Test func theOpenAPIDocumentAndHealthAreServed() async throws {
        try await TestServer.with { _, api in
            let document = try await api.send(.get, "/api/openapi.yaml", token: nil)
            #expect(document.status == .ok)
            #expect(document.text.hasPrefix("openapi: 3.1"))
            #expect(document.text.contains("/api/orgs/{orgName}/policypacks"))
            let health = try await api.send(.get, "/healthz", token: nil)
            #expect(health.json == ["status": "ok", "database": "ok", "blobStore": "ok"])
            let ready = try await api.send(.get, "/readyz", token: nil)
            #expect(ready.status == .ok)
        }
    }

    @Test func healthChecksShareProbesSoTheyCannotFloodTheDependencies() async throws {
        let probes = ProbeCounter()
        try await TestServer.with(blobStore: { directory in
            CountingBlobStore(
                files: try FileSystemBlobStore(root: directory.appendingPathComponent("blobs")), probes: probes)
        }) { _, api in
            let started = ContinuousClock.now
            for path in Array(repeating: "/healthz", count: 10) + Array(repeating: "/readyz", count: 10) {
                let response = try await api.send(.get, path, token: nil)
                #expect(response.status == .ok)
            }
            let seconds = (ContinuousClock.now - started).components.seconds
            // Twenty checks; at most one probe of the archive store for each second they took.
            #expect(probes.count >= 1)
            #expect(probes.count <= Int(seconds) + 1, "\(probes.count) probes in \(seconds) s")
        }
    }
}

private final class ProbeCounter: Sendable {
    private let calls = Mutex(0)
    var count: Int { calls.withLock { $0 } }
    func record() { calls.withLock { $0 += 1 } }
}

/// Archive files, counting the size lookups the health probe makes.
private struct CountingBlobStore: BlobStore {
    let files: FileSystemBlobStore
    let probes: ProbeCounter

    func write<Body: AsyncSequence & Sendable>(key: String, body: Body, maxBytes: Int64) async throws -> StoredBlob
    where Body.Element == ByteBuffer {
        try await files.write(key: key, body: body, maxBytes: maxBytes)
    }

    func read(key: String, range: ClosedRange<Int64>?, consume: (ByteBuffer) async throws -> Void) async throws {
        try await files.read(key: key, range: range, consume: consume)
    }

    func size(key: String) async throws -> Int64? {
        probes.record()
        return try await files.size(key: key)
    }

    func delete(key: String) async throws { try await files.delete(key: key) }
    func list(prefix: String) async throws -> [BlobListing] { try await files.list(prefix: prefix) }
}
