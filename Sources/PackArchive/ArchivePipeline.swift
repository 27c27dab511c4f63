/// What the pipeline reports to an extractor: validated entries and their payload.
enum PipelineEvent {
    case entry(ValidatedEntry)
    case data(UnsafeRawBufferPointer)
    case endOfEntry
}

/// gunzip → tar parsing → safety rules, shared by ``PackArchiveInspector`` and ``PackArchiveExtractor``.
///
/// A class so that the inflater's output closure can drive the tar reader and the policy (distinct stored
/// properties) without exclusivity conflicts. Any error is sticky: later calls rethrow it.
final class ArchivePipeline {
    /// Decompressed bytes allowed beyond `maxUnpackedBytes` for tar headers, padding and metadata, per entry and in
    /// total. Anything beyond is a decompression bomb hiding outside entry payloads.
    static let overheadPerEntry: Int64 = 4096
    static let overheadFixed: Int64 = 16 << 20

    private let inflater: GzipInflater
    private var reader = TarReader()
    private var policy: EntryPolicy
    private var inflatedBytes: Int64 = 0
    private let inflatedByteLimit: Int64
    private var failure: (any Error)?

    init(limits: ArchiveLimits) throws(ArchiveProblem) {
        inflater = try GzipInflater()
        policy = EntryPolicy(limits: limits)
        let (perEntry, overflow1) = Int64(max(limits.maxEntries, 0)).multipliedReportingOverflow(
            by: Self.overheadPerEntry)
        let (withEntries, overflow2) = max(limits.maxUnpackedBytes, 0).addingReportingOverflow(perEntry)
        let (total, overflow3) = withEntries.addingReportingOverflow(Self.overheadFixed)
        inflatedByteLimit = overflow1 || overflow2 || overflow3 ? .max : total
    }

    func consume(_ chunk: UnsafeRawBufferPointer, _ sink: (PipelineEvent) throws -> Void) throws {
        if let failure { throw failure }
        do {
            try inflater.inflate(chunk) { piece in
                try self.accept(piece, sink)
            }
        } catch {
            failure = error
            throw error
        }
    }

    func finish() throws -> PackArchiveSummary {
        if let failure { throw failure }
        do {
            try inflater.finish()
            try reader.finish()
            guard policy.sawManifest else { throw ArchiveProblem.missingManifest }
        } catch {
            failure = error
            throw error
        }
        return policy.summary
    }

    private func accept(_ piece: UnsafeRawBufferPointer, _ sink: (PipelineEvent) throws -> Void) throws {
        inflatedBytes += Int64(piece.count)
        guard inflatedBytes <= inflatedByteLimit else {
            throw ArchiveProblem.tooLarge(limit: policy.limits.maxUnpackedBytes)
        }
        try reader.feed(piece) { event in
            switch event {
            case .entry(let header):
                try sink(.entry(try self.policy.admit(header)))
            case .data(let bytes):
                try sink(.data(bytes))
            case .endOfEntry:
                try sink(.endOfEntry)
            case .endOfArchive:
                break
            }
        }
    }
}
