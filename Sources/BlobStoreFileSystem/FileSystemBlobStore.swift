import Crypto
import Foundation
import NIOCore
import NIOPosix
import PolicyHubCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Archives as files under one directory. A write streams into `.incoming/`, is flushed to disk, and is renamed
/// into place only when whole, so a crash never leaves a partial archive under a key. File I/O runs on NIO's
/// blocking-I/O thread pool, never on the request's executor.
public struct FileSystemBlobStore: BlobStore {
    public let root: URL
    private let threadPool: NIOThreadPool
    static let chunkSize = 64 * 1024

    public init(root: URL, threadPool: NIOThreadPool = .singleton) throws {
        self.root = root
        self.threadPool = threadPool
        try FileManager.default.createDirectory(at: incoming, withIntermediateDirectories: true)
    }

    var incoming: URL { root.appendingPathComponent(".incoming", isDirectory: true) }

    func path(for key: String) throws -> String {
        let parts = key.split(separator: "/", omittingEmptySubsequences: false)
        guard !key.isEmpty, !parts.contains(where: { $0.isEmpty || $0 == "." || $0 == ".." || $0.hasPrefix(".") })
        else { throw RegistryError.invalid("Invalid blob key '\(key)'.") }
        return root.appendingPathComponent(key).path
    }

    public func write<Body: AsyncSequence & Sendable>(key: String, body: Body, maxBytes: Int64) async throws
        -> StoredBlob where Body.Element == ByteBuffer
    {
        let finalPath = try path(for: key)
        let temporaryPath = incoming.appendingPathComponent(UUID().uuidString).path
        let descriptor = try await threadPool.runIfActive {
            try Self.check(open(temporaryPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644), "open", temporaryPath)
        }
        var hasher = SHA256()
        var size: Int64 = 0
        do {
            for try await buffer in body {
                size += Int64(buffer.readableBytes)
                guard size <= maxBytes else { throw RegistryError.archiveTooLarge(limit: maxBytes) }
                buffer.withUnsafeReadableBytes { hasher.update(bufferPointer: $0) }
                try await threadPool.runIfActive { try Self.writeAll(descriptor, buffer) }
            }
            try await threadPool.runIfActive {
                _ = try Self.check(fsync(descriptor), "fsync", temporaryPath)
                _ = try Self.check(close(descriptor), "close", temporaryPath)
                let directory = (finalPath as NSString).deletingLastPathComponent
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
                _ = try Self.check(rename(temporaryPath, finalPath), "rename", finalPath)
                Self.syncDirectory(directory)
            }
        } catch {
            try? await threadPool.runIfActive {
                close(descriptor)
                unlink(temporaryPath)
            }
            throw error
        }
        return StoredBlob(key: key, size: size, sha256: hasher.finalize().hexString)
    }

    public func read(
        key: String, range: ClosedRange<Int64>?, consume: (ByteBuffer) async throws -> Void
    ) async throws {
        let filePath = try path(for: key)
        let descriptor = try await threadPool.runIfActive { () throws -> Int32 in
            let descriptor = open(filePath, O_RDONLY | O_CLOEXEC)
            if descriptor < 0 && errno == ENOENT { throw RegistryError(.notFound, "Archive not found") }
            return try Self.check(descriptor, "open", filePath)
        }
        defer { close(descriptor) }
        var offset = range?.lowerBound ?? 0
        let end = range.map { $0.upperBound + 1 } ?? Int64.max
        while offset < end {
            let wanted = Int(min(Int64(Self.chunkSize), end - offset))
            let start = offset
            let chunk = try await threadPool.runIfActive { () throws -> ByteBuffer in
                var buffer = ByteBufferAllocator().buffer(capacity: wanted)
                let count = try buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: wanted) { pointer in
                    try Self.check(pread(descriptor, pointer.baseAddress, wanted, off_t(start)), "read", filePath)
                }
                _ = count
                return buffer
            }
            if chunk.readableBytes == 0 { break }
            offset += Int64(chunk.readableBytes)
            try await consume(chunk)
        }
    }

    public func size(key: String) async throws -> Int64? {
        let filePath = try path(for: key)
        return try await threadPool.runIfActive { () throws -> Int64? in
            var info = stat()
            if stat(filePath, &info) != 0 {
                if errno == ENOENT { return nil }
                _ = try Self.check(-1, "stat", filePath)
            }
            return Int64(info.st_size)
        }
    }

    public func delete(key: String) async throws {
        let filePath = try path(for: key)
        try await threadPool.runIfActive {
            if unlink(filePath) != 0 && errno != ENOENT { _ = try Self.check(-1, "unlink", filePath) }
        }
    }

    public func list(prefix: String) async throws -> [BlobListing] {
        let root = self.root
        return try await threadPool.runIfActive {
            let keys = FileManager.default.enumerator(atPath: root.path)
            var listings: [BlobListing] = []
            while let key = keys?.nextObject() as? String {
                guard !key.hasPrefix("."), key.hasPrefix(prefix) else { continue }
                let attributes = try FileManager.default.attributesOfItem(atPath: root.appendingPathComponent(key).path)
                guard attributes[.type] as? FileAttributeType == .typeRegular else { continue }
                listings.append(
                    BlobListing(
                        key: key, size: (attributes[.size] as? NSNumber)?.int64Value ?? 0,
                        lastModified: attributes[.modificationDate] as? Date ?? Date()))
            }
            return listings.sorted { $0.key < $1.key }
        }
    }

    /// Temporary files of writes a crash interrupted.
    public func removeAbandonedWrites(before cutoff: Date) async throws -> Int {
        let incoming = self.incoming
        return try await threadPool.runIfActive {
            var removed = 0
            for name in try FileManager.default.contentsOfDirectory(atPath: incoming.path) {
                let file = incoming.appendingPathComponent(name)
                let modified = try FileManager.default.attributesOfItem(atPath: file.path)[.modificationDate] as? Date
                if let modified, modified < cutoff {
                    try FileManager.default.removeItem(at: file)
                    removed += 1
                }
            }
            return removed
        }
    }

    // MARK: POSIX helpers

    @discardableResult
    static func check<T: BinaryInteger>(_ result: T, _ operation: String, _ path: String) throws -> T {
        guard result >= 0 else { throw FileSystemBlobStoreError(operation: operation, path: path, code: errno) }
        return result
    }

    static func writeAll(_ descriptor: Int32, _ buffer: ByteBuffer) throws {
        try buffer.withUnsafeReadableBytes { bytes in
            var written = 0
            while written < bytes.count {
                let result = Glibc.write(descriptor, bytes.baseAddress! + written, bytes.count - written)
                if result < 0 && errno == EINTR { continue }
                written += try check(result, "write", "<archive>")
            }
        }
    }

    /// Makes a rename durable.
    static func syncDirectory(_ path: String) {
        let descriptor = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { return }
        fsync(descriptor)
        close(descriptor)
    }
}

struct FileSystemBlobStoreError: Error, CustomStringConvertible {
    let operation: String
    let path: String
    let code: Int32

    var description: String { "\(operation) \(path) failed: \(String(cString: strerror(code)))" }
}
