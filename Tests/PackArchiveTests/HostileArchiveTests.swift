import Foundation
import PackArchive
import PolicyHubTestSupport
import Testing

/// A hand-crafted malicious or broken archive and the problem it must be rejected with.
struct HostileCase: CustomTestStringConvertible, Sendable {
    let name: String
    let expected: ArchiveProblem
    let archive: @Sendable () -> [UInt8]

    var testDescription: String { name }

    static func tar(_ name: String, _ expected: ArchiveProblem, _ build: @escaping @Sendable (inout TarBuilder) -> Void)
        -> HostileCase
    {
        HostileCase(name: name, expected: expected) {
            var tar = TarBuilder()
            tar.manifest()
            build(&tar)
            return tar.gzipped()
        }
    }

    static let all: [HostileCase] = [
        tar("absolute path", .unsafePath("/etc/cron.d/evil")) { $0.file("/etc/cron.d/evil", "x") },
        tar("parent directory", .unsafePath("../evil")) { $0.file("../evil", "x") },
        tar("parent directory in the middle", .unsafePath("package/../../evil")) {
            $0.file("package/../../evil", "x")
        },
        tar("empty name", .unsafePath("")) { $0.file("", "x") },
        tar("pax path escaping", .unsafePath("../evil")) {
            $0.pax([("path", "../evil")])
            $0.file("package/harmless", "x")
        },
        tar("pax path with NUL", .unsafePath("package/a\0b")) {
            $0.pax([("path", "package/a\0b")])
            $0.file("package/harmless", "x")
        },
        tar("GNU long name escaping", .unsafePath("package/" + String(repeating: "../", count: 40) + "evil")) {
            $0.gnuLong("package/" + String(repeating: "../", count: 40) + "evil")
            $0.add("package/harmless", data: [1], format: .gnu)
        },
        tar("symlink to /etc/passwd", .unsafeLink("package/passwd")) {
            $0.add("package/passwd", type: "2", linkName: "/etc/passwd")
        },
        tar("symlink leaving the root", .unsafeLink("package/a")) {
            $0.add("package/a", type: "2", linkName: "../../x")
        },
        tar("symlink climbing through a component", .unsafeLink("package/a")) {
            $0.add("package/a", type: "2", linkName: "sub/../../../x")
        },
        tar("GNU long link escaping", .unsafeLink("package/a")) {
            $0.gnuLong("../../../../etc/shadow", link: true)
            $0.add("package/a", type: "2", format: .gnu)
        },
        tar("pax linkpath escaping", .unsafeLink("package/a")) {
            $0.pax([("linkpath", "/etc/shadow")])
            $0.add("package/a", type: "2", linkName: "ok")
        },
        tar("hard link outside", .unsafeLink("package/h")) {
            $0.add("package/h", type: "1", linkName: "../etc/passwd")
        },
        tar("hard link absolute", .unsafeLink("package/h")) {
            $0.add("package/h", type: "1", linkName: "/etc/passwd")
        },
        tar("entry below a symbolic link", .unsafePath("package/l1/l2")) {
            // l1 resolves to the root, so l2 → ../x would really point one level above it.
            $0.add("package/l1", type: "2", linkName: "..")
            $0.add("package/l1/l2", type: "2", linkName: "../x")
        },
        tar("hard link through a symbolic link", .unsafeLink("package/h")) {
            $0.add("package/l", type: "2", linkName: ".")
            $0.add("package/h", type: "1", linkName: "package/l/PulumiPolicy.yaml")
        },
        tar("symbolic link replacing a directory", .unsafeLink("package/dir")) {
            $0.file("package/dir/file", "x")
            $0.add("package/dir", type: "2", linkName: ".")
        },
        tar("character device", .unsupportedEntry("package/tty")) { $0.add("package/tty", type: "3") },
        tar("block device", .unsupportedEntry("package/sda")) { $0.add("package/sda", type: "4") },
        tar("fifo", .unsupportedEntry("package/fifo")) { $0.add("package/fifo", type: "6") },
        tar("bad header checksum", .corruptTar("header checksum mismatch at offset 1024")) {
            $0.add("package/x", data: [1, 2, 3], checksum: .wrong)
        },
        tar("non-octal size field", .corruptTar("invalid size field in the header at offset 1024")) {
            $0.add("package/x", data: [1, 2, 3], sizeField: "00000000009")
        },
        tar("size larger than the data (truncated entry)", .corruptTar("entry 'package/x' is truncated")) {
            $0.add("package/x", data: [1, 2, 3], announcedSize: 100_000)
        },
        tar("size smaller than the data", .corruptTar("header checksum mismatch at offset 2048")) {
            $0.add("package/x", data: [UInt8](repeating: 0x41, count: 1000), announcedSize: 10)
        },
        tar(
            "lone zero block followed by a header",
            .corruptTar("unexpected header after an end-of-archive block at offset 1536")
        ) {
            $0.bytes += [UInt8](repeating: 0, count: 512)
            $0.file("package/x", "x")
        },
        HostileCase(
            name: "truncated inside a header", expected: .corruptTar("the archive ends in the middle of a header")
        ) {
            var tar = TarBuilder()
            tar.manifest()
            return gzip(tar.bytes + [UInt8](repeating: 0x41, count: 100))
        },
    ]
}

