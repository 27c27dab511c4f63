import CZlib
import Foundation
import PackArchive
import PolicyHubTestSupport
import Testing

/// A realistic policy pack source tree: nested directories, an executable, a non-ASCII name and a path longer than
/// the 100 bytes a plain tar header can hold.
struct PackSource {
    static let longDirectory =
        "package/node_modules/@pulumi/policy-with-a-rather-long-scoped-name/node_modules/dependency-of-the-policy/lib"
    static let files: [String: (contents: String, mode: Int)] = [
        "package/PulumiPolicy.yaml": ("runtime: nodejs\ndescription: test pack\n", 0o644),
        "package/package.json": (#"{"name": "pack", "version": "1.0.0"}"# + "\n", 0o600),
        "package/index.js": ("const policy = require('@pulumi/policy');\n", 0o644),
        "package/bin/run.sh": ("#!/bin/sh\necho run\n", 0o755),
        "package/docs/résumé.md": ("# Ünïcödé\n", 0o644),
        "\(longDirectory)/index-of-the-dependency.js": (String(repeating: "x", count: 70_000), 0o700),
    ]

    /// Files plus every directory that contains them.
    static var entryCount: Int {
        var directories: Set<String> = []
        for path in files.keys {
            var components = path.split(separator: "/").dropLast()
            while !components.isEmpty {
                directories.insert(components.joined(separator: "/"))
                components = components.dropLast()
            }
        }
        return files.count + directories.count
    }

    static var unpackedBytes: Int64 {
        Int64(files.values.reduce(0) { $0 + $1.contents.utf8.count })
    }

    /// Writes the tree under `directory/src` and archives it with /usr/bin/tar in the given format.
    static func archive(in directory: TemporaryDirectory, format: String) throws -> (url: URL, entries: Int) {
        for (path, file) in files {
            try directory.write("src/\(path)", file.contents, mode: file.mode)
        }
        let archive = directory.path("pack-\(format).tgz")
        try run(
            "/usr/bin/tar",
            ["--format=\(format)", "-czf", archive.path, "-C", directory.path("src").path, "package"]
        )
        let listing = try run("/usr/bin/tar", ["-tzf", archive.path])
        let entries = listing.split(separator: "\n").count
        return (archive, entries)
    }
}

/// The tar stream inside a .tgz, decoded leniently, as decompressed by the system's gzip.
func decompressedText(_ archive: URL) throws -> String {
    try run("/bin/sh", ["-c", "gzip -dc \"$0\"", archive.path])
}

@Suite("Inspecting valid archives")
struct ValidArchiveTests {
    @Test("a GNU-format pack made by tar, with names over 100 bytes, is accepted with the right totals")
    func gnuPackFromTar() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let (archive, entries) = try PackSource.archive(in: directory, format: "gnu")
        // tar really used the GNU long-name extension for the long path.
        #expect(try decompressedText(archive).contains("././@LongLink"))

        let summary = try PackArchiveInspector.inspect(fileAt: archive)
        // Every file and directory, as tar lists them.
        #expect(summary.entryCount == entries)
        #expect(summary.entryCount == PackSource.entryCount)
        #expect(summary.unpackedBytes == PackSource.unpackedBytes)
    }

