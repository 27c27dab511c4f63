import AsyncHTTPClient
import BlobStoreFileSystem
import BlobStoreS3
import Crypto
import Foundation
import HTTPTypes
import MetadataStoreSQL
import NIOCore
import NIOHTTP1
import PolicyHubCore
import PolicyHubTestSupport
import SQLKit
import Testing

/// Two `policyhub serve` processes on one PostgreSQL database and one archive store, written to through both at
/// once and read through the other. Needs `POLICYHUB_TEST_POSTGRES_URL`; uses the S3 bucket of
/// `POLICYHUB_TEST_S3_URL` when set, else a directory both instances share.
@Suite("Several instances on one database", .serialized)
struct MultiInstanceTests {

    let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
        "policyhub-multi-\(UUID().uuidString)")

    @Test(.enabled(if: TestStores.postgresURL != nil)) func concurrentPublishesThroughTwoInstances() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let database = try await TestDatabase.create("multi")
        let databaseURL = database.url
        let blobStore = TestStores.s3Prefix("multi") ?? directory.appendingPathComponent("shared-blobs").path
        let shared = ["--database-url", databaseURL, "--blob-store-url", blobStore]

        // Both start at once on the empty database: one migrates and creates the admin, the other waits. Neither
        // data directory exists: with PostgreSQL only the initial token file needs one, and the server makes it.
        let first = try ServerProcess(
            dataDir: directory.appendingPathComponent("a"), extraArguments: shared, createDataDir: false)
        let second = try ServerProcess(
            dataDir: directory.appendingPathComponent("b"), extraArguments: shared, createDataDir: false)
        try await first.waitUntilReady()
        try await second.waitUntilReady()
        let tokenFiles = [first, second].map { $0.dataDir.appendingPathComponent("initial-admin-token") }
        let written = tokenFiles.filter { FileManager.default.fileExists(atPath: $0.path) }
        #expect(written.count == 1)
        let token = try String(contentsOf: try #require(written.first), encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)

        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        let instances = [first, second].map { "http://127.0.0.1:\($0.port)" }
        let writers = 8
        let perWriter = 25
        let started = ContinuousClock.now
        // Writer w publishes to pack `shared-(w % 2)` through instance w % 2 and completes through the other.
        let published = try await withThrowingTaskGroup(of: [(pack: String, tag: String, sha256: String)].self) {
            group in
            for writer in 0..<writers {
                group.addTask {
                    var mine: [(String, String, String)] = []
                    for index in 0..<perWriter {
                        let pack = "shared-\(writer % 2)"
                        let tag = "\(writer).\(index).0"
                        let archive = Fixtures.packArchive(files: [
                            "package/PulumiPolicy.yaml": "runtime: nodejs\n", "package/index.js": "// \(tag)\n",
                        ])
                        try await Self.publish(
                            client, create: instances[writer % 2], complete: instances[(writer + 1) % 2], token: token,
                            pack: pack, tag: tag, archive: archive)
                        mine.append((pack, tag, SHA256.hash(data: Data(archive)).hexString))
                    }
                    return mine
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        let elapsed = ContinuousClock.now - started
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        print(
            "multi-instance: \(published.count) versions through 2 instances in \(String(format: "%.2f", seconds)) s "
                + "(\(String(format: "%.1f", Double(published.count) / seconds)) versions/s)")
        #expect(published.count == writers * perWriter)

        // Every version is visible through both instances, numbered 1...n per pack without gaps.
        var lists: [JSONValue] = []
        for instance in instances {
            let list = try await Self.get(client, instance + "/api/orgs/default/policypacks", token: token)
            lists.append(list)
        }
        #expect(lists[0] == lists[1])
        for pack in lists[0]["policyPacks"]?.arrayValue ?? [] {
            let versions =
                pack["versions"]?.arrayValue?.compactMap { value -> Int64? in
                    if case .int(let number) = value { return number }
                    return nil
                } ?? []
            #expect(versions == (0..<Int64(versions.count)).map { $0 + 1 })
            #expect(Set(pack["versionTags"]?.arrayValue ?? []).count == versions.count)
        }
        #expect(
            lists[0]["policyPacks"]?.arrayValue?.compactMap { $0["versions"]?.arrayValue?.count }.reduce(0, +)
                == writers * perWriter)

        // Every archive is intact: the recorded digest is the uploaded one, and so are the stored bytes.
        let store = try await SQLMetadataStore.open(PostgresBackend(url: databaseURL))
        let blobs = try await Self.blobStore(blobStore)
        let references = try await store.archiveReferences()
        let recorded = Dictionary(
            references.map { ("\($0.version.name)@\($0.version.versionTag ?? "")", $0.archive) },
            uniquingKeysWith: { first, _ in first })
        for (pack, tag, sha256) in published {
            let archive = try #require(recorded["\(pack)@\(tag)"])
            #expect(archive.sha256 == sha256)
            var hasher = SHA256()
            try await blobs.read(key: archive.key, range: nil) { buffer in
                buffer.withUnsafeReadableBytes { hasher.update(bufferPointer: $0) }
            }
            #expect(hasher.finalize().hexString == sha256)
        }
        try await store.shutdown()
        try await client.shutdown()
        #expect(try await first.terminate() == 0)
        #expect(try await second.terminate() == 0)
        try await database.drop()
    }

    @Test(.enabled(if: TestStores.postgresURL != nil)) func aRevokedTokenIsRefusedByEveryInstanceOnItsNextRequest()
        async throws
    {
        defer { try? FileManager.default.removeItem(at: directory) }
        let database = try await TestDatabase.create("multi")
        let databaseURL = database.url
        let store = ["--database-url", databaseURL]
        let instances = try ["a", "b"].map {
            try ServerProcess(
                dataDir: directory.appendingPathComponent($0),
                extraArguments: store + ["--blob-store-url", directory.appendingPathComponent("blobs").path])
        }
        for instance in instances { try await instance.waitUntilReady() }
        let created = try await PolicyHubBinary.run(["admin", "create-token", "admin", "--description", "ci"] + store)
        #expect(created.status == 0, "\(created.stderr)")
        let token = created.stdout.trimmingCharacters(in: .newlines)
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        for instance in instances {
            let user = try await client.api(.GET, "http://127.0.0.1:\(instance.port)/api/user", token: token)
            #expect(user.status == 200)
        }

        let listed = try await PolicyHubBinary.run(["admin", "list-tokens", "admin"] + store)
        let line = try #require(listed.stdout.split(separator: "\n").first { $0.hasSuffix("\tci") })
        let revoked = try await PolicyHubBinary.run(
            ["admin", "revoke-token", String(line.split(separator: "\t")[0])] + store)
        #expect(revoked.status == 0, "\(revoked.stderr)")
        // No instance caches what it knew of the token: the very next request on each is refused.
        for instance in instances {
            let user = try await client.api(.GET, "http://127.0.0.1:\(instance.port)/api/user", token: token)
            #expect(user.status == 401)
            #expect(user.json["code"] == 401)
        }
        try await client.shutdown()
        for instance in instances { #expect(try await instance.terminate() == 0) }
        try await database.drop()
    }

    static func blobStore(_ location: String) async throws -> any BlobStore {
        if location.hasPrefix("s3://") { return try S3BlobStore(url: location) }
        return try FileSystemBlobStore(root: URL(fileURLWithPath: location, isDirectory: true))
    }

    static func publish(
        _ client: HTTPClient, create: String, complete: String, token: String, pack: String, tag: String,
        archive: [UInt8]
    ) async throws {
        let created = try await client.api(
            .POST, create + "/api/orgs/default/policypacks", token: token,
            body: try Fixtures.createBody(pack, tag: tag).encoded())
        guard created.status == 201, let uploadURI = created.json["uploadURI"]?.stringValue else {
            throw TestFailure("create failed: \(created.status) \(created.json)")
        }
        let required = (created.json["requiredHeaders"]?.objectValue ?? [:]).mapValues { $0.stringValue ?? "" }
        let uploaded = try await client.put(uploadURI, archive, headers: required)
        guard uploaded < 300 else { throw TestFailure("upload failed: \(uploaded)") }
        let completed = try await client.api(
            .POST, complete + "/api/orgs/default/policypacks/\(pack)/versions/\(tag)/complete", token: token)
        guard completed.status == 204 else {
            throw TestFailure("complete failed: \(completed.status) \(completed.json)")
        }
    }

    static func get(_ client: HTTPClient, _ url: String, token: String) async throws -> JSONValue {
        try await client.api(.GET, url, token: token).json
    }

}
