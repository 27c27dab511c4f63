import Foundation
import MetadataStoreSQL
import PolicyHubCore
import Testing

/// What the garbage collector and the health checks rely on.
extension MetadataStoreConformanceTests {
    /// A pending version, created `offset` seconds after `now`.
    static func begin(
        _ store: SQLMetadataStore, _ name: String, tag: String, in organization: String = "acme",
        at offset: TimeInterval = 0
    ) async throws -> PackVersion {
        try await store.beginVersion(
            organization: organization, draft: draft(name, tag: tag), at: now.addingTimeInterval(offset))
    }

    /// Records an upload through the server of a made-up archive under `key`, `offset` seconds after `now`.
    @discardableResult
    static func upload(_ store: SQLMetadataStore, _ version: PackVersion, key: String, at offset: TimeInterval = 0)
        async throws -> StoredBlob
    {
        let archive = StoredBlob(key: key, size: 3, sha256: "aa")
        _ = try await store.recordUpload(versionID: version.id, archive: archive, at: now.addingTimeInterval(offset))
        return archive
    }

    @Test(arguments: MetadataBackend.available)
    func pingAnswersWhileTheStoreIsOpenAndFailsOnceItIsShutDown(backend: MetadataBackend) async throws {
        try await backend.withStore { store, open in
            try await store.ping()
            let other = try await open()
            try await other.ping()
            try await other.shutdown()
            await #expect(throws: (any Error).self) { try await other.ping() }
            // Another instance closing its connections leaves this one answering.
            try await store.ping()
        }
    }

    @Test(arguments: MetadataBackend.available)
    func pendingVersionsAreThoseNeitherCreatedNorUploadedToSinceTheCutoff(backend: MetadataBackend) async throws {
        try await backend.withStore { store, _ in
            try await Self.setUp(store)
            try await store.createOrganization(login: "beta", at: Self.now)
            let idle = try await Self.begin(store, "idle", tag: "1")
            let uploaded = try await Self.begin(store, "uploaded", tag: "1", in: "beta", at: 10)
            let archive = try await Self.upload(store, uploaded, key: "k/uploaded", at: 200)
            let young = try await Self.begin(store, "young", tag: "1", at: 150)
            try await Self.publish(store, "acme", "done", tag: "1")

            func pending(before offset: TimeInterval) async throws -> [String] {
                try await store.pendingVersions(before: Self.now.addingTimeInterval(offset)).map(\.id)
            }
            // Strictly before the cutoff: a version created at it is not abandoned yet.
            #expect(try await pending(before: 0) == [])
            #expect(try await pending(before: 100) == [idle.id])
            // Every organization's, oldest creation first; never a completed version.
            #expect(try await pending(before: 300) == [idle.id, uploaded.id, young.id])

            // What the sweeper reports and removes by.
            let listed = try await store.pendingVersions(before: Self.now.addingTimeInterval(300))
            #expect(listed.allSatisfy { $0.status == .pending })
            let first = try #require(listed.first)
            #expect("\(first.organization)/\(first.name) \(first.label)" == "acme/idle 1")
            #expect(listed[1].archive == archive)

            // A retried create refreshes its pending version: no longer abandoned.
            #expect(try await Self.begin(store, "idle", tag: "1", at: 250).id == idle.id)
            #expect(try await pending(before: 240) == [uploaded.id, young.id])
        }
    }

