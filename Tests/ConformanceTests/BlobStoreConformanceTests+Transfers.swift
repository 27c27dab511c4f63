import Crypto
import Foundation
import NIOCore
import PolicyHubCore
import PolicyHubTestSupport
import Testing

/// Sealing, direct uploads, the sweep of interrupted writes and copies between stores.
extension BlobStoreConformanceTests {
    func digest(_ store: any BlobStore, _ key: String) async throws -> String {
        var hasher = SHA256()
        try await store.read(key: key, range: nil) { chunk in
            chunk.withUnsafeReadableBytes { hasher.update(bufferPointer: $0) }
        }
        return hasher.finalize().hexString
    }

    @Test(arguments: BlobBackend.available)
    func sealGivesAKeyOnlyTheServerCanChange(_ backend: BlobBackend) async throws {
        try await withStore(backend) { store, prefix in
            let key = prefix + "upload.tgz"
            let bytes = randomBytes(5000, seed: 11)
            _ = try await store.write(key: key, body: ChunkedBody(bytes), maxBytes: Self.limit)
            let sealed = try await store.seal(key: key)
            #expect(try await readAll(store, sealed) == bytes)
            #expect(try await store.size(key: sealed) == 5000)
            if try await store.directUploadTarget(key: key, lifetime: 60) == nil {
                // Clients never write to this store: the key itself is already out of their reach.
                #expect(sealed == key)
            } else {
                // A copy under a fresh key each time, so two completes racing each get their own.
                #expect(sealed != key)
                let again = try await store.seal(key: key)
                #expect(again != sealed && again != key)
                #expect(try await readAll(store, again) == bytes)
                // Removing the upload, as complete does once sealed, leaves the sealed copies whole.
                try await store.delete(key: key)
                #expect(try await readAll(store, sealed) == bytes)
                for copy in [sealed, again] {
                    try await store.delete(key: copy)
                    #expect(try await store.size(key: copy) == nil)
                }
            }
            try await store.delete(key: key)

            // Sealing what was never uploaded never makes an archive out of nothing.
            let missing = prefix + "never-uploaded.tgz"
            do {
                let nothing = try await store.seal(key: missing)
                #expect(try await store.size(key: nothing) == nil)
            } catch let error as RegistryError {
                #expect(error.kind == .notFound)
            }
        }
    }

    @Test(arguments: BlobBackend.available)
    func aDirectUploadLandsUnderItsKeyAndSealingPutsItOutOfTheLinksReach(_ backend: BlobBackend) async throws {
        try await withStore(backend) { store, prefix in
            let key = prefix + "direct.tgz"
            // Uploads through the server only: nothing here to check (sealing then keeps the key, see above).
            guard let target = try await store.directUploadTarget(key: key, lifetime: 300) else { return }
            #expect(target.url.hasPrefix("http"))
            let bytes = randomBytes(3000, seed: 12)
            // The client's PUT: only the link and the headers it requires, no credentials.
            let put = try await PresignedRequest.send("PUT", target.url, body: bytes, headers: target.requiredHeaders)
            #expect((200..<300).contains(put.status), "\(put.status)")
            #expect(try await store.size(key: key) == 3000)
            #expect(try await readAll(store, key) == bytes)

            let sealed = try await store.seal(key: key)
            // The link is still valid: another PUT replaces the upload, never the sealed archive.
            let again = try await PresignedRequest.send(
                "PUT", target.url, body: [1, 2, 3], headers: target.requiredHeaders)
            #expect((200..<300).contains(again.status), "\(again.status)")
            #expect(try await readAll(store, key) == [1, 2, 3])
            #expect(try await readAll(store, sealed) == bytes)
            for object in [key, sealed] { try await store.delete(key: object) }
            #expect(try await store.size(key: sealed) == nil)
        }
    }

    @Test(arguments: BlobBackend.available)
    func noUploadLinkIsHandedOutForAKeyTheStoreRefuses(_ backend: BlobBackend) async throws {
        try await withStore(backend) { store, prefix in
            for key in ["", prefix + "a//b", prefix + "../x", prefix + ".hidden"] {
                #expect((try? await store.directUploadTarget(key: key, lifetime: 60)) == nil, "'\(key)'")
            }
        }
    }