@Suite("Rejecting hostile archives")
struct HostileArchiveTests {
    @Test("hostile and corrupt tar archives are rejected with the right problem", arguments: HostileCase.all)
    func rejected(_ hostile: HostileCase) throws {
        let archive = hostile.archive()
        #expect(throws: hostile.expected) { try inspect(archive) }
        // Chunking does not change the verdict.
        #expect(throws: hostile.expected) { try inspect(archive, chunkSize: 13) }
    }

    @Test("data that is not gzip-compressed is rejected", arguments: ["plain tar", "text", "empty", "zlib"])
    func notGzip(kind: String) throws {
        var tar = TarBuilder()
        tar.manifest()
        tar.end()
        let archive: [UInt8]
        switch kind {
        case "plain tar": archive = tar.bytes
        case "text": archive = Array("<html>not found</html>".utf8)
        case "zlib": archive = [0x78, 0x9C] + Array(gzip(tar.bytes).dropFirst(10))
        default: archive = []
        }
        #expect(throws: ArchiveProblem.notGzip) { try inspect(archive) }
    }

    @Test("a truncated gzip stream is rejected", arguments: [1, 8, 100])
    func truncatedGzip(missingBytes: Int) throws {
        let archive = minimalPack()
        let error = #expect(throws: ArchiveProblem.self) { try inspect(Array(archive.dropLast(missingBytes))) }
        guard case .corruptCompression = error else {
            Issue.record("expected corruptCompression, got \(String(describing: error))")
            return
        }
    }

    @Test("corrupted compressed data is rejected")
    func corruptedGzip() throws {
        var archive = minimalPack()
        archive[archive.count - 6] ^= 0xFF  // inside the CRC-32 trailer
        let error = #expect(throws: ArchiveProblem.self) { try inspect(archive) }
        #expect(error == .corruptCompression("incorrect data check"))
    }

    @Test("garbage after the gzip stream is rejected")
    func garbageAfterGzip() throws {
        let error = #expect(throws: ArchiveProblem.self) { try inspect(minimalPack() + Array("junk".utf8)) }
        guard case .corruptCompression = error else {
            Issue.record("expected corruptCompression, got \(String(describing: error))")
            return
        }
    }

    @Test("after rejecting an archive, the inspector keeps reporting the same problem")
    func errorsAreSticky() throws {
        var tar = TarBuilder()
        tar.file("../evil", "x")
        let archive = tar.gzipped()
        var inspector = try PackArchiveInspector()
        #expect(throws: ArchiveProblem.unsafePath("../evil")) { try inspector.consume(archive) }
        #expect(throws: ArchiveProblem.unsafePath("../evil")) { try inspector.consume(minimalPack()) }
        #expect(throws: ArchiveProblem.unsafePath("../evil")) { try inspector.finish() }
    }

    @Test("problems describe themselves in a short sentence for API error messages")
    func descriptions() {
        #expect(ArchiveProblem.notGzip.description == "the archive is not gzip-compressed")
        #expect(ArchiveProblem.unsafePath("../x").description == "entry '../x' escapes the package directory")
        #expect(ArchiveProblem.unsafePath("/etc/x").description == "entry '/etc/x' has an absolute path")
        #expect(ArchiveProblem.unsafePath("").description == "the archive contains an entry with an empty name")
        #expect(
            ArchiveProblem.unsafeLink("package/a").description
                == "link 'package/a' points outside the package directory")
        #expect(
            ArchiveProblem.unsupportedEntry("package/tty").description
                == "entry 'package/tty' is not a regular file, directory or link")
        #expect(
            ArchiveProblem.missingManifest.description == "the archive does not contain package/PulumiPolicy.yaml")
        #expect(ArchiveProblem.tooManyEntries(limit: 5).description == "the archive contains more than 5 entries")
        #expect(ArchiveProblem.tooLarge(limit: 1024).description == "the archive unpacks to more than 1024 bytes")
        #expect(
            ArchiveProblem.corruptTar("header checksum mismatch at offset 0").description
                == "the archive is not a valid tar file: header checksum mismatch at offset 0")
        // Control characters in hostile names cannot break the message onto several lines.
        #expect(ArchiveProblem.unsafePath("../a\nb").description == "entry '../a?b' escapes the package directory")
    }
}