    @Test(arguments: MetadataBackend.available)
    func deletingAPendingVersionReturnsItsArchiveAndSparesCompletedOnes(backend: MetadataBackend) async throws {
        try await backend.withStore { store, _ in
            try await Self.setUp(store)
            let uploaded = try await Self.begin(store, "p", tag: "1.0.0")
            try await Self.upload(store, uploaded, key: "k/uploaded")
            let bare = try await Self.begin(store, "p", tag: "2.0.0")
            let done = try await Self.publish(store, "acme", "p", tag: "3.0.0")

            #expect(try await store.deletePendingVersion(id: uploaded.id) == "k/uploaded")
            #expect(try await store.version(id: uploaded.id) == nil)
            // Gone too without an archive: nothing to give back.
            #expect(try await store.deletePendingVersion(id: bare.id) == nil)
            #expect(try await store.version(id: bare.id) == nil)
            // A version completed since the sweep listed it is no longer abandoned: it stays, archive and all.
            #expect(try await store.deletePendingVersion(id: done.id) == nil)
            #expect(try await store.version(id: done.id) == done)
            #expect(try await store.deletePendingVersion(id: uploaded.id) == nil)
            #expect(try await store.deletePendingVersion(id: "missing") == nil)

            // The tag is free again; its number is not reused.
            let again = try await Self.begin(store, "p", tag: "1.0.0")
            #expect(again.id != uploaded.id)
            #expect(again.version == 4)
            #expect(try await store.pendingVersions(before: .distantFuture).map(\.id) == [again.id])
            #expect(try await store.listPacks(organization: "acme", name: nil).map(\.versions) == [[3]])
        }
    }

    @Test(arguments: MetadataBackend.available)
    func referencedArchiveKeysAreExactlyTheArchivesVersionsPointAt(backend: MetadataBackend) async throws {
        try await backend.withStore { store, _ in
            try await Self.setUp(store)
            #expect(try await store.referencedArchiveKeys() == [])
            _ = try await Self.begin(store, "p", tag: "1")
            let uploading = try await Self.begin(store, "p", tag: "2")
            for key in ["k/first", "k/second"] { try await Self.upload(store, uploading, key: key) }
            let sealed = try await Self.begin(store, "q", tag: "1")
            try await Self.upload(store, sealed, key: "k/q")
            try await store.completeVersion(
                versionID: sealed.id, recordedUpload: "k/q", archive: StoredBlob(key: "sealed/q", size: 1, sha256: "b"),
                at: Self.now)
            // A replaced upload, and the upload a completed version was sealed away from, are no longer referenced.
            #expect(try await store.referencedArchiveKeys() == ["k/second", "sealed/q"])

            try await store.createOrganization(login: "beta", at: Self.now)
            let other = try await Self.publish(store, "beta", "r", tag: "1")
            let otherKey = try #require(other.archive?.key)
            #expect(try await store.referencedArchiveKeys() == ["k/second", "sealed/q", otherKey])

            _ = try await store.deleteVersion(id: uploading.id)
            #expect(try await store.referencedArchiveKeys() == ["sealed/q", otherKey])
            _ = try await store.deletePack(organization: "acme", name: "q")
            #expect(try await store.referencedArchiveKeys() == [otherKey])
        }
    }

    /// A client that uploads straight to storage leaves nothing recorded: completing then expects no recorded upload,
    /// and stops matching once an upload through the server is recorded.
    @Test(arguments: MetadataBackend.available)
    func aVersionUploadedStraightToStorageCompletesWithNothingRecorded(backend: MetadataBackend) async throws {
        try await backend.withStore { store, _ in
            try await Self.setUp(store)
            let direct = try await Self.begin(store, "p", tag: "1")
            let archive = StoredBlob(key: "sealed/direct", size: 5, sha256: "cafe")
            try await store.completeVersion(versionID: direct.id, recordedUpload: nil, archive: archive, at: Self.now)
            let completed = try await store.version(id: direct.id)
            #expect(completed?.archive == archive)
            #expect(completed?.status == .complete)

            let recorded = try await Self.begin(store, "p", tag: "2")
            try await Self.upload(store, recorded, key: "k/2")
            try await expectRegistryError(.conflict) {
                try await store.completeVersion(
                    versionID: recorded.id, recordedUpload: nil, archive: archive, at: Self.now)
            }
            #expect(try await store.version(id: recorded.id)?.status == .pending)
        }
    }
}
