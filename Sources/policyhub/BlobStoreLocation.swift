import ArgumentParser
import BlobStoreFileSystem
import Foundation
import PolicyHubCore

/// Where archives live, from `--blob-store-url`: a directory (`file:PATH` or a plain path), by default
/// `<data-dir>/blobs`.
enum BlobStoreLocation {
    static func open(_ url: String?, dataDir: URL) throws -> any BlobStore {
        guard let url, !url.isEmpty else {
            return try FileSystemBlobStore(root: dataDir.appendingPathComponent("blobs", isDirectory: true))
        }
        for prefix in ["file://", "file:"] where url.hasPrefix(prefix) {
            return try FileSystemBlobStore(
                root: URL(fileURLWithPath: String(url.dropFirst(prefix.count)), isDirectory: true))
        }
        guard !url.contains("://") else {
            throw ValidationError("Unsupported --blob-store-url '\(url)': use a directory path or file:PATH.")
        }
        return try FileSystemBlobStore(root: URL(fileURLWithPath: url, isDirectory: true))
    }
}
