import AsyncHTTPClient
import BlobStoreFileSystem
import BlobStoreS3
import Crypto
import Foundation
import MetadataStoreSQL
import NIOCore
import NIOHTTP1
import PolicyHubCore
import PolicyHubTestSupport
import SQLKit
import Testing

/// Publishes, completes and deletes from several clients while the server is killed with SIGKILL at random
/// moments and restarted on the same store; then every promise must still hold.
@Suite("Crash safety", .serialized)
struct CrashSafetyTests {
    static let kills = 30
    /// Far fewer than a run acknowledges (hundreds on SQLite, dozens on PostgreSQL and S3), but more than a run in
    /// which publishing mostly failed would.
    static let minimumAcknowledged = 20

    @Test func sqliteAndFilesSurviveKills() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("policyhub-crash-\(UUID())")
        defer { try? FileManager.default.removeItem(at: directory) }
        let blobs = directory.appendingPathComponent("data/blobs").path
        try await Self.run(directory: directory, extraArguments: []) {
            let store = try await SQLMetadataStore.open(
                SQLiteBackend(path: directory.appendingPathComponent("data/policyhub.sqlite").path))
            return (store, try FileSystemBlobStore(root: URL(fileURLWithPath: blobs)))
        }
    }

    @Test(.enabled(if: TestStores.postgresURL != nil && TestStores.s3URL != nil)) func postgresAndS3SurviveKills()
        async throws
    {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("policyhub-crash-\(UUID())")
        defer { try? FileManager.default.removeItem(at: directory) }
        let database = try await TestDatabase.create("crash")
        let databaseURL = database.url
        let blobURL = try #require(TestStores.s3Prefix("crash"))
        try await Self.run(
            directory: directory, extraArguments: ["--database-url", databaseURL, "--blob-store-url", blobURL]
        ) {
            (try await SQLMetadataStore.open(PostgresBackend(url: databaseURL)), try S3BlobStore(url: blobURL))
        }
        try await database.drop()
    }

    /// What clients were told: versions completed (with their digests) and versions they tried to delete.
    actor Ledger {
        var completed: [String: String] = [:]
        var deleting: Set<String> = []
        var stopped = false

        func complete(_ version: String, sha256: String) { completed[version] = sha256 }
        func delete(_ version: String) { deleting.insert(version) }
        func stop() { stopped = true }
        func anyCompleted() -> String? { completed.keys.filter { !deleting.contains($0) }.randomElement() }
    }

    static func run(
        directory: URL, extraArguments: [String],
        openStores: @Sendable () async throws -> (SQLMetadataStore, any BlobStore)
    ) async throws {
        let dataDir = directory.appendingPathComponent("data")
        let port = try PolicyHubBinary.freePort()
        var server = try ServerProcess(dataDir: dataDir, port: port, extraArguments: extraArguments)
        try await server.waitUntilReady()
        let token = try server.initialAdminToken()
        let base = "http://127.0.0.1:\(port)"
        let client = HTTPClient(
            eventLoopGroupProvider: .singleton,
            configuration: .init(timeout: .init(connect: .seconds(2), read: .seconds(10))))
        let ledger = Ledger()

        let clients = Task {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for writer in 0..<4 {
                    group.addTask {
                        var index = 0
                        while await !ledger.stopped {
                            index += 1
                            await Self.step(
                                client, base: base, token: token, writer: writer, index: index, ledger: ledger)
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
        for _ in 0..<kills {
            try await Task.sleep(for: .milliseconds(Int.random(in: 50...400)))
            server.kill()
            server = try ServerProcess(dataDir: dataDir, port: port, extraArguments: extraArguments)
            try await server.waitUntilReady()
        }
        await ledger.stop()
        try await clients.value
        let acknowledged = await ledger.completed.count
        print("crash safety: survived \(kills) SIGKILLs; \(acknowledged) versions acknowledged")
        #expect(acknowledged >= minimumAcknowledged, "publishing mostly failed: \(server.log.suffix(2000))")
        // Once the kills stop, the last server takes publishes as before.
        await Self.step(client, base: base, token: token, writer: 4, index: 1, ledger: ledger)
        #expect(await ledger.completed["crash-0@4.1.0"] != nil, "a publish after the last restart failed")
        try await Self.checkDownloads(client, base: base, token: token, ledger: ledger)
        #expect(try await server.terminate() == 0)
        try await client.shutdown()

        let (store, blobs) = try await openStores()
        try await Self.checkInvariants(store: store, blobs: blobs, ledger: ledger)
        try await store.shutdown()
    }

    /// One publish (and now and then a delete) as a client sees it; failures are expected while the server is down.
    static func step(
        _ client: HTTPClient, base: String, token: String, writer: Int, index: Int, ledger: Ledger
    ) async {
        let pack = "crash-\(writer % 2)"
        let tag = "\(writer).\(index).0"
        do {
            if index % 5 == 0, let victim = await ledger.anyCompleted() {
                await ledger.delete(victim)
                let parts = victim.split(separator: "@")
                _ = try await client.api(
                    .DELETE, "\(base)/api/orgs/default/policypacks/\(parts[0])/versions/\(parts[1])", token: token,
                    timeout: .seconds(10))
                return
            }
            let archive = Fixtures.packArchive(files: [
                "package/PulumiPolicy.yaml": "runtime: nodejs\n", "package/index.js": "// \(tag)\n",
            ])
            let created = try await client.api(
                .POST, "\(base)/api/orgs/default/policypacks", token: token,
                body: try Fixtures.createBody(pack, tag: tag).encoded(), timeout: .seconds(10))
            guard created.status == 201, let uploadURI = created.json["uploadURI"]?.stringValue else { return }
            _ = try await client.put(uploadURI, archive, timeout: .seconds(10))
            let completed = try await client.api(
                .POST, "\(base)/api/orgs/default/policypacks/\(pack)/versions/\(tag)/complete", token: token,
                timeout: .seconds(10))
            if completed.status == 204 {
                await ledger.complete("\(pack)@\(tag)", sha256: SHA256.hash(data: Data(archive)).hexString)
            }
        } catch {
            try? await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Every version a client saw completed, and did not try to delete, is served to stacks with the archive the
    /// client uploaded: applied to the default group in turn, each download link must give back the same bytes.
    static func checkDownloads(_ client: HTTPClient, base: String, token: String, ledger: Ledger) async throws {
        let deleting = await ledger.deleting
        let survivors = await ledger.completed.filter { !deleting.contains($0.key) }
        for (name, sha256) in survivors.sorted(by: { $0.key < $1.key }) {
            let parts = name.split(separator: "@").map(String.init)
            let selector: JSONValue = ["addPolicyPack": ["name": .string(parts[0]), "versionTag": .string(parts[1])]]
            let applied = try await client.api(
                .PATCH, "\(base)/api/orgs/default/policygroups/default-policy-group", token: token,
                body: try selector.encoded())
            #expect(applied.status == 204, "applying \(name): \(applied.json)")
            let required = try await client.api(
                .GET, "\(base)/api/stacks/default/crash/check/policypacks", token: token)
            let policy = required.json["requiredPolicies"]?.arrayValue?.first { $0["name"]?.stringValue == parts[0] }
            #expect(policy?["versionTag"]?.stringValue == parts[1], "\(name)")
            let location = try #require(policy?["packLocation"]?.stringValue, "no download link for \(name)")
            let download = try await client.execute(HTTPClientRequest(url: location), timeout: .seconds(30))
            #expect(download.status == .ok, "\(name)")
            let bytes = try await download.body.collect(upTo: 10 << 20)
            #expect(SHA256.hash(data: Array(buffer: bytes)).hexString == sha256, "\(name) downloads other bytes")
        }
    }

    static func checkInvariants(store: SQLMetadataStore, blobs: any BlobStore, ledger: Ledger) async throws {
        let versions = try await store.archiveReferences()
        var byName: [String: [PackVersion]] = [:]
        for (version, _) in versions {
            byName["\(version.name)@\(version.versionTag ?? "")", default: []].append(version)
        }
        // Every version a client saw completed, and did not try to delete, is there with its archive intact.
        let deleting = await ledger.deleting
        for (name, sha256) in await ledger.completed where !deleting.contains(name) {
            let found = try #require(byName[name]?.first, "acknowledged version \(name) was lost")
            #expect(found.status == .complete, "\(name)")
            #expect(found.archive?.sha256 == sha256, "\(name)")
        }
        // No completed version lacks its archive, and each archive still hashes to its recorded digest.
        for (version, archive) in versions where version.status == .complete {
            var hasher = SHA256()
            try await blobs.read(key: archive.key, range: nil) { buffer in
                buffer.withUnsafeReadableBytes { hasher.update(bufferPointer: $0) }
            }
            #expect(hasher.finalize().hexString == archive.sha256, "\(version.name) \(version.label)")
        }
        // One version per tag, and numbers unique per pack.
        #expect(byName.values.allSatisfy { $0.count == 1 })
        for pack in Set(versions.map(\.version.packID)) {
            let numbers = versions.filter { $0.version.packID == pack }.map(\.version.version)
            #expect(Set(numbers).count == numbers.count)
        }
    }
}
