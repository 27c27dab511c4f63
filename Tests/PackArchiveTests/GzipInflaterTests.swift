import PackArchive
import PolicyHubTestSupport
import Testing

@Suite("GzipInflater")
struct GzipInflaterTests {
    /// Deterministic, poorly compressible bytes.
    static func noise(count: Int, seed: UInt64) -> [UInt8] {
        var state = seed
        return (0..<count).map { _ in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return UInt8(truncatingIfNeeded: state >> 33)
        }
    }

    static func inflate(_ compressed: [UInt8], chunkSize: Int) throws -> (output: [UInt8], largestPiece: Int) {
        let inflater = try GzipInflater()
        var output: [UInt8] = []
        var largestPiece = 0
        var offset = 0
        while offset < compressed.count {
            let end = min(offset + chunkSize, compressed.count)
            try compressed[offset..<end].withUnsafeBytes { chunk in
                try inflater.inflate(chunk) { piece in
                    largestPiece = max(largestPiece, piece.count)
                    output += piece
                }
            }
            offset = end
        }
        try inflater.finish()
        return (output, largestPiece)
    }

    @Test("decompresses in bounded pieces whatever the input chunking", arguments: [1, 1000, 1 << 20])
    func roundTrip(chunkSize: Int) throws {
        let original = Self.noise(count: 300_000, seed: 1) + [UInt8](repeating: 0, count: 500_000)
        let (output, largestPiece) = try Self.inflate(gzip(original), chunkSize: chunkSize)
        #expect(output == original)
        #expect(largestPiece <= 64 * 1024)
    }

    @Test("concatenated gzip members decompress to the concatenation")
    func concatenatedMembers() throws {
        let first = Self.noise(count: 1000, seed: 2)
        let second = Self.noise(count: 70_000, seed: 3)
        let (output, _) = try Self.inflate(gzip(first) + gzip(second) + gzip([]), chunkSize: 333)
        #expect(output == first + second)
    }

    @Test("finish reports a stream that stops early")
    func truncated() throws {
        let compressed = gzip(Self.noise(count: 10_000, seed: 4))
        let inflater = try GzipInflater()
        try compressed.dropLast(4).withUnsafeBytes { try inflater.inflate($0) { _ in } }
        #expect(throws: ArchiveProblem.corruptCompression("the compressed stream is truncated")) {
            try inflater.finish()
        }
    }

    @Test("an error thrown by the output closure stops decompression")
    func outputErrorStops() throws {
        struct Stop: Error {}
        let compressed = gzip([UInt8](repeating: 1, count: 1 << 20))
        let inflater = try GzipInflater()
        var pieces = 0
        #expect(throws: Stop.self) {
            try compressed.withUnsafeBytes { chunk in
                try inflater.inflate(chunk) { _ in
                    pieces += 1
                    throw Stop()
                }
            }
        }
        #expect(pieces == 1)
        #expect(throws: ArchiveProblem.self) { try inflater.finish() }
    }
}
