import Foundation
import NIOCore

extension BlobStore {
    /// Copies `key` from `source` into this store, spooling through a temporary file so neither side holds the
    /// archive in memory. Returns what was written, with the digest measured on the way.
    public func copy(_ key: String, from source: any BlobStore, maxBytes: Int64 = .max) async throws -> StoredBlob {
        let spool = FileManager.default.temporaryDirectory.appendingPathComponent("policyhub-copy-\(UUID().uuidString)")
        FileManager.default.createFile(atPath: spool.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: spool) }
        let output = try FileHandle(forWritingTo: spool)
        do {
            try await source.read(key: key, range: nil) { buffer in
                try output.write(contentsOf: Data(buffer.readableBytesView))
            }
            try output.close()
        } catch {
            try? output.close()
            throw error
        }
        return try await write(key: key, body: FileChunks(url: spool), maxBytes: maxBytes)
    }
}

/// A file read in 64 KiB chunks.
struct FileChunks: AsyncSequence, Sendable {
    typealias Element = ByteBuffer

    let url: URL

    struct AsyncIterator: AsyncIteratorProtocol {
        let url: URL
        var handle: FileHandle?
        var finished = false

        mutating func next() async throws -> ByteBuffer? {
            guard !finished else { return nil }
            let handle = try self.handle ?? FileHandle(forReadingFrom: url)
            self.handle = handle
            guard let data = try handle.read(upToCount: 64 * 1024), !data.isEmpty else {
                finished = true
                try handle.close()
                return nil
            }
            return ByteBuffer(bytes: data)
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(url: url) }
}
