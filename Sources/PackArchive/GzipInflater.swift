import CZlib

/// Incremental gunzip built on zlib (`inflateInit2` with windowBits 15+16, i.e. gzip only).
///
/// Feed compressed bytes with ``inflate(_:output:)`` in order, in chunks of any size, then call ``finish()``.
/// Concatenated gzip members are decompressed one after the other, as `gunzip` does; zero bytes after the last
/// member (tape-style padding) are ignored. Decompressed data is delivered in pieces of at most 64 KiB, so memory use
/// does not depend on the size of the stream.
public final class GzipInflater {
    /// Largest piece handed to an `output` closure.
    static let outputCapacity = 64 * 1024

    private let stream: UnsafeMutablePointer<z_stream>
    private let outputBuffer: UnsafeMutableRawBufferPointer
    /// How many of the two gzip magic bytes have been checked so far.
    private var magicBytesChecked = 0
    /// The current member ended (Z_STREAM_END) and no byte of a further member has been decompressed yet.
    private var atMemberBoundary = false
    /// Only zero bytes have followed the last member; anything else is an error.
    private var inTrailingPadding = false
    private var failure: ArchiveProblem?

    public init() throws(ArchiveProblem) {
        let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        stream.initialize(to: z_stream())
        let status = inflateInit2_(stream, 15 + 16, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        guard status == Z_OK else {
            stream.deinitialize(count: 1)
            stream.deallocate()
            throw .corruptCompression("zlib could not be initialised (error \(status))")
        }
        self.stream = stream
        self.outputBuffer = .allocate(byteCount: Self.outputCapacity, alignment: 16)
    }

    deinit {
        inflateEnd(stream)
        stream.deinitialize(count: 1)
        stream.deallocate()
        outputBuffer.deallocate()
    }

    /// Feeds compressed bytes and calls `output` with each decompressed piece (at most 64 KiB, valid only during the
    /// call). Throws ``ArchiveProblem/notGzip`` or ``ArchiveProblem/corruptCompression(_:)`` for bad input, and
    /// rethrows whatever `output` throws; after any error the inflater refuses further input.
    public func inflate(_ input: UnsafeRawBufferPointer, output: (UnsafeRawBufferPointer) throws -> Void) throws {
        if let failure { throw failure }
        guard let base = input.baseAddress, !input.isEmpty else { return }
        do {
            try checkMagic(input)
            var offset = 0
            while offset < input.count {
                // z_stream counts in 32 bits; very large chunks are fed in slices.
                let length = min(input.count - offset, 1 << 30)
                try inflateSlice(UnsafeRawBufferPointer(start: base + offset, count: length), output: output)
                offset += length
            }
        } catch let problem as ArchiveProblem {
            failure = problem
            throw problem
        } catch {
            failure = .corruptCompression("decompression was interrupted by an earlier error")
            throw error
        }
    }

    /// Call at end of input; throws ``ArchiveProblem/corruptCompression(_:)`` if the stream ended early, and
    /// ``ArchiveProblem/notGzip`` if there was no input at all.
    public func finish() throws(ArchiveProblem) {
        if let failure { throw failure }
        if magicBytesChecked == 0 {
            failure = .notGzip
        } else if !atMemberBoundary {
            failure = .corruptCompression("the compressed stream is truncated")
        }
        if let failure { throw failure }
    }

    private func checkMagic(_ input: UnsafeRawBufferPointer) throws(ArchiveProblem) {
        let magic: [UInt8] = [0x1F, 0x8B]
        var index = 0
        while magicBytesChecked < magic.count, index < input.count {
            guard input[index] == magic[magicBytesChecked] else { throw .notGzip }
            magicBytesChecked += 1
            index += 1
        }
    }

    private func inflateSlice(
        _ input: UnsafeRawBufferPointer,
        output: (UnsafeRawBufferPointer) throws -> Void
    ) throws {
        var remaining = input
        if inTrailingPadding {
            try skipPadding(remaining)
            return
        }
        stream.pointee.next_in = UnsafeMutablePointer(
            mutating: remaining.baseAddress!.assumingMemoryBound(to: Bytef.self))
        stream.pointee.avail_in = uInt(remaining.count)
        defer {
            stream.pointee.next_in = nil
            stream.pointee.avail_in = 0
            stream.pointee.next_out = nil
            stream.pointee.avail_out = 0
        }
        while true {
            if atMemberBoundary {
                let left = Int(stream.pointee.avail_in)
                if left == 0 { return }
                remaining = UnsafeRawBufferPointer(start: stream.pointee.next_in, count: left)
                if remaining[0] == 0 {
                    inTrailingPadding = true
                    try skipPadding(remaining)
                    return
                }
                // Another gzip member follows; zlib checks its header.
                inflateReset(stream)
                atMemberBoundary = false
            }
            stream.pointee.next_out = outputBuffer.baseAddress!.assumingMemoryBound(to: Bytef.self)
            stream.pointee.avail_out = uInt(outputBuffer.count)
            let status = CZlib.inflate(stream, Z_NO_FLUSH)
            let produced = outputBuffer.count - Int(stream.pointee.avail_out)
            switch status {
            case Z_OK, Z_BUF_ERROR:
                break
            case Z_STREAM_END:
                atMemberBoundary = true
            default:
                throw ArchiveProblem.corruptCompression(zlibMessage(status))
            }
            if produced > 0 {
                try output(UnsafeRawBufferPointer(start: outputBuffer.baseAddress, count: produced))
            }
            if atMemberBoundary { continue }
            // Stop when zlib made no progress, or consumed all input without filling the output buffer (so nothing
            // is pending inside zlib).
            if status == Z_BUF_ERROR || (stream.pointee.avail_in == 0 && stream.pointee.avail_out != 0) {
                return
            }
        }
    }

    private func skipPadding(_ bytes: UnsafeRawBufferPointer) throws(ArchiveProblem) {
        guard bytes.allSatisfy({ $0 == 0 }) else {
            throw .corruptCompression("unexpected data after the end of the gzip stream")
        }
    }

    private func zlibMessage(_ status: Int32) -> String {
        if let message = stream.pointee.msg {
            return String(cString: message)
        }
        switch status {
        case Z_NEED_DICT: return "a preset dictionary is required"
        case Z_MEM_ERROR: return "out of memory"
        default: return "zlib error \(status)"
        }
    }
}
