import Crypto
import NIOCore
import PolicyHubCore

/// A request body made of the given chunks.
struct ChunkedBody: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let chunks: [ByteBuffer]

    init(_ bytes: [UInt8], chunkSize: Int = 7_919) {
        chunks = stride(from: 0, to: bytes.count, by: chunkSize).map {
            ByteBuffer(bytes: bytes[$0..<Swift.min($0 + chunkSize, bytes.count)])
        }
    }

    struct AsyncIterator: AsyncIteratorProtocol {
        var chunks: IndexingIterator<[ByteBuffer]>
        mutating func next() async -> ByteBuffer? { chunks.next() }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(chunks: chunks.makeIterator()) }
}

/// `count` pseudo-random bytes made chunk by chunk as they are sent, so a large body is never held whole.
struct GeneratedBody: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let count: Int
    let seed: UInt64
    static let chunkSize = 64 * 1024

    struct AsyncIterator: AsyncIteratorProtocol {
        var remaining: Int
        var generator: SplitMix64

        mutating func next() async -> ByteBuffer? {
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

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(remaining: count, generator: SplitMix64(seed: seed)) }

    /// The body's SHA-256, computed by generating it once more.
    func sha256() async -> String {
        var hasher = SHA256()
        for await chunk in self { chunk.withUnsafeReadableBytes { hasher.update(bufferPointer: $0) } }
        return hasher.finalize().hexString
    }
}

/// A small deterministic generator, so every run and every backend sees the same bytes.
struct SplitMix64: RandomNumberGenerator, Sendable {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var value = state
        value = (value ^ (value >> 30)) &* 0xBF58_476D_1CE4_E5B9
        value = (value ^ (value >> 27)) &* 0x94D0_49BB_1331_11EB
        return value ^ (value >> 31)
    }
}

func randomBytes(_ count: Int, seed: UInt64) -> [UInt8] {
    var generator = SplitMix64(seed: seed)
    return (0..<count).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
}

func sha256Hex(_ bytes: [UInt8]) -> String { SHA256.hash(data: bytes).hexString }
