import Foundation

/// Archives `tar` will not make: built by hand, one ustar entry, gzip-compressed by the system's gzip.
enum HostileArchives {
    /// One symbolic link entry, next to a manifest.
    static func withLink(named name: String, target: String) throws -> [UInt8] {
        let manifest =
            header(named: "package/PulumiPolicy.yaml", size: 7, type: "0") + Array("runtime".utf8)
            + [UInt8](repeating: 0, count: 505)
        var link = header(named: name, size: 0, type: "2", linkTarget: target)
        link += [UInt8](repeating: 0, count: 1024)
        return try gzip(manifest + link)
    }

    static func header(named name: String, size: Int, type: Character, linkTarget: String = "") -> [UInt8] {
        var header = [UInt8](repeating: 0, count: 512)
        func put(_ text: String, at offset: Int) {
            for (index, byte) in text.utf8.enumerated() { header[offset + index] = byte }
        }
        put(name, at: 0)
        put("0000644", at: 100)
        put("0000000", at: 108)
        put("0000000", at: 116)
        put(String(format: "%011o", size), at: 124)
        put("00000000000", at: 136)
        put("        ", at: 148)
        header[156] = type.asciiValue ?? 0
        put(linkTarget, at: 157)
        put("ustar", at: 257)
        put("00", at: 263)
        let checksum = header.reduce(0) { $0 + Int($1) }
        put(String(format: "%06o", checksum) + "\0 ", at: 148)
        return header
    }

    /// One regular file entry, named anything at all.
    static func withEntry(named name: String, contents: String = "x") throws -> [UInt8] {
        let body = Array(contents.utf8)
        let padding = [UInt8](repeating: 0, count: (512 - body.count % 512) % 512)
        return try gzip(
            header(named: name, size: body.count, type: "0") + body + padding + [UInt8](repeating: 0, count: 1024))
    }

    static func gzip(_ bytes: [UInt8]) throws -> [UInt8] {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("gz-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("archive.tar")
        try Data(bytes).write(to: file)
        try Fixtures.run("/usr/bin/gzip", [file.path])
        return [UInt8](try Data(contentsOf: directory.appendingPathComponent("archive.tar.gz")))
    }
}
