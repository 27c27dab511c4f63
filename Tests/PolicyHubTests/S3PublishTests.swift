import AsyncHTTPClient
import BlobStoreS3
import Crypto
import Foundation
import HTTPTypes
import NIOCore
import NIOHTTP1
import PolicyHubCore
import Testing

/// Publishing and downloading through an S3-compatible bucket: clients talk to the bucket through presigned URLs,
/// and the server verifies and seals what they uploaded. Runs when `POLICYHUB_TEST_S3_URL` names a bucket.
@Suite("Publishing through S3", .enabled(if: ProcessInfo.processInfo.environment["POLICYHUB_TEST_S3_URL"] != nil))
struct S3PublishTests {
    static func store(prefix: String) throws -> S3BlobStore {
        let url = try #require(ProcessInfo.processInfo.environment["POLICYHUB_TEST_S3_URL"])
        var components = try #require(URLComponents(string: url))
        components.path = "/" + prefix
        return try S3BlobStore(url: try #require(components.string))
    }

    static func put(_ client: HTTPClient, _ url: String, _ bytes: [UInt8], headers: [String: String] = [:]) async throws
        -> UInt
    {
        var request = HTTPClientRequest(url: url)
        request.method = .PUT
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        request.body = .bytes(ByteBuffer(bytes: bytes))
        let response = try await client.execute(request, timeout: .seconds(30))
        _ = try await response.body.collect(upTo: 1 << 20)
        return response.status.code
    }

    static func get(_ client: HTTPClient, _ url: String) async throws -> (
        status: UInt, headers: HTTPHeaders, body: [UInt8]
    ) {
        let response = try await client.execute(HTTPClientRequest(url: url), timeout: .seconds(30))
        let body = try await response.body.collect(upTo: 100 << 20)
        return (response.status.code, response.headers, Array(buffer: body))
    }

    @Test func clientsUploadAndDownloadThroughPresignedURLsAndCompletedArchivesAreSealed() async throws {
        let prefix = "server-\(UUID().uuidString.prefix(8))"
        let store = try Self.store(prefix: prefix)
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
            let archive = try Fixtures.packArchive()
            #expect(try await Self.put(client, uploadURI, archive, headers: ["Content-Encoding": "gzip"]) == 200)
            var tampered = uploadURI
            tampered.replaceSubrange(tampered.index(tampered.endIndex, offsetBy: -4)..., with: "0000")
            #expect(try await Self.put(client, tampered, archive) == 403)

            let completed = try await api.send(
                .post, "/api/orgs/default/policypacks/guard/versions/1.0.0/complete", token: token)
            #expect(completed.status == .noContent)
            // The upload URL is still valid, but the completed version no longer reads from its object.
            #expect(try await Self.put(client, uploadURI, Array("changed".utf8)) == 200)

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

    @Test func anInvalidUploadIsRefusedAndLeavesNoSealedCopy() async throws {
        let prefix = "server-\(UUID().uuidString.prefix(8))"
        let store = try Self.store(prefix: prefix)
        let client = S3Client.makeHTTPClient()
        defer { _ = client.shutdown() }
        try await TestServer.with(blobStore: { _ in store }) { server, api in
            let created = try await api.send(
                .post, "/api/orgs/default/policypacks", token: server.adminToken,
                json: Fixtures.createBody("guard", tag: "1.0.0"))
            let uploadURI = try #require(created.json["uploadURI"]?.stringValue)
            #expect(try await Self.put(client, uploadURI, Array("not an archive".utf8)) == 200)
            let refused = try await api.send(
                .post, "/api/orgs/default/policypacks/guard/versions/1.0.0/complete", token: server.adminToken)
            #expect(refused.status == .badRequest)
            #expect(try await store.list(prefix: "sealed/").isEmpty)
            // Still pending: a good upload completes.
            #expect(try await Self.put(client, uploadURI, try Fixtures.packArchive()) == 200)
            let completed = try await api.send(
                .post, "/api/orgs/default/policypacks/guard/versions/1.0.0/complete", token: server.adminToken)
            #expect(completed.status == .noContent)
        }
        for listing in try await store.list(prefix: "") { try await store.delete(key: listing.key) }
    }
}