    @Test(arguments: BlobBackend.available)
    func removingAbandonedWritesTakesOnlyWhatInterruptedWritesLeftBeforeTheCutoff(_ backend: BlobBackend)
        async throws
    {
        try await withFixture(backend) { fixture, prefix in
            let store = fixture.store
            let key = prefix + "kept.tgz"
            let bytes = randomBytes(2000, seed: 13)
            _ = try await store.write(key: key, body: ChunkedBody(bytes, chunkSize: 500), maxBytes: Self.limit)
            // A write whose body fails midway cleans up after itself: nothing is left to sweep.
            await #expect(throws: BodyFailure.self) {
                _ = try await store.write(key: prefix + "broken.tgz", body: FailingBody(), maxBytes: Self.limit)
            }
            #expect(try await store.size(key: prefix + "broken.tgz") == nil)
            let now = Date()
            #expect(try await store.removeAbandonedWrites(before: now.addingTimeInterval(60)) == 0)

            if let abandonWrite = fixture.abandonWrite {
                try await abandonWrite(now.addingTimeInterval(-7200))
                // A write still under way.
                try await abandonWrite(now)
                #expect(try await store.removeAbandonedWrites(before: now.addingTimeInterval(-3600)) == 1)
                #expect(try await store.removeAbandonedWrites(before: now.addingTimeInterval(-3600)) == 0)
                #expect(try await store.removeAbandonedWrites(before: now.addingTimeInterval(60)) == 1)
            }
            // Whole objects are never abandoned writes, however old.
            #expect(try await store.removeAbandonedWrites(before: now.addingTimeInterval(3600)) == 0)
            #expect(try await readAll(store, key) == bytes)
            try await store.delete(key: key)
        }
    }

    /// `copy` both ways between the store under test and the filesystem, as `policyhub migrate-store` does.
    @Test(arguments: BlobBackend.available)
    func copyMovesAnObjectBetweenStoresWhole(_ backend: BlobBackend) async throws {
        let source = try await BlobBackend.fileSystem.make()
        let destination = try await BlobBackend.fileSystem.make()
        do {
            try await withStore(backend) { store, prefix in
                let key = prefix + "copied.tgz"
                let size = 3 << 20 + 17
                let body = GeneratedBody(count: size, seed: 30)
                let expected = await body.sha256()
                _ = try await source.store.write(key: key, body: body, maxBytes: Self.limit)

                let copied = try await store.copy(key, from: source.store)
                #expect(copied == StoredBlob(key: key, size: Int64(size), sha256: expected))
                #expect(try await digest(store, key) == expected)

                // The limit holds on the way in, and a refused copy leaves nothing.
                let refused = await #expect(throws: RegistryError.self) {
                    _ = try await destination.store.copy(key, from: store, maxBytes: 1 << 20)
                }
                #expect(refused?.kind == .tooLarge)
                #expect(try await destination.leftovers(prefix) == [])
                #expect(try await destination.store.copy(key, from: store) == copied)
                #expect(try await digest(destination.store, key) == expected)

                let missing = await #expect(throws: RegistryError.self) {
                    _ = try await store.copy(prefix + "missing.tgz", from: source.store)
                }
                #expect(missing?.kind == .notFound)
                #expect(try await store.size(key: prefix + "missing.tgz") == nil)
                try await store.delete(key: key)
            }
        } catch {
            await source.tearDown()
            await destination.tearDown()
            throw error
        }
        await source.tearDown()
        await destination.tearDown()
    }
}

struct BodyFailure: Error {}

/// A body that sends one chunk and then fails, as a client that disconnects mid-upload.
struct FailingBody: AsyncSequence, Sendable {
    typealias Element = ByteBuffer

    struct AsyncIterator: AsyncIteratorProtocol {
        var sent = false

        mutating func next() async throws -> ByteBuffer? {
            guard !sent else { throw BodyFailure() }
            sent = true
            return ByteBuffer(bytes: randomBytes(1000, seed: 14))
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator() }
}
