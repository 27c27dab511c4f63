import Crypto
import Foundation
import NIOCore
import PolicyHubCore
import PolicyHubTestSupport
import Testing

/// One contract, every backend: each case runs against each of `BlobBackend.available`, under a key prefix of its
/// own, and ends by checking that the store holds nothing under that prefix (no temporary files either).
@Suite struct BlobStoreConformanceTests {
    static let limit: Int64 = 64 << 20

    /// Runs `body` with a fresh store and a unique prefix, then checks nothing is left under the prefix.
    func withStore(
        _ backend: BlobBackend, _ body: (any BlobStore, String) async throws -> Void
    ) async throws {
        try await withFixture(backend) { fixture, prefix in try await body(fixture.store, prefix) }
    }

    func withFixture(_ backend: BlobBackend, _ body: (BlobFixture, String) async throws -> Void) async throws {
        let fixture = try await backend.make()
        let prefix = "conformance/\(UUID().uuidString.lowercased())/"
        do {
            try await body(fixture, prefix)
            #expect(try await fixture.leftovers(prefix) == [], "\(backend.name) left objects behind")
        } catch {
            await fixture.tearDown()
            throw error
        }
        await fixture.tearDown()
    }

    func readAll(_ store: any BlobStore, _ key: String, range: ClosedRange<Int64>? = nil) async throws -> [UInt8] {
        var bytes: [UInt8] = []
        try await store.read(key: key, range: range) { bytes += Array($0.readableBytesView) }
        return bytes
    }

    @Test(arguments: BlobBackend.available)
    func writeThenReadRoundTripsTheBytes(_ backend: BlobBackend) async throws {
        try await withStore(backend) { store, prefix in
            for (name, count) in [("empty", 0), ("one-byte", 1), ("small", 300_001)] {
                let bytes = randomBytes(count, seed: UInt64(count))
                let key = prefix + name + ".tgz"
                let stored = try await store.write(key: key, body: ChunkedBody(bytes), maxBytes: Self.limit)
                #expect(stored == StoredBlob(key: key, size: Int64(count), sha256: sha256Hex(bytes)))
                #expect(try await store.size(key: key) == Int64(count))
                #expect(try await readAll(store, key) == bytes)
                try await store.delete(key: key)
            }
        }
    }

    @Test(arguments: BlobBackend.available)
    func listingsNameEveryObjectWithItsSizeAndTime(_ backend: BlobBackend) async throws {
        try await withStore(backend) { store, prefix in
            let started = Date().addingTimeInterval(-60)
            for (name, count) in [("a/one.tgz", 10), ("b/two.tgz", 20)] {
                _ = try await store.write(
                    key: prefix + name, body: ChunkedBody(randomBytes(count, seed: 1)), maxBytes: Self.limit)
            }
            let listed = try await store.list(prefix: prefix)
            #expect(listed.map(\.key) == [prefix + "a/one.tgz", prefix + "b/two.tgz"])
            #expect(listed.map(\.size) == [10, 20])
            #expect(listed.allSatisfy { $0.lastModified > started && $0.lastModified < Date().addingTimeInterval(60) })
            #expect(try await store.list(prefix: prefix + "b/").map(\.key) == [prefix + "b/two.tgz"])
            for listing in listed { try await store.delete(key: listing.key) }
        }
    }

    @Test(arguments: BlobBackend.available)
    func rangeReadsReturnExactlyTheBytesAsked(_ backend: BlobBackend) async throws {
        try await withStore(backend) { store, prefix in
            let bytes = randomBytes(1000, seed: 7)
            let key = prefix + "ranged"
            _ = try await store.write(key: key, body: ChunkedBody(bytes, chunkSize: 333), maxBytes: Self.limit)
            #expect(try await readAll(store, key, range: 0...0) == [bytes[0]])
            #expect(try await readAll(store, key, range: 10...19) == Array(bytes[10...19]))
            #expect(try await readAll(store, key, range: 990...999) == Array(bytes[990...999]))
            // Past the end: what exists, then nothing at all.
            #expect(try await readAll(store, key, range: 995...5000) == Array(bytes[995...999]))
            #expect(try await readAll(store, key, range: 1000...1010) == [])
            try await store.delete(key: key)

            let empty = prefix + "empty"
            _ = try await store.write(key: empty, body: ChunkedBody([]), maxBytes: Self.limit)
            #expect(try await readAll(store, empty, range: 0...9) == [])
            try await store.delete(key: empty)
        }
    }

