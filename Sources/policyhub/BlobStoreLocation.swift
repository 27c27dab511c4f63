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
    static func open(
        _ url: String?, dataDir: URL, logger: Logger = Logger(label: "policyhub.s3")
    ) throws -> any BlobStore {
        guard let url, !url.isEmpty else {
            return try FileSystemBlobStore(root: dataDir.appendingPathComponent("blobs", isDirectory: true))
        }
        if url.hasPrefix("s3://") {
            do {
                return try S3BlobStore(url: url, logger: logger)
            } catch {
                throw ValidationError("Invalid --blob-store-url: \(error)")
            }
        }
        for prefix in ["file://", "file:"] where url.hasPrefix(prefix) {
            return try FileSystemBlobStore(
                root: URL(fileURLWithPath: String(url.dropFirst(prefix.count)), isDirectory: true))
        }
        guard !url.contains("://") else {
            throw ValidationError("Unsupported --blob-store-url '\(url)': use a directory, file:PATH or s3://BUCKET.")
        }
        return try FileSystemBlobStore(root: URL(fileURLWithPath: url, isDirectory: true))
    }
}
