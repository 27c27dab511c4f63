import AsyncHTTPClient
import BlobStoreS3
import Crypto
import Foundation
import HTTPTypes
import MetadataStoreSQL
import NIOCore
import NIOHTTP1
import PolicyHubCore
import PolicyHubHTTP
import PolicyHubTestSupport
import Testing

/// Publishing and downloading through an S3-compatible bucket: clients talk to the bucket through presigned URLs,
/// and the server verifies and seals what they uploaded. Runs when `POLICYHUB_TEST_S3_URL` names a bucket.
@Suite("Publishing through S3", .enabled(if: TestStores.s3URL != nil))
struct S3PublishTests {
    /// A store on a key prefix of its own in the test bucket.
    static func store(_ purpose: String) throws -> S3BlobStore {
        try S3BlobStore(url: try #require(TestStores.s3Prefix(purpose)))
    }

    static func get(_ client: HTTPClient, _ url: String) async throws -> (
        status: UInt, headers: HTTPHeaders, body: [UInt8]
    ) {
        let response = try await client.execute(HTTPClientRequest(url: url), timeout: .seconds(30))
        let body = try await response.body.collect(upTo: 100 << 20)
        return (response.status.code, response.headers, Array(buffer: body))
    }

    @Test func clientsUploadAndDownloadThroughPresignedURLsAndCompletedArchivesAreSealed() async throws {
        let store = try Self.store("server")
        let client = S3Client.makeHTTPClient()
        defer { _ = client.shutdown() }
        try await TestServer.with(blobStore: { _ in store }) { server, api in
            let token = server.adminToken
            let created = try await api.send(
                .post, "/api/orgs/default/policypacks", token: token, json: Fixtures.createBody("guard", tag: "1.0.0"))
            let uploadURI = try #require(created.json["uploadURI"]?.stringValue)
            #expect(!uploadURI.hasPrefix(TestServer.publicURL))
            #expect(uploadURI.contains("X-Amz-Signature="))
            let missing = try await api.send(
                .post, "/api/orgs/default/policypacks/guard/versions/1.0.0/complete", token: token)
            #expect(missing.status == .badRequest)

            // A careless uploader's Content-Encoding must not reach downloads.
            let archive = Fixtures.packArchive()
            #expect(try await client.put(uploadURI, archive, headers: ["Content-Encoding": "gzip"]) == 200)
            var tampered = uploadURI
            tampered.replaceSubrange(tampered.index(tampered.endIndex, offsetBy: -4)..., with: "0000")
            #expect(try await client.put(tampered, archive) == 403)

            let completed = try await api.send(
                .post, "/api/orgs/default/policypacks/guard/versions/1.0.0/complete", token: token)
            #expect(completed.status == .noContent)
            // The upload URL is still valid, but the completed version no longer reads from its object.
            #expect(try await client.put(uploadURI, Array("changed".utf8)) == 200)

            _ = try await api.send(
                .patch, "/api/orgs/default/policygroups/default-policy-group", token: token,
                json: ["addPolicyPack": ["name": "guard"]])
            let required = try await api.send(.get, "/api/stacks/default/web/prod/policypacks", token: token)
            let policy = try #require(required.json["requiredPolicies"]?.arrayValue?.first)
            let location = try #require(policy["packLocation"]?.stringValue)
            #expect(location.contains("X-Amz-Signature="))
            let download = try await Self.get(client, location)
            #expect(download.status == 200)
            #expect(download.body == archive)
            #expect(download.headers.first(name: "Content-Encoding") == nil)
            #expect(policy["sha256"] == .string(SHA256.hash(data: Data(archive)).hexString))

            let keys = try await store.list(prefix: "").map(\.key)
            #expect(keys.count == 2)  // the sealed archive, and the object the stale upload URL rewrote
            #expect(keys.contains { $0.hasPrefix("sealed/") })
        }
        for listing in try await store.list(prefix: "") { try await store.delete(key: listing.key) }
    }

    /// Concurrent creates of one pending tag each hand out an upload URI; whichever the client uses, complete works.
    @Test func anyUploadURIOfRacingCreatesLeadsToASuccessfulComplete() async throws {
        let store = try Self.store("race")
        let client = S3Client.makeHTTPClient()
        defer { _ = client.shutdown() }
        try await TestServer.with(blobStore: { _ in store }) { server, api in
            let token = server.adminToken
            let created = try await withThrowingTaskGroup(of: APIResponse.self) { group in
                for _ in 0..<8 {
                    group.addTask {
                        try await api.send(
                            .post, "/api/orgs/default/policypacks", token: token,
                            json: Fixtures.createBody("guard", tag: "1.0.0"))
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(created.map(\.status) == Array(repeating: .created, count: 8))
            #expect(Set(created.compactMap { $0.json["version"] }).count == 1)
            let uris = created.compactMap { $0.json["uploadURI"]?.stringValue }
            let archive = Fixtures.packArchive()
            // The first link handed out is the one a later create would have replaced.
            #expect(try await client.put(try #require(uris.first), archive) == 200)
            let completed = try await api.send(
                .post, "/api/orgs/default/policypacks/guard/versions/1.0.0/complete", token: token)
            #expect(completed.status == .noContent, "\(completed.text)")
            let version = try await server.store.version(organization: "default", pack: "guard", reference: "1.0.0")
            #expect(version.archive?.sha256 == SHA256.hash(data: Data(archive)).hexString)
        }
        for listing in try await store.list(prefix: "") { try await store.delete(key: listing.key) }
    }

    @Test func anInvalidUploadIsRefusedAndLeavesNoSealedCopy() async throws {
        let store = try Self.store("server")
        let client = S3Client.makeHTTPClient()
        defer { _ = client.shutdown() }
        try await TestServer.with(blobStore: { _ in store }) { server, api in
            let created = try await api.send(
                .post, "/api/orgs/default/policypacks", token: server.adminToken,
                json: Fixtures.createBody("guard", tag: "1.0.0"))
            let uploadURI = try #require(created.json["uploadURI"]?.stringValue)
            #expect(try await client.put(uploadURI, Array("not an archive".utf8)) == 200)
            let refused = try await api.send(
                .post, "/api/orgs/default/policypacks/guard/versions/1.0.0/complete", token: server.adminToken)
            #expect(refused.status == .badRequest)
            #expect(try await store.list(prefix: "sealed/").isEmpty)
            // Still pending: a good upload completes.
            #expect(try await client.put(uploadURI, Fixtures.packArchive()) == 200)
            let completed = try await api.send(
                .post, "/api/orgs/default/policypacks/guard/versions/1.0.0/complete", token: server.adminToken)
            #expect(completed.status == .noContent)
        }
        for listing in try await store.list(prefix: "") { try await store.delete(key: listing.key) }
    }

    @Test func anUploadOverTheLimitIsRefusedAtCompleteAndRemoved() async throws {
        let store = try Self.store("limit")
        let client = S3Client.makeHTTPClient()
        defer { _ = client.shutdown() }
        let small = Fixtures.packArchive()
        // The presigned PUT cannot bound the size, so complete must.
        let large = Fixtures.packArchive(files: [
            "package/PulumiPolicy.yaml": "runtime: nodejs\n",
            "package/noise.bin": (0..<4000).map { _ in String(UInt8.random(in: 0...9)) }.joined(),
        ])
        #expect(large.count > 1024 && small.count <= 1024)
        try await TestServer.with(maxArchiveBytes: 1024, blobStore: { _ in store }) { server, api in
            let created = try await api.send(
                .post, "/api/orgs/default/policypacks", token: server.adminToken,
                json: Fixtures.createBody("guard", tag: "1.0.0"))
            let uploadURI = try #require(created.json["uploadURI"]?.stringValue)
            #expect(try await client.put(uploadURI, large) == 200)
            let refused = try await api.send(
                .post, "/api/orgs/default/policypacks/guard/versions/1.0.0/complete", token: server.adminToken)
            #expect(refused.status == .contentTooLarge)
            #expect(refused.code == 413)
            #expect(refused.message?.contains("1024") == true, "\(refused.text)")
            #expect(try await store.list(prefix: "").isEmpty)
            // Still pending: an archive within the limit completes.
            #expect(try await client.put(uploadURI, small) == 200)
            let completed = try await api.send(
                .post, "/api/orgs/default/policypacks/guard/versions/1.0.0/complete", token: server.adminToken)
            #expect(completed.status == .noContent)
        }
        for listing in try await store.list(prefix: "") { try await store.delete(key: listing.key) }
    }

    @Test func completesRacingForOneVersionLeaveItsArchiveInPlace() async throws {
        let store = try Self.store("race")
        let client = S3Client.makeHTTPClient()
        defer { _ = client.shutdown() }
        let archive = Fixtures.packArchive()
        let versions = 4
        try await TestServer.with(blobStore: { _ in store }) { server, api in
            let caller = try #require(
                try await server.identity.authenticate(authorization: "token \(server.adminToken)"))
            let packs = server.services.packs
            @Sendable func complete(_ tag: String) async -> Bool {
                do {
                    try await packs.complete(organization: "default", pack: "guard", reference: tag, caller: caller)
                    return true
                } catch {
                    return false
                }
            }
            for index in 0..<versions {
                let tag = "1.0.\(index)"
                let created = try await api.send(
                    .post, "/api/orgs/default/policypacks", token: server.adminToken,
                    json: Fixtures.createBody("guard", tag: tag))
                #expect(
                    try await client.put(try #require(created.json["uploadURI"]?.stringValue), archive) == 200)
                async let first = complete(tag)
                async let second = complete(tag)
                #expect(await [first, second].contains(true))
            }
            // Every completed version's archive is there; the losers removed only their own copies.
            let sealed = try await store.list(prefix: "sealed/")
            #expect(sealed.count == versions)
            for key in try await server.store.referencedArchiveKeys() {
                #expect(try await store.size(key: key) == Int64(archive.count), "\(key)")
            }
            #expect(try await server.store.referencedArchiveKeys().count == versions)
        }
        for listing in try await store.list(prefix: "") { try await store.delete(key: listing.key) }
    }
}
