import CZlib

// gzip on the test side, over zlib's deflate: independent of the code under test, which only inflates.

/// Streaming gzip compressor over zlib's deflate.
public final class GzipCompressor {
    private let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)

    public init(level: Int32 = Z_DEFAULT_COMPRESSION, strategy: Int32 = Z_DEFAULT_STRATEGY) {
        stream.initialize(to: z_stream())
        let status = deflateInit2_(
            stream, level, Z_DEFLATED, 15 + 16, 8, strategy, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        precondition(status == Z_OK)
    }

    deinit {
        deflateEnd(stream)
        stream.deinitialize(count: 1)
        stream.deallocate()
    }

    /// Compresses `input`, appending output to `output`; `finish` ends the gzip member.
    public func compress(_ input: UnsafeRawBufferPointer, finish: Bool = false, into output: inout [UInt8]) {
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        stream.pointee.next_in = UnsafeMutablePointer(
            mutating: input.baseAddress?.assumingMemoryBound(to: Bytef.self))
        stream.pointee.avail_in = uInt(input.count)
        while true {
            let (status, produced) = chunk.withUnsafeMutableBytes { buffer in
                stream.pointee.next_out = buffer.baseAddress!.assumingMemoryBound(to: Bytef.self)
                stream.pointee.avail_out = uInt(buffer.count)
                let status = deflate(stream, finish ? Z_FINISH : Z_NO_FLUSH)
                return (status, buffer.count - Int(stream.pointee.avail_out))
            }
            output.append(contentsOf: chunk[0..<produced])
            if finish ? status == Z_STREAM_END : (stream.pointee.avail_in == 0 && stream.pointee.avail_out != 0) {
                break
            }
        }
        stream.pointee.next_in = nil
    }

    public func compress(_ input: [UInt8], finish: Bool = false, into output: inout [UInt8]) {
        input.withUnsafeBytes { compress($0, finish: finish, into: &output) }
    }
}

/// `bytes` as one gzip member.
public func gzip(_ bytes: [UInt8]) -> [UInt8] {
    var output: [UInt8] = []
    GzipCompressor().compress(bytes, finish: true, into: &output)
    return output
}