    @Test("a pax-format pack made by tar is accepted with the right totals")
    func paxPackFromTar() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let (archive, entries) = try PackSource.archive(in: directory, format: "pax")
        #expect(try decompressedText(archive).contains("PaxHeaders"))
        let summary = try PackArchiveInspector.inspect(fileAt: archive)
        #expect(summary == PackArchiveSummary(entryCount: entries, unpackedBytes: PackSource.unpackedBytes))
    }

    @Test(
        "feeding the archive in chunks of any size gives the same result",
        arguments: [1, 7, 511, 512, 513, 4096, 1 << 20]
    )
    func chunkBoundaries(chunkSize: Int) throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let (archive, entries) = try PackSource.archive(in: directory, format: "pax")
        let bytes = try [UInt8](Data(contentsOf: archive))
        let summary = try inspect(bytes, chunkSize: chunkSize)
        #expect(summary == PackArchiveSummary(entryCount: entries, unpackedBytes: PackSource.unpackedBytes))
    }

    @Test("a pack without directory entries, as Pulumi's CLI writes them, is accepted")
    func packWithoutDirectoryEntries() throws {
        let summary = try inspect(minimalPack())
        #expect(summary == PackArchiveSummary(entryCount: 2, unpackedBytes: 37))
    }

    @Test("a leading './' on entry names is ignored")
    func leadingDotSlash() throws {
        var tar = TarBuilder()
        tar.add("./", type: "5", mode: 0o755)
        tar.file("./package/PulumiPolicy.yaml", "runtime: nodejs\n")
        #expect(try inspect(tar.gzipped()).entryCount == 2)
    }

    @Test("the ustar prefix field is joined to the name")
    func ustarPrefix() throws {
        var tar = TarBuilder()
        tar.add("PulumiPolicy.yaml", data: Array("runtime: nodejs\n".utf8), prefix: "package")
        #expect(try inspect(tar.gzipped()).entryCount == 1)
    }

    @Test("a GNU long-name entry supplies the name of the next entry")
    func gnuLongName() throws {
        var tar = TarBuilder()
        tar.gnuLong("package/PulumiPolicy.yaml")
        tar.add("truncated-name", data: Array("runtime: nodejs\n".utf8), format: .gnu)
        #expect(try inspect(tar.gzipped()).entryCount == 1)
    }

    @Test("a pax 'path' record supplies the name, and pax global headers are ignored")
    func paxPath() throws {
        var tar = TarBuilder()
        tar.pax([("comment", "made by hand")], global: true)
        tar.pax([("path", "package/PulumiPolicy.yaml"), ("mtime", "1700000000.5")])
        tar.add("package/somethingelse", data: Array("runtime: nodejs\n".utf8))
        #expect(try inspect(tar.gzipped()) == PackArchiveSummary(entryCount: 1, unpackedBytes: 16))
    }

    @Test("old v7 headers (no ustar magic) are read")
    func v7Header() throws {
        var tar = TarBuilder()
        tar.add("package/", type: "\0", mode: 0o755, format: .v7)
        tar.add("package/PulumiPolicy.yaml", type: "\0", data: Array("runtime: nodejs\n".utf8), format: .v7)
        #expect(try inspect(tar.gzipped()) == PackArchiveSummary(entryCount: 2, unpackedBytes: 16))
    }

    @Test("base-256 (binary) size fields are read")
    func base256Size() throws {
        var tar = TarBuilder()
        tar.manifest()
        tar.add("package/data.bin", data: [UInt8](repeating: 7, count: 1000), base256Size: true, format: .gnu)
        #expect(try inspect(tar.gzipped()) == PackArchiveSummary(entryCount: 2, unpackedBytes: 1016))
    }

    @Test("headers whose checksum was computed with signed bytes are accepted")
    func signedChecksum() throws {
        var tar = TarBuilder()
        tar.manifest()
        tar.add("package/café.txt", data: Array("crème".utf8), checksum: .signed)
        #expect(try inspect(tar.gzipped()).entryCount == 2)
    }

    @Test("an archive that ends at a header boundary without the end-of-archive marker is accepted")
    func missingEndMarker() throws {
        var tar = TarBuilder()
        tar.manifest()
        #expect(try inspect(tar.gzipped(withEndMarker: false)).entryCount == 1)
    }

    @Test("concatenated gzip members and zero padding after the gzip stream are accepted")
    func concatenatedMembers() throws {
        var tar = TarBuilder()
        tar.manifest()
        tar.file("package/index.js", String(repeating: "y", count: 3000))
        tar.end()
        let split = 777
        let archive =
            gzip(Array(tar.bytes[..<split])) + gzip(Array(tar.bytes[split...])) + [UInt8](repeating: 0, count: 100)
        #expect(try inspect(archive, chunkSize: 100) == PackArchiveSummary(entryCount: 2, unpackedBytes: 3016))
    }

    @Test("symbolic links that stay inside the archive are accepted")
    func safeSymbolicLinks() throws {
        var tar = TarBuilder()
        tar.manifest()
        tar.add("package/node_modules/.bin/tsc", type: "2", linkName: "../typescript/bin/tsc")
        tar.add("package/policy.yaml", type: "2", linkName: "PulumiPolicy.yaml")
        tar.add("package/up", type: "2", linkName: "../package")
        tar.add("package/copy.yaml", type: "1", linkName: "package/PulumiPolicy.yaml")
        #expect(try inspect(tar.gzipped()) == PackArchiveSummary(entryCount: 5, unpackedBytes: 16))
    }
}

