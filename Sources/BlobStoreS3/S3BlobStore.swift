import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOPosix
import PolicyHubCore

/// Archives as objects in an S3 bucket, under the location's key prefix; the same contract as
/// `FileSystemBlobStore`.
///
/// A write streams into an unlinked temporary file while it is hashed, counted and checked against the limit, and
/// only then goes to S3 in one PUT whose signed SHA-256 S3 verifies: an archive over the limit never reaches the
/// bucket, and S3 never shows a partial or corrupted object. Clients upload and download directly through
/// presigned URLs.
public struct S3BlobStore: BlobStore {
    public let client: S3Client
    private let spoolDirectory: URL
    private let threadPool: NIOThreadPool

    public var location: S3Location { client.location }

    public init(
        client: S3Client, spoolDirectory: URL = FileManager.default.temporaryDirectory,
        threadPool: NIOThreadPool = .singleton
    ) {
        self.client = client
        self.spoolDirectory = spoolDirectory
        self.threadPool = threadPool
    }

    /// A store for `s3://BUCKET[/PREFIX]?endpoint=URL&region=R&path-style=true`, with credentials from
    /// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`.
    public init(
        url: String, environment: [String: String] = ProcessInfo.processInfo.environment,
        httpClient: HTTPClient = S3Client.sharedHTTPClient, logger: Logger = Logger(label: "policyhub.s3")
    ) throws {
        let client = S3Client(
            location: try S3Location(url: url), credentials: try AWSCredentials.fromEnvironment(environment),
            httpClient: httpClient, logger: logger)
        self.init(client: client)
    }

    public func write<Body: AsyncSequence & Sendable>(key: String, body: Body, maxBytes: Int64) async throws
        -> StoredBlob where Body.Element == ByteBuffer
    {
        let objectKey = try self.objectKey(key)
        return try await SpoolFile.spooling(
            body, in: spoolDirectory, threadPool: threadPool,
            check: { size in guard size <= maxBytes else { throw RegistryError.archiveTooLarge(limit: maxBytes) } }
        ) { contents, size, sha256 in
            try await available {
                try await client.putObject(key: objectKey, body: contents, length: size, payloadSHA256: sha256)
            }
            return StoredBlob(key: key, size: size, sha256: sha256)
        }
    }

    public func read(
        key: String, range: ClosedRange<Int64>?, consume: (ByteBuffer) async throws -> Void
    ) async throws {
        do {
            try await available { try await client.getObject(key: try objectKey(key), range: range, consume: consume) }
        } catch let error as S3Error where error.code == "NoSuchKey" {
            throw RegistryError(.notFound, "Archive not found")
        }
    }

    public func size(key: String) async throws -> Int64? {
        try await available { try await client.headObject(key: try objectKey(key))?.size }
    }

    public func delete(key: String) async throws {
        try await available { try await client.deleteObject(key: try objectKey(key)) }
    }

    /// An endpoint that does not answer, or answers that it is failing, is an outage the caller may retry, not a
    /// fault of the request.
    private func available<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as S3Error where error.isOutage {
            client.logger.warning("Archive storage is unavailable", metadata: ["reason": "\(error)"])
            throw RegistryError.unavailable("archive storage")
        }
    }

    /// Where a client PUTs the archive for `key` itself. Only `host` is signed, so no header is required; any
    /// `Content-Type` or `Content-Encoding` the client sends is stored as it is.
    public func presignedPutURL(key: String, expiresIn: TimeInterval) -> UploadTarget {
        UploadTarget(
            url: client.presignedURL(method: "PUT", key: location.objectKey(key), expiresIn: expiresIn),
            requiredHeaders: [:])
    }

    /// Where a client GETs the archive for `key`.
    public func presignedGetURL(key: String, expiresIn: TimeInterval) -> String {
        client.presignedURL(method: "GET", key: location.objectKey(key), expiresIn: expiresIn)
    }

    // MARK: Direct transfers

    /// Clients upload straight to the bucket through a presigned PUT.
    public func directUploadTarget(key: String, lifetime: TimeInterval) async throws -> UploadTarget? {
        _ = try objectKey(key)
        return presignedPutURL(key: key, expiresIn: lifetime)
    }

    /// Clients download straight from the bucket through a presigned GET.
    public func directDownloadURL(key: String, lifetime: TimeInterval) async throws -> String? {
        _ = try objectKey(key)
        return presignedGetURL(key: key, expiresIn: lifetime)
    }

    /// Copies an upload out of the reach of its presigned PUT, which may still be valid, to a fresh key under
    /// `sealed/`, with the metadata replaced so downloads carry no `Content-Encoding` the uploader may have set.
    public func seal(key: String) async throws -> String {
        let sealed = "sealed/\(key)/\(UUID().uuidString.lowercased())"
        do {
            try await available {
                try await client.copyObject(
                    from: try objectKey(key), to: try objectKey(sealed), contentType: "application/octet-stream")
            }
        } catch let error as S3Error where error.code == "NoSuchKey" {
            throw RegistryError(.notFound, "Archive not found")
        }
        return sealed
    }

    /// The keys of the store that start with `prefix`, in S3's (UTF-8 binary) order.
    public func list(prefix: String) async throws -> [BlobListing] {
        let storePrefix = location.prefix.isEmpty ? "" : location.prefix + "/"
        return try await available { try await client.listObjectDetails(prefix: storePrefix + prefix) }.map {
            BlobListing(key: String($0.key.dropFirst(storePrefix.count)), size: $0.size, lastModified: $0.lastModified)
        }
    }

    /// The object key for a blob key, refusing the keys `FileSystemBlobStore` refuses so both stores accept the
    /// same keys.
    func objectKey(_ key: String) throws -> String {
        let parts = key.split(separator: "/", omittingEmptySubsequences: false)
        guard !key.isEmpty, !parts.contains(where: { $0.isEmpty || $0 == "." || $0 == ".." || $0.hasPrefix(".") })
        else { throw RegistryError.invalid("Invalid blob key '\(key)'.") }
        return location.objectKey(key)
    }
}
