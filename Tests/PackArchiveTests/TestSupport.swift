import CZlib
import Foundation
import PackArchive
import Testing

// MARK: - Temporary directories

/// A fresh directory under the system temporary directory, removed by `remove()`.
struct TemporaryDirectory {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory
            .appendingPathComponent("PackArchiveTests-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    func remove() {
        try? FileManager.default.removeItem(at: url)
    }

    func path(_ relative: String) -> URL {
        url.appendingPathComponent(relative)
    }

    /// Writes a file (creating parent directories) with the given permissions.
    @discardableResult
    func write(_ relative: String, _ contents: String, mode: Int = 0o644) throws -> URL {
        let file = path(relative)
        try FileManager.default.createDirectory(
            at: file.deletingLastPathComponent(),
            withIntermediateDirectories: true
        )
        try Data(contents.utf8).write(to: file)
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: file.path)
        return file
    }
}

/// Runs a command and fails the test if it does not succeed; returns its standard output.
@discardableResult
func run(_ executable: String, _ arguments: [String], in directory: URL? = nil) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if let directory { process.currentDirectoryURL = directory }
    let output = Pipe()
    process.standardOutput = output
    try process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    try #require(process.terminationStatus == 0, "\(executable) \(arguments) failed")
    return String(decoding: data, as: UTF8.self)
}

/// Lists every file, directory and link below `directory`, as paths relative to it.
func treeListing(_ directory: URL) throws -> [String] {
    let base = directory.resolvingSymlinksInPath().path
    guard let enumerator = FileManager.default.enumerator(atPath: base) else { return [] }
    return enumerator.compactMap { $0 as? String }.sorted()
}

// MARK: - Feeding archives

/// Inspects `archive` fed in chunks of `chunkSize` bytes.
func inspect(_ archive: [UInt8], chunkSize: Int = 64 * 1024, limits: ArchiveLimits = .init()) throws
    -> PackArchiveSummary
{
    var inspector = try PackArchiveInspector(limits: limits)
    var offset = 0
    while offset < archive.count {
        let end = min(offset + chunkSize, archive.count)
        try inspector.consume(Array(archive[offset..<end]))
        offset = end
    }
    return try inspector.finish()
}

/// Extracts `archive` below `destination` in 4 KiB chunks.
@discardableResult
func extract(_ archive: [UInt8], to destination: URL, limits: ArchiveLimits = .init()) throws -> PackArchiveSummary {
    var extractor = try PackArchiveExtractor(destination: destination, limits: limits)
    var offset = 0
    while offset < archive.count {
        let end = min(offset + 4096, archive.count)
        try archive[offset..<end].withUnsafeBytes { try extractor.consume($0) }
        offset = end
    }
    return try extractor.finish()
}

// MARK: - gzip (test side, independent of the code under test)

