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

/// A temporary file for a body whose length must be known before it is sent. It is unlinked as soon as it is
/// created, so it never outlives its descriptor, even when the process dies. File I/O runs on NIO's blocking-I/O
/// thread pool.
struct SpoolFile: Sendable {
    let descriptor: Int32
    private let threadPool: NIOThreadPool
    static let chunkSize = 256 * 1024

    static func create(in directory: URL, threadPool: NIOThreadPool) async throws -> SpoolFile {
        let template = directory.appendingPathComponent("policyhub-s3-XXXXXX").path
        let descriptor = try await threadPool.runIfActive { () throws -> Int32 in
            var path = Array(template.utf8CString)
            let descriptor = mkstemp(&path)
            guard descriptor >= 0 else { throw SpoolFileError(operation: "create a file in", path: directory.path) }
            unlink(path)
            return descriptor
        }
        return SpoolFile(descriptor: descriptor, threadPool: threadPool)
    }

    /// Copies `body` into a fresh spool file while hashing it, hands `send` the file's contents with their size and
    /// SHA-256, and removes the file whatever happens. `check` sees the running size after each buffer and may
    /// throw to stop early.
    static func spooling<Body: AsyncSequence & Sendable, T>(
        _ body: Body, in directory: URL, threadPool: NIOThreadPool, check: (Int64) throws -> Void = { _ in },
        _ send: (_ contents: Chunks, _ size: Int64, _ sha256: String) async throws -> T
    ) async throws -> T where Body.Element == ByteBuffer {
        let spool = try await create(in: directory, threadPool: threadPool)
        do {
            var hasher = SHA256()
            var size: Int64 = 0
            for try await buffer in body {
                size += Int64(buffer.readableBytes)
                try check(size)
                buffer.withUnsafeReadableBytes { hasher.update(bufferPointer: $0) }
                try await spool.append(buffer)
            }
            let result = try await send(spool.chunks(length: size), size, hasher.finalize().hexString)
            await spool.dispose()
            return result
        } catch {
            await spool.dispose()
            throw error
        }
    }

    func append(_ buffer: ByteBuffer) async throws {
        try await threadPool.runIfActive {
            try buffer.withUnsafeReadableBytes { bytes in
                guard var base = bytes.baseAddress else { return }
                var remaining = bytes.count
                while remaining > 0 {
                    let written = write(descriptor, base, remaining)
                    if written < 0 && errno == EINTR { continue }
                    guard written > 0 else { throw SpoolFileError(operation: "write", path: "<spool file>") }
                    remaining -= written
                    base += written
                }
            }
        }
    }

    /// The file's first `length` bytes, read in chunks as they are consumed.
    func chunks(length: Int64) -> Chunks { Chunks(file: self, length: length) }

    /// Closes the descriptor, which frees the file's space.
    func dispose() async {
        let descriptor = self.descriptor
        _ = try? await threadPool.runIfActive { _ = close(descriptor) }
    }

    fileprivate func read(at offset: Int64, count: Int) async throws -> ByteBuffer {
        try await threadPool.runIfActive { () throws -> ByteBuffer in
            var buffer = ByteBufferAllocator().buffer(capacity: count)
            _ = try buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: count) { pointer in
                while true {
                    let result = pread(descriptor, pointer.baseAddress, count, off_t(offset))
                    if result < 0 && errno == EINTR { continue }
                    guard result >= 0 else { throw SpoolFileError(operation: "read", path: "<spool file>") }
                    return result
                }
            }
            return buffer
        }
    }

    struct Chunks: AsyncSequence, Sendable {
        typealias Element = ByteBuffer
        let file: SpoolFile
        let length: Int64

        struct AsyncIterator: AsyncIteratorProtocol {
            let file: SpoolFile
            let length: Int64
            var offset: Int64 = 0

            mutating func next() async throws -> ByteBuffer? {
                guard offset < length else { return nil }
                let count = Int(Swift.min(Int64(SpoolFile.chunkSize), length - offset))
                let chunk = try await file.read(at: offset, count: count)
                guard chunk.readableBytes > 0 else {
                    throw SpoolFileError(operation: "read (the file is shorter than expected)", path: "<spool file>")
                }
                offset += Int64(chunk.readableBytes)
                return chunk
            }
        }

        func makeAsyncIterator() -> AsyncIterator { AsyncIterator(file: file, length: length) }
    }
}

struct SpoolFileError: Error, CustomStringConvertible {
    let operation: String
    let path: String
    let code: Int32

    init(operation: String, path: String, code: Int32 = errno) {
        self.operation = operation
        self.path = path
        self.code = code
    }

    var description: String { "Cannot \(operation) \(path): \(String(cString: strerror(code)))" }
}