@Suite("Limits")
struct LimitTests {
    @Test("an archive with more entries than allowed is rejected")
    func tooManyEntries() throws {
        var tar = TarBuilder()
        tar.manifest()
        for index in 0..<5 { tar.file("package/file\(index).js", "//\n") }
        let archive = tar.gzipped()
        #expect(try inspect(archive, limits: ArchiveLimits(maxEntries: 6)).entryCount == 6)
        #expect(throws: ArchiveProblem.tooManyEntries(limit: 5)) {
            try inspect(archive, limits: ArchiveLimits(maxEntries: 5))
        }
    }

    @Test("files whose sizes add up to more than the limit are rejected")
    func cumulativeSize() throws {
        var tar = TarBuilder()
        tar.manifest()
        tar.file("package/a.js", String(repeating: "a", count: 600))
        tar.file("package/b.js", String(repeating: "b", count: 600))
        let archive = tar.gzipped()
        #expect(try inspect(archive, limits: ArchiveLimits(maxUnpackedBytes: 1216)).unpackedBytes == 1216)
        #expect(throws: ArchiveProblem.tooLarge(limit: 1215)) {
            try inspect(archive, limits: ArchiveLimits(maxUnpackedBytes: 1215))
        }
    }

    @Test("a gzip bomb (2 GiB of zeros) is rejected from its header, after reading only the first chunk")
    func gzipBomb() throws {
        // Build the compressed stream in memory (about 2 MiB) without ever holding the zeros.
        var tar = TarBuilder()
        tar.manifest()
        let zerosSize: Int64 = 2 << 30
        tar.add("package/zeros.bin", announcedSize: zerosSize)
        let compressor = GzipCompressor(level: 1, strategy: Z_RLE)
        var compressed: [UInt8] = []
        compressor.compress(tar.bytes, into: &compressed)
        let zeros = [UInt8](repeating: 0, count: 1 << 20)
        for _ in 0..<(zerosSize >> 20) { compressor.compress(zeros, into: &compressed) }
        compressor.compress([UInt8](repeating: 0, count: 1024), finish: true, into: &compressed)
        #expect(compressed.count < 4 << 20)

        var inspector = try PackArchiveInspector()
        var consumed = 0
        let error = #expect(throws: ArchiveProblem.self) {
            while consumed < compressed.count {
                let end = min(consumed + 64 * 1024, compressed.count)
                defer { consumed = end }
                try inspector.consume(Array(compressed[consumed..<end]))
            }
            _ = try inspector.finish()
        }
        #expect(error == .tooLarge(limit: 1 << 30))
        #expect(consumed == 64 * 1024, "the bomb should be rejected while reading the first 64 KiB chunk")
    }

    @Test("a header size lied about in a pax record still counts towards the limit")
    func paxSizeOverride() throws {
        var tar = TarBuilder()
        tar.manifest()
        tar.pax([("size", "3000000000")])
        tar.add("package/big.bin", announcedSize: 10)
        #expect(throws: ArchiveProblem.tooLarge(limit: 1 << 30)) {
            try inspect(tar.gzipped())
        }
    }

    @Test("gigabytes of decompressed data hidden after the end-of-archive marker are rejected")
    func dataAfterEndMarker() throws {
        var tar = TarBuilder()
        tar.manifest()
        tar.end()
        let compressor = GzipCompressor(level: 1, strategy: Z_RLE)
        var compressed: [UInt8] = []
        compressor.compress(tar.bytes, into: &compressed)
        let zeros = [UInt8](repeating: 0, count: 1 << 20)
        for _ in 0..<64 { compressor.compress(zeros, into: &compressed) }
        compressor.compress([], finish: true, into: &compressed)
        let limits = ArchiveLimits(maxEntries: 10, maxUnpackedBytes: 1 << 20)
        #expect(throws: ArchiveProblem.tooLarge(limit: 1 << 20)) {
            try inspect(compressed, limits: limits)
        }
        // The same pack with ordinary end padding is fine under the same limits.
        #expect(try inspect(tar.gzipped(), limits: limits).entryCount == 1)
    }
}

@Suite("Manifest")
struct ManifestTests {
    @Test("an archive without package/PulumiPolicy.yaml is rejected")
    func missing() throws {
        var tar = TarBuilder()
        tar.file("package/index.js", "//\n")
        tar.file("PulumiPolicy.yaml", "runtime: nodejs\n")
        tar.file("package/sub/PulumiPolicy.yaml", "runtime: nodejs\n")
        tar.file("package/pulumipolicy.yaml", "runtime: nodejs\n")
        #expect(throws: ArchiveProblem.missingManifest) { try inspect(tar.gzipped()) }
    }

    @Test("a manifest that is a directory does not count")
    func directoryManifest() throws {
        var tar = TarBuilder()
        tar.add("package/PulumiPolicy.yaml/", type: "5", mode: 0o755)
        tar.file("package/PulumiPolicy.yaml/x", "runtime: nodejs\n")
        #expect(throws: ArchiveProblem.missingManifest) { try inspect(tar.gzipped()) }
    }

    @Test("a manifest that is a symbolic link does not count")
    func symlinkManifest() throws {
        var tar = TarBuilder()
        tar.file("package/real.yaml", "runtime: nodejs\n")
        tar.add("package/PulumiPolicy.yaml", type: "2", linkName: "real.yaml")
        #expect(throws: ArchiveProblem.missingManifest) { try inspect(tar.gzipped()) }
    }

    @Test("a manifest later replaced by a symbolic link does not count")
    func replacedManifest() throws {
        var tar = TarBuilder()
        tar.manifest()
        tar.file("package/real.yaml", "runtime: nodejs\n")
        tar.add("package/PulumiPolicy.yaml", type: "2", linkName: "real.yaml")
        #expect(throws: ArchiveProblem.missingManifest) { try inspect(tar.gzipped()) }
    }
}
