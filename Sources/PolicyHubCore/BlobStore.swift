import Foundation
import NIOCore

/// Where a client sends an archive: an absolute URL plus headers it must set.
public struct UploadTarget: Hashable, Sendable {
    public var url: String
    public var requiredHeaders: [String: String]

    public init(url: String, requiredHeaders: [String: String]) {
        self.url = url
        self.requiredHeaders = requiredHeaders
    }
}

/// One object of a listing.
public struct BlobListing: Hashable, Sendable {
    public var key: String
    public var size: Int64
    public var lastModified: Date

    public init(key: String, size: Int64, lastModified: Date) {
        self.key = key
        self.size = size
        self.lastModified = lastModified
    }
}

/// Archive storage. Objects are written once under a fresh key and never modified.
public protocol BlobStore: Sendable {
    /// Streams `body` to `key`, visible only once it is whole. Throws `archiveTooLarge` past `maxBytes`,
    /// leaving nothing behind.
    func write<Body: AsyncSequence & Sendable>(key: String, body: Body, maxBytes: Int64) async throws -> StoredBlob
    where Body.Element == ByteBuffer
    /// Streams the object, or a byte range of it, to `consume`. Throws `RegistryError` not-found when absent.
    func read(key: String, range: ClosedRange<Int64>?, consume: (ByteBuffer) async throws -> Void) async throws
    /// The object's size, or nil when there is no such object.
    func size(key: String) async throws -> Int64?
    func delete(key: String) async throws

    /// Where clients upload `key` directly (a presigned URL), or nil when they upload through this server.
    func directUploadTarget(key: String, lifetime: TimeInterval) async throws -> UploadTarget?
    /// A URL clients download `key` from directly (a presigned URL), or nil when they download through this server.
    func directDownloadURL(key: String, lifetime: TimeInterval) async throws -> String?
    /// A key whose object only this server can change: `key` itself when clients never write to the store, else a
    /// server-side copy, under a fresh key each time, out of the reach of upload URLs that may still be valid (two
    /// completes racing each get their own copy, so the loser's cleanup cannot remove the winner's).
    func seal(key: String) async throws -> String
    /// Every object whose key starts with `prefix`.
    func list(prefix: String) async throws -> [BlobListing]
    /// Removes what interrupted writes left behind before `cutoff`; returns how many were removed.
    func removeAbandonedWrites(before cutoff: Date) async throws -> Int
}

extension BlobStore {
    /// Stores that clients do not reach directly: every transfer goes through this server.
    public func directUploadTarget(key: String, lifetime: TimeInterval) async throws -> UploadTarget? { nil }
    public func directDownloadURL(key: String, lifetime: TimeInterval) async throws -> String? { nil }
    public func seal(key: String) async throws -> String { key }
    /// Stores whose writes are atomic leave nothing behind.
    public func removeAbandonedWrites(before cutoff: Date) async throws -> Int { 0 }
}