    @Test(arguments: BlobBackend.available)
    func aWriteOverTheLimitFailsAndLeavesNothing(_ backend: BlobBackend) async throws {
        try await withStore(backend) { store, prefix in
            let bytes = randomBytes(3000, seed: 3)
            let key = prefix + "too-large"
            let error = await #expect(throws: RegistryError.self) {
                _ = try await store.write(key: key, body: ChunkedBody(bytes, chunkSize: 1000), maxBytes: 2999)
            }
            #expect(error?.kind == .tooLarge)
            #expect(try await store.size(key: key) == nil)

            // Exactly at the limit is allowed.
            let stored = try await store.write(key: key, body: ChunkedBody(bytes, chunkSize: 1000), maxBytes: 3000)
            #expect(stored.size == 3000)
            try await store.delete(key: key)
        }
    }

    @Test(arguments: BlobBackend.available)
    func aMissingKeyIsNotFoundAndDeletingItIsFine(_ backend: BlobBackend) async throws {
        try await withStore(backend) { store, prefix in
            let key = prefix + "never-written"
            var consumed = 0
            let error = await #expect(throws: RegistryError.self) {
                try await store.read(key: key, range: nil) { consumed += $0.readableBytes }
            }
            #expect(error?.kind == .notFound)
            #expect(consumed == 0)
            let ranged = await #expect(throws: RegistryError.self) {
                try await store.read(key: key, range: 0...9) { consumed += $0.readableBytes }
            }
            #expect(ranged?.kind == .notFound)
            #expect(try await store.size(key: key) == nil)
            try await store.delete(key: key)
        }
    }

    @Test(arguments: BlobBackend.available)
    func deleteRemovesTheObject(_ backend: BlobBackend) async throws {
        try await withStore(backend) { store, prefix in
            let key = prefix + "nested/path/archive.tgz"
            _ = try await store.write(key: key, body: ChunkedBody(randomBytes(100, seed: 1)), maxBytes: Self.limit)
            try await store.delete(key: key)
            #expect(try await store.size(key: key) == nil)
            let error = await #expect(throws: RegistryError.self) { _ = try await readAll(store, key) }
            #expect(error?.kind == .notFound)
            try await store.delete(key: key)
        }
    }

    @Test(arguments: BlobBackend.available)
    func aLargeObjectStreamsBothWays(_ backend: BlobBackend) async throws {
        try await withStore(backend) { store, prefix in
            let body = GeneratedBody(count: 20 << 20, seed: 20)
            let expected = await body.sha256()
            let key = prefix + "large"
            let stored = try await store.write(key: key, body: body, maxBytes: Self.limit)
            #expect(stored.size == 20 << 20)
            #expect(stored.sha256 == expected)
            var hasher = SHA256()
            var size = 0
            try await store.read(key: key, range: nil) { chunk in
                size += chunk.readableBytes
                chunk.withUnsafeReadableBytes { hasher.update(bufferPointer: $0) }
            }
            #expect(size == 20 << 20)
            #expect(hasher.finalize().hexString == expected)
            try await store.delete(key: key)
        }
    }

    @Test(arguments: BlobBackend.available)
    func concurrentWritesOfDifferentKeysAllLand(_ backend: BlobBackend) async throws {
        try await withStore(backend) { store, prefix in
            let keys = (0..<8).map { prefix + "concurrent-\($0)" }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (index, key) in keys.enumerated() {
                    group.addTask {
                        let bytes = randomBytes(50_000 + index * 1_000, seed: UInt64(100 + index))
                        let stored = try await store.write(key: key, body: ChunkedBody(bytes), maxBytes: Self.limit)
                        #expect(stored.sha256 == sha256Hex(bytes))
                    }
                }
                try await group.waitForAll()
            }
            for (index, key) in keys.enumerated() {
                #expect(try await readAll(store, key) == randomBytes(50_000 + index * 1_000, seed: UInt64(100 + index)))
                try await store.delete(key: key)
            }
        }
    }

    @Test(arguments: BlobBackend.available)
    func invalidKeysAreRefusedAlike(_ backend: BlobBackend) async throws {
        try await withStore(backend) { store, prefix in
            for key in ["", prefix + "a//b", prefix + "../x", prefix + ".hidden", prefix + "a/./b", prefix + "end/"] {
                let write = await #expect(throws: RegistryError.self) {
                    _ = try await store.write(key: key, body: ChunkedBody([1, 2, 3]), maxBytes: Self.limit)
                }
                #expect(write?.kind == .invalid, "write '\(key)'")
                let read = await #expect(throws: RegistryError.self) { _ = try await readAll(store, key) }
                #expect(read?.kind == .invalid, "read '\(key)'")
                let size = await #expect(throws: RegistryError.self) { _ = try await store.size(key: key) }
                #expect(size?.kind == .invalid, "size '\(key)'")
                let delete = await #expect(throws: RegistryError.self) { try await store.delete(key: key) }
                #expect(delete?.kind == .invalid, "delete '\(key)'")
            }
        }
    }
}
