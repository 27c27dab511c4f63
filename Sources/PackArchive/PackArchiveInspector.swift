import Foundation

/// Streaming validator for policy pack archives: feed the compressed bytes in order, in chunks of any size, then call
/// ``finish()``. Memory use is bounded (a 64 KiB decompression buffer plus one tar header), whatever the archive
/// size. All errors thrown are ``ArchiveProblem``s; after an error the inspector keeps rethrowing it.
///
/// The inspector is a thin value wrapper around shared state; do not use copies of it independently.
public struct PackArchiveInspector {
    private let pipeline: ArchivePipeline

    public init(limits: ArchiveLimits = .init()) throws {
        pipeline = try ArchivePipeline(limits: limits)
    }

    /// Feeds the next chunk of the compressed archive. Throws ``ArchiveProblem``.
    public mutating func consume(_ chunk: UnsafeRawBufferPointer) throws {
        try pipeline.consume(chunk) { _ in }
    }

    /// Feeds the next chunk of the compressed archive. Throws ``ArchiveProblem``.
    public mutating func consume(_ chunk: [UInt8]) throws {
        try chunk.withUnsafeBytes { try consume($0) }
    }

    /// Checks that the archive ended properly and contains `package/PulumiPolicy.yaml`. Throws ``ArchiveProblem``.
    public mutating func finish() throws -> PackArchiveSummary {
        try pipeline.finish()
    }
}

extension PackArchiveInspector {
    /// Validates the archive file at `url`, reading it in 64 KiB chunks.
    public static func inspect(fileAt url: URL, limits: ArchiveLimits = .init()) throws -> PackArchiveSummary {
        var inspector = try PackArchiveInspector(limits: limits)
        try forEachChunk(ofFileAt: url) { try inspector.consume($0) }
        return try inspector.finish()
    }
}

/// Reads a file in 64 KiB chunks.
func forEachChunk(ofFileAt url: URL, _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
    let handle = try FileHandle(forReadingFrom: url)
    defer { try? handle.close() }
    while let data = try handle.read(upToCount: 64 * 1024), !data.isEmpty {
        try data.withUnsafeBytes { try body($0) }
    }
}