/// Streaming gzip compressor over zlib's deflate.
final class GzipCompressor {
    private let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)

    init(level: Int32 = Z_DEFAULT_COMPRESSION, strategy: Int32 = Z_DEFAULT_STRATEGY) {
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
    func compress(_ input: UnsafeRawBufferPointer, finish: Bool = false, into output: inout [UInt8]) {
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

    func compress(_ input: [UInt8], finish: Bool = false, into output: inout [UInt8]) {
        input.withUnsafeBytes { compress($0, finish: finish, into: &output) }
    }
}

func gzip(_ bytes: [UInt8]) -> [UInt8] {
    var output: [UInt8] = []
    GzipCompressor().compress(bytes, finish: true, into: &output)
    return output
}

// MARK: - A tiny tar writer for hand-crafted (often hostile) archives

struct TarBuilder {
    enum Format {
        case ustar
        case gnu
        case v7
    }

    enum Checksum {
        case unsigned
        case signed
        case wrong
    }

    var bytes: [UInt8] = []

    /// Adds one header block plus `data` (padded to 512 bytes).
    mutating func add(
        _ name: String,
        type: Character = "0",
        data: [UInt8] = [],
        mode: Int = 0o644,
        linkName: String = "",
        announcedSize: Int64? = nil,
        base256Size: Bool = false,
        sizeField: String? = nil,
        prefix: String = "",
        format: Format = .ustar,
        checksum: Checksum = .unsigned
    ) {
        var header = [UInt8](repeating: 0, count: 512)
        func put(_ text: String, at offset: Int, width: Int) {
            let utf8 = Array(text.utf8)
            precondition(utf8.count <= width, "'\(text)' does not fit in \(width) bytes")
            header.replaceSubrange(offset..<offset + utf8.count, with: utf8)
        }
        func putOctal(_ value: Int64, at offset: Int, width: Int) {
            let digits = String(value, radix: 8)
            put(String(repeating: "0", count: width - 1 - digits.count) + digits, at: offset, width: width)
        }
        put(name, at: 0, width: 100)
        putOctal(Int64(mode), at: 100, width: 8)
        putOctal(1000, at: 108, width: 8)
        putOctal(1000, at: 116, width: 8)
        let size = announcedSize ?? Int64(data.count)
        if let sizeField {
            put(sizeField, at: 124, width: 12)
        } else if base256Size {
            header[124] = 0x80
            for index in 0..<8 { header[135 - index] = UInt8(truncatingIfNeeded: size >> (8 * index)) }
        } else {
            putOctal(size, at: 124, width: 12)
        }
        putOctal(1_700_000_000, at: 136, width: 12)
        header[156] = type.asciiValue!
        put(linkName, at: 157, width: 100)
        switch format {
        case .ustar:
            put("ustar\0" + "00", at: 257, width: 8)
            put(prefix, at: 345, width: 155)
        case .gnu:
            put("ustar  \0", at: 257, width: 8)
        case .v7:
            break
        }
        if format != .v7 {
            put("user", at: 265, width: 32)
            put("group", at: 297, width: 32)
        }
        for index in 148..<156 { header[index] = UInt8(ascii: " ") }
        var sum: Int64 = 0
        for byte in header {
            sum += checksum == .signed ? Int64(Int8(bitPattern: byte)) : Int64(byte)
        }
        if checksum == .wrong { sum += 1 }
        let digits = String(sum, radix: 8)
        put(String(repeating: "0", count: 6 - digits.count) + digits + "\0 ", at: 148, width: 8)
        bytes += header
        bytes += data
        bytes += [UInt8](repeating: 0, count: (512 - data.count % 512) % 512)
    }

    mutating func file(_ name: String, _ contents: String, mode: Int = 0o644) {
        add(name, data: Array(contents.utf8), mode: mode)
    }

    mutating func manifest() {
        file("package/PulumiPolicy.yaml", "runtime: nodejs\n")
    }

    /// Adds a pax extended header ('x') or global header ('g') with the given records.
    mutating func pax(_ records: [(String, String)], global: Bool = false) {
        var data: [UInt8] = []
        for (key, value) in records {
            let body = " \(key)=\(value)\n"
            var length = body.utf8.count + 1
            while String(length).count + body.utf8.count != length { length += 1 }
            data += Array("\(length)\(body)".utf8)
        }
        add(global ? "pax_global_header" : "PaxHeaders/entry", type: global ? "g" : "x", data: data)
    }

    /// Adds a GNU long-name ('L') or long-link ('K') entry for the next header.
    mutating func gnuLong(_ value: String, link: Bool = false) {
        add("././@LongLink", type: link ? "K" : "L", data: Array(value.utf8) + [0], format: .gnu)
    }

    /// Appends the end-of-archive marker (two zero blocks).
    mutating func end() {
        bytes += [UInt8](repeating: 0, count: 1024)
    }

    /// The archive with the end marker, gzip-compressed.
    func gzipped(withEndMarker: Bool = true) -> [UInt8] {
        var copy = self
        if withEndMarker { copy.end() }
        return gzip(copy.bytes)
    }
}

/// A minimal valid pack built with ``TarBuilder``.
func minimalPack() -> [UInt8] {
    var tar = TarBuilder()
    tar.manifest()
    tar.file("package/index.js", "module.exports = {};\n")
    return tar.gzipped()
}
