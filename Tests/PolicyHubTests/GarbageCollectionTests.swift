import Foundation
import HTTPTypes
import NIOCore
import PolicyHubCore
import PolicyHubTestSupport
import Testing

/// Abandoned pending versions and unreferenced archives are swept; nothing in use ever is.
@Suite("Garbage collection")
struct GarbageCollectionTests {
    @Test func theSweepRemovesAbandonedVersionsAndOrphansAndKeepsEverythingInUse() async throws {
        try await TestServer.with { server, api in
            let token = server.adminToken
            try await api.publish("default", "p", tag: "1.0.0", token: token)
            let uploaded = try await api.send(
                .post, "/api/orgs/default/policypacks", token: token, json: Fixtures.createBody("p", tag: "2.0.0"))
            _ = try await api.upload(try #require(uploaded.json["uploadURI"]?.stringValue), Fixtures.packArchive())
            _ = try await api.send(
                .post, "/api/orgs/default/policypacks", token: token, json: Fixtures.createBody("q", tag: "1.0.0"))
            let orphan = try await server.blobs.write(
                key: "policypacks/orphan/left/behind.tgz", body: ChunkedBody(Array("junk".utf8)), maxBytes: 1000)
            #expect(try server.storedArchives().count == 3)

            // A day and an hour later, everything but the completed version is abandoned.
            let later = server.clock.wallClock.now().addingTimeInterval(25 * 3600)
            let collector = GarbageCollector(
                store: server.store, blobs: server.blobs, clock: WallClock { later }, logger: TestServer.quietLogger)
            let preview = try await collector.sweep(dryRun: true)
            #expect(preview.pendingVersions.sorted() == ["default/p 2.0.0", "default/q 1.0.0"])
            #expect(preview.orphanArchives == [orphan.key])
            #expect(try server.storedArchives().count == 3)

            let report = try await collector.sweep()
            #expect(report.pendingVersions.count == 2)
            #expect(report.orphanArchives == [orphan.key])
            #expect(try server.storedArchives().count == 1)
            #expect(try await collector.sweep() == SweepReport())

            // The completed version is untouched and still served.
            let list = try await api.send(.get, "/api/orgs/default/policypacks", token: token)
            #expect(list.json["policyPacks"]?.arrayValue?.first?["versionTags"] == ["1.0.0"])
            _ = try await api.send(
                .patch, "/api/orgs/default/policygroups/default-policy-group", token: token,
                json: ["addPolicyPack": ["name": "p"]])
            let required = try await api.send(.get, "/api/stacks/default/web/prod/policypacks", token: token)
            let location = try #require(
                required.json["requiredPolicies"]?.arrayValue?.first?["packLocation"]?.stringValue)
            #expect(try await api.download(location).status == .ok)
        }
    }

    @Test func aYoungUnreferencedArchiveIsLeftForTheUploadAboutToRecordIt() async throws {
        try await TestServer.with { server, _ in
            _ = try await server.blobs.write(
                key: "policypacks/in/flight.tgz", body: ChunkedBody(Array("uploading".utf8)), maxBytes: 1000)
            let soon = Date().addingTimeInterval(600)
            let collector = GarbageCollector(
                store: server.store, blobs: server.blobs, grace: 3600, clock: WallClock { soon },
                logger: TestServer.quietLogger)
            #expect(try await collector.sweep().orphanArchives.isEmpty)
            #expect(try server.storedArchives() == ["policypacks/in/flight.tgz"])
        }
    }

    @Test func adminGCReportsInADryRunAndRemovesOtherwise() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "policyhub-gc-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let server = try ServerProcess(dataDir: directory)
        try await server.waitUntilReady()
        let token = try server.initialAdminToken()
        _ = try await server.withClient { api in
            try await api.send(
                .post, "/api/orgs/default/policypacks", token: token, json: Fixtures.createBody("p", tag: "1.0.0"))
        }
        #expect(try await server.terminate() == 0)
        let store = ["--data-dir", directory.path]
        let dry = try await PolicyHubBinary.run(["admin", "gc", "--dry-run", "--pending-ttl", "0"] + store)
        #expect(dry.status == 0)
        #expect(dry.stdout.hasPrefix("Would remove 1 pending version(s)"))
        #expect(dry.stdout.contains("pending version default/p 1.0.0"))
        let real = try await PolicyHubBinary.run(["admin", "gc", "--pending-ttl", "0"] + store)
        #expect(real.stdout.hasPrefix("Removed 1 pending version(s)"))
        let again = try await PolicyHubBinary.run(["admin", "gc", "--pending-ttl", "0"] + store)
        #expect(again.stdout.hasPrefix("Removed 0 pending version(s)"))
    }
}
