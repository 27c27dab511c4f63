import Crypto
import Foundation
import HTTPTypes
import MetadataStoreSQL
import NIOCore
import PolicyHubCore
import PolicyHubTestSupport
import SQLKit
import Testing

/// `policyhub admin migrate-store` moves a whole deployment without losing anything.
@Suite("Migrating a deployment", .serialized)
struct MigrateStoreTests {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
        "policyhub-migrate-\(UUID().uuidString)")

    /// A deployment with 100 packs, several versions, a pending version, groups with stacks and config, and users.
    func populate(_ dataDir: URL) async throws -> String {
        let server = try ServerProcess(dataDir: dataDir)
        try await server.waitUntilReady()
        let token = try server.initialAdminToken()
        try await server.withClient { api in
            for index in 0..<100 {
                let archive = Fixtures.packArchive(files: [
                    "package/PulumiPolicy.yaml": "runtime: nodejs\n", "package/index.js": "// pack \(index)\n",
                ])
                try await api.publish("default", "pack-\(index)", tag: "1.0.0", token: token, archive: archive)
                if index % 10 == 0 { try await api.publish("default", "pack-\(index)", tag: nil, token: token) }
            }
            _ = try await api.send(
                .post, "/api/orgs/default/policypacks", token: token, json: Fixtures.createBody("pending", tag: "0.1"))
            _ = try await api.send(
                .post, "/api/orgs/default/policygroups", token: token, json: ["name": "prod", "entityType": "stacks"])
            _ = try await api.send(
                .patch, "/api/orgs/default/policygroups/prod", token: token,
                json: [
                    "addStack": ["name": "prod", "routingProject": "web"],
                    "addPolicyPack": ["name": "pack-1", "config": ["rule": "advisory"]],
                ])
        }
        #expect(try await server.terminate() == 0)
        #expect(
            try await PolicyHubBinary.run(["admin", "create-user", "alice", "--data-dir", dataDir.path]).status == 0)
        return token
    }

    func migrate(_ arguments: [String]) async throws {
        let result = try await PolicyHubBinary.run(["admin", "migrate-store"] + arguments)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("every digest verified"))
    }

    func dump(_ location: String?, dataDir: URL) async throws -> [String: [String]] {
        let backend: any SQLBackend =
            if let location { try PostgresBackend(url: location) } else {
                SQLiteBackend(path: dataDir.appendingPathComponent("policyhub.sqlite").path)
            }
        let store = try await SQLMetadataStore.open(backend)
        let dump = try await SQLStoreCopy.dump(store)
        try await store.shutdown()
        return dump
    }

    @Test func aDeploymentMovesToANewDirectoryLosslessly() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let source = directory.appendingPathComponent("source")
        let target = directory.appendingPathComponent("target")
        let token = try await populate(source)
        try await migrate(["--from", source.path, "--to", target.path])

        let before = try await dump(nil, dataDir: source)
        let after = try await dump(nil, dataDir: target)
        #expect(before == after)
        #expect(before["policy_pack_versions"]?.count == 111)

        // The copy serves the same packs, with the same token and the same bytes.
        let server = try ServerProcess(dataDir: target)
        try await server.waitUntilReady()
        try await server.withClient { api in
            let list = try await api.send(.get, "/api/orgs/default/policypacks", token: token)
            #expect(list.json["policyPacks"]?.arrayValue?.count == 100)
            let required = try await api.send(.get, "/api/stacks/default/web/prod/policypacks", token: token)
            let policy = try #require(required.json["requiredPolicies"]?.arrayValue?.first)
            let download = try await api.download(try #require(policy["packLocation"]?.stringValue))
            #expect(download.status == .ok)
            #expect(String(buffer: download.body).isEmpty == false)
            // The bytes are the ones the source recorded when the version was completed.
            #expect(SHA256.hash(data: Array(buffer: download.body)).hexString == policy["sha256"]?.stringValue)
        }
        #expect(try await server.terminate() == 0)

        // A target that already holds a deployment is refused.
        let again = try await PolicyHubBinary.run([
            "admin", "migrate-store", "--from", source.path, "--to", target.path,
        ])
        #expect(again.status != 0)
        #expect(again.stderr.contains("not empty"))
    }

    @Test(.enabled(if: TestStores.postgresURL != nil))
    func aDeploymentRoundTripsThroughPostgreSQLAndS3() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let database = try await TestDatabase.create("migrate")
        let postgresURL = database.url

        let source = directory.appendingPathComponent("source")
        let back = directory.appendingPathComponent("back")
        // Through the S3 bucket when there is one, else a directory.
        let middleBlobs = TestStores.s3Prefix("migrate") ?? directory.appendingPathComponent("middle-blobs").path
        _ = try await populate(source)
        try await migrate(["--from", source.path, "--to", postgresURL, "--to-blob-store", middleBlobs])
        try await migrate(["--from", postgresURL, "--from-blob-store", middleBlobs, "--to", back.path])
        let original = try await dump(nil, dataDir: source)
        #expect(try await dump(postgresURL, dataDir: source) == original)
        #expect(try await dump(nil, dataDir: back) == original)

        try await database.drop()
    }
}
