/// A tiny tar writer: hand-crafted (often hostile) archives for the archive checks, and ordinary packs for the
/// server's tests. The one place tests build tar headers; `gzip` compresses the result.
public struct TarBuilder {
    public enum Format {
        case ustar
        case gnu
        case v7
    }

    public enum Checksum {
        case unsigned
        case signed
        case wrong
    }

    public var bytes: [UInt8] = []

    public init() {}

    /// Adds one header block plus `data` (padded to 512 bytes).
    public mutating func add(
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

    public mutating func file(_ name: String, _ contents: String, mode: Int = 0o644) {
        add(name, data: Array(contents.utf8), mode: mode)
    }

    public mutating func manifest() {
        file("package/PulumiPolicy.yaml", "runtime: nodejs\n")
    }

    /// Adds a pax extended header ('x') or global header ('g') with the given records.
    public mutating func pax(_ records: [(String, String)], global: Bool = false) {
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
    public mutating func gnuLong(_ value: String, link: Bool = false) {
        add("././@LongLink", type: link ? "K" : "L", data: Array(value.utf8) + [0], format: .gnu)
    }

    /// Appends the end-of-archive marker (two zero blocks).
    public mutating func end() {
        bytes += [UInt8](repeating: 0, count: 1024)
    }

    /// The archive with the end marker, gzip-compressed.
    public func gzipped(withEndMarker: Bool = true) -> [UInt8] {
        var copy = self
        if withEndMarker { copy.end() }
        return gzip(copy.bytes)
    }
}

/// A minimal valid pack built with ``TarBuilder``.
public func minimalPack() -> [UInt8] {
    var tar = TarBuilder()
    tar.manifest()
    tar.file("package/index.js", "module.exports = {};\n")
    return tar.gzipped()
}

extension TarBuilder {
    /// A `.tgz` of `files` (paths relative to the archive root, each with its text), laid out as `tar -czf` lays
    /// out a directory: an entry for each directory before the files in it.
    public static func archive(files: [String: String]) -> [UInt8] {
        var tar = TarBuilder()
        var directories: Set<String> = []
        for path in files.keys.sorted() {
            var directory = ""
            for part in path.split(separator: "/").dropLast() {
                directory += part + "/"
                if directories.insert(directory).inserted { tar.add(directory, type: "5", mode: 0o755) }
            }
            tar.file(path, files[path] ?? "")
        }
        return tar.gzipped()
    }
}
