import Crypto
import NIOCore
import PolicyHubCore

/// A request body made of the given chunks: what a client streams, for anything that takes a body.
public struct ChunkedBody: AsyncSequence, Sendable {
    public typealias Element = ByteBuffer
    public let chunks: [ByteBuffer]

    public init(_ bytes: [UInt8], chunkSize: Int = 7_919) {
        chunks = stride(from: 0, to: bytes.count, by: chunkSize).map {
            ByteBuffer(bytes: bytes[$0..<Swift.min($0 + chunkSize, bytes.count)])
        }
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        var chunks: IndexingIterator<[ByteBuffer]>
        public mutating func next() async -> ByteBuffer? { chunks.next() }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(chunks: chunks.makeIterator()) }
}

/// `count` pseudo-random bytes made chunk by chunk as they are sent, so a large body is never held whole.
public struct GeneratedBody: AsyncSequence, Sendable {
    public typealias Element = ByteBuffer
    public let count: Int
    public let seed: UInt64
    public static let chunkSize = 64 * 1024

    public init(count: Int, seed: UInt64) {
        self.count = count
        self.seed = seed
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        var remaining: Int
        var generator: SplitMix64

        public mutating func next() async -> ByteBuffer? {
            guard remaining > 0 else { return nil }
            let size = Swift.min(remaining, GeneratedBody.chunkSize)
            remaining -= size
            var buffer = ByteBuffer()
            buffer.reserveCapacity(size)
            var left = size
            while left >= 8 {
                buffer.writeInteger(generator.next())
                left -= 8
            }
            for _ in 0..<left { buffer.writeInteger(UInt8(truncatingIfNeeded: generator.next())) }
            return buffer
        }
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(remaining: count, generator: SplitMix64(seed: seed))
    }

    /// The body's SHA-256, computed by generating it once more.
    public func sha256() async -> String {
        var hasher = SHA256()
        for await chunk in self { chunk.withUnsafeReadableBytes { hasher.update(bufferPointer: $0) } }
        return hasher.finalize().hexString
    }
}

/// A small deterministic generator, so every run and every backend sees the same bytes.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    public var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var value = state
        value = (value ^ (value >> 30)) &* 0xBF58_476D_1CE4_E5B9
        value = (value ^ (value >> 27)) &* 0x94D0_49BB_1331_11EB
        return value ^ (value >> 31)
    }
}

public func randomBytes(_ count: Int, seed: UInt64) -> [UInt8] {
    var generator = SplitMix64(seed: seed)
    return (0..<count).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
}

public func sha256Hex(_ bytes: [UInt8]) -> String { SHA256.hash(data: bytes).hexString }
