import ArgumentParser
import BlobStoreFileSystem
import BlobStoreS3
import Foundation
import Logging
import PolicyHubCore

/// Where archives live, from `--blob-store-url`: a directory (`file:PATH` or a plain path; by default
/// `<data-dir>/blobs`) or an S3-compatible bucket (`s3://BUCKET[/PREFIX]?endpoint=URL&region=R&path-style=true`,
/// with credentials from `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`).
enum BlobStoreLocation {
    case directory(URL)
    case s3(S3BlobStore)

    /// Checks the URL and credentials without creating anything.
    init(_ url: String?, dataDir: URL, logger: Logger = Logger(label: "policyhub.s3")) throws {
        guard let url, !url.isEmpty else {
            self = .directory(dataDir.appendingPathComponent("blobs", isDirectory: true))
            return
        }
        if url.hasPrefix("s3://") {
            do {
                self = .s3(try S3BlobStore(url: url, logger: logger))
            } catch {
                throw ValidationError("Invalid --blob-store-url: \(error)")
            }
            return
        }
        for prefix in ["file://", "file:"] where url.hasPrefix(prefix) {
            self = .directory(URL(fileURLWithPath: String(url.dropFirst(prefix.count)), isDirectory: true))
            return
        }
        guard !url.contains("://") else {
            throw ValidationError("Unsupported --blob-store-url '\(url)': use a directory, file:PATH or s3://BUCKET.")
        }
        self = .directory(URL(fileURLWithPath: url, isDirectory: true))
    }

    /// The store, creating its directory if need be.
    func open() throws -> any BlobStore {
        switch self {
        case .directory(let root): return try FileSystemBlobStore(root: root)
        case .s3(let store): return store
        }
    }

    static func open(
        _ url: String?, dataDir: URL, logger: Logger = Logger(label: "policyhub.s3")
    ) throws -> any BlobStore {
        try BlobStoreLocation(url, dataDir: dataDir, logger: logger).open()
    }
}
