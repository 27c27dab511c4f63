import BlobStoreFileSystem
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import PolicyHubCore
import PolicyHubHTTP
import PolicyHubServer
import Synchronization
import Testing

/// What `scripts/fuzz-api.sh` (schemathesis against a live server) found, kept so that it stays fixed.
@Suite("Fuzzing regressions")
struct FuzzRegressionTests {
    /// PostgreSQL's text type cannot hold U+0000, so a NUL in any body string was a 500 there (and stored on
    /// SQLite). It is a 400 on every store.
    @Test func aNULCharacterInABodyStringIsABadRequest() async throws {
        try await TestServer.with { server, api in
            let policy = #"{"name":"r","displayName":"","description":"","enforcementLevel":"advisory","message":""}"#
            let requests: [(HTTPRequest.Method, String, String)] = [
                (
                    .post, "/api/orgs/default/policypacks",
                    #"{"name":"p","displayName":"a\u0000b","versionTag":"1.0.0","policies":["# + policy + "]}"
                ),
                (
                    .post, "/api/registry/policypacks/private/default/p/versions",
                    #"{"name":"p","displayName":"","version":"1.0.0","policies":["# + policy + #"],"tags":["\u0000"]}"#
                ),
                (.post, "/api/registry/policypacks", #"{"ids":["a\u0000b"]}"#),
                (
                    .post, "/api/orgs/default/policygroups",
                    #"{"name":"g","entityType":"stacks","agentPoolId":"\u0000"}"#
                ),
                (
                    .patch, "/api/orgs/default/policygroups/default-policy-group",
                    #"{"addStack":{"name":"prod","routingProject":"web\u0000"}}"#
                ),
            ]
            for (method, path, body) in requests {
                let response = try await api.raw(method, path, headers: headers(server), body: ByteBuffer(string: body))
                #expect(response.status == .badRequest, "\(method) \(path): \(response.text)")
                #expect(response.code == 400)
                #expect(response.message?.contains("NUL") == true, "\(response.text)")
            }
            let packs = try await api.send(.get, "/api/orgs/default/policypacks", token: server.adminToken)
            #expect(packs.json["policyPacks"] == [])
        }
    }

    /// The check reads JSON escapes whole: an escaped backslash followed by the text `u0000` is no NUL.
    @Test func anEscapedBackslashBeforeU0000IsPlainText() async throws {
        try await TestServer.with { server, api in
            let policy = #"{"name":"r","displayName":"","description":"","enforcementLevel":"advisory","message":""}"#
            let body = #"{"name":"p","displayName":"a\\u0000b","versionTag":"1.0.0","policies":["# + policy + "]}"
            let response = try await api.raw(
                .post, "/api/orgs/default/policypacks", headers: headers(server), body: ByteBuffer(string: body))
            #expect(response.status == .created, "\(response.text)")
        }
    }

    /// A percent-encoded NUL in a path or query parameter reached the store as part of a lookup: a 500 on
    /// PostgreSQL. It is a 400 before any handler runs.
    @Test func aNULCharacterInThePathOrQueryIsABadRequest() async throws {
        try await TestServer.with { server, api in
            for path in [
                "/api/orgs/default/policypacks/p/versions/a%00b",
                "/api/orgs/default/policypacks/p/versions/a%00b/schema",
                "/api/orgs/default/registry/policypacks/p?tag=a%00b",
                "/api/registry/policypacks/private/default/p/versions/a%00b",
                "/api/registry/policypacks?orgLogin=default&continuationToken=%00",
            ] {
                let response = try await api.send(.get, path, token: server.adminToken)
                #expect(response.status == .badRequest, "\(path): \(response.text)")
                #expect(response.code == 400)
            }
        }
    }

    /// An audit log time bound whose milliseconds do not fit an Int64 trapped in the store and killed the server.
    @Test func anAuditLogTimeBoundOutOfRangeIsABadRequest() async throws {
        try await TestServer.with { server, api in
            for query in [
                "startTime=-9000000000000000000", "endTime=9000000000000000000", "startTime=1000000000000001",
            ] {
                let response = try await api.send(
                    .get, "/api/orgs/default/auditlogs?\(query)", token: server.adminToken)
                #expect(response.status == .badRequest, "\(query): \(response.text)")
                #expect(response.code == 400)
            }
            let wide = try await api.send(
                .get, "/api/orgs/default/auditlogs?startTime=-1000000000000000&endTime=1000000000000000",
                token: server.adminToken)
            #expect(wide.status == .ok, "\(wide.text)")
        }
    }

    /// The log line of a 500 described OpenAPIRuntime's whole request, Authorization header and so the caller's
    /// access token included.
    @Test func theLogOfAServerErrorHoldsNoAccessToken() async throws {
        try await TestServer.with(blobStore: { try LinklessBlobStore(root: $0.appendingPathComponent("blobs")) }) {
            server, api in
            try await api.publish("default", "p", tag: "1.0.0", token: server.adminToken)
            let applied = try await api.send(
                .patch, "/api/orgs/default/policygroups/default-policy-group", token: server.adminToken,
                json: ["addPolicyPack": ["name": "p", "versionTag": "1.0.0"]])
            #expect(applied.status == .noContent, "\(applied.text)")

            let log = LogRecorder()
            let app = try await Server(configuration: server.configuration, stores: server.stores, logger: log.logger)
                .application()
            try await app.test(.live) { client in
                let response = try await APIClient(client: client).send(
                    .get, "/api/stacks/default/web/prod/policypacks", token: server.adminToken)
                #expect(response.status == .internalServerError)
                #expect(response.code == 500)
            }
            #expect(log.text.contains("request failed"))
            #expect(log.text.contains("getStackPolicyPacks"), "\(log.text)")
            #expect(!log.text.contains(server.adminToken), "\(log.text)")
        }
    }

    private func headers(_ server: TestServer) -> HTTPFields {
        var headers = APIClient.cliHeaders
        headers[.authorization] = "token \(server.adminToken)"
        return headers
    }
}

/// Archives as files, except that download links cannot be made: a dependency failing in a way the server has
/// no answer for, which is a 500.
private struct LinklessBlobStore: BlobStore {
    struct Failure: Error {}

    let files: FileSystemBlobStore

    init(root: URL) throws { files = try FileSystemBlobStore(root: root) }

    func write<Body: AsyncSequence & Sendable>(key: String, body: Body, maxBytes: Int64) async throws -> StoredBlob
    where Body.Element == ByteBuffer {
        try await files.write(key: key, body: body, maxBytes: maxBytes)
    }

    func read(key: String, range: ClosedRange<Int64>?, consume: (ByteBuffer) async throws -> Void) async throws {
        try await files.read(key: key, range: range, consume: consume)
    }

    func size(key: String) async throws -> Int64? { try await files.size(key: key) }
    func delete(key: String) async throws { try await files.delete(key: key) }
    func list(prefix: String) async throws -> [BlobListing] { try await files.list(prefix: prefix) }
    func directDownloadURL(key: String, lifetime: TimeInterval) async throws -> String? { throw Failure() }
}

/// A logger whose messages, with their metadata, the test can read.
private final class LogRecorder: Sendable {
    private let lines = Mutex<[String]>([])

    var logger: Logger { Logger(label: "fuzz-regression") { _ in Handler(recorder: self) } }
    var text: String { lines.withLock { $0.joined(separator: "\n") } }

    struct Handler: LogHandler {
        let recorder: LogRecorder
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .info

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let all = metadata.merging(event.metadata ?? [:]) { _, new in new }
            recorder.lines.withLock { $0.append("\(event.message) \(all)") }
        }
    }
}
