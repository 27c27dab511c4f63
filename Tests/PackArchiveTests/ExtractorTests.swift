import Foundation
import PackArchive
import PolicyHubTestSupport
import Testing

/// A sandbox with an (empty) extraction destination and a sibling directory the archive must never reach.
struct ExtractionSandbox {
    let root: TemporaryDirectory
    let destination: URL
    let outside: URL

    init() throws {
        root = try TemporaryDirectory()
        destination = root.path("dest")
        outside = root.path("outside")
        try FileManager.default.createDirectory(at: destination, withIntermediateDirectories: false)
        try FileManager.default.createDirectory(at: outside, withIntermediateDirectories: false)
        try Data("secret\n".utf8).write(to: outside.appendingPathComponent("secret"))
    }

    func remove() { root.remove() }

    /// Fails the test if anything but the two directories exists in the sandbox, or `outside` changed.
    func expectNothingOutside(sourceLocation: SourceLocation = #_sourceLocation) throws {
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: root.url.path).sorted() == ["dest", "outside"],
            sourceLocation: sourceLocation)
        #expect(try treeListing(outside) == ["secret"], sourceLocation: sourceLocation)
        #expect(
            try String(contentsOf: outside.appendingPathComponent("secret"), encoding: .utf8) == "secret\n",
            sourceLocation: sourceLocation)
        let attributes = try FileManager.default.attributesOfItem(atPath: outside.appendingPathComponent("secret").path)
        #expect(
            (attributes[.referenceCount] as? Int) == 1, "the secret was hard-linked", sourceLocation: sourceLocation)
    }
}

func permissions(_ url: URL) throws -> Int {
    try FileManager.default.attributesOfItem(atPath: url.path)[.posixPermissions] as! Int
}

func contents(_ url: URL) throws -> String {
    try String(contentsOf: url, encoding: .utf8)
}

@Suite("Extracting archives")
struct ExtractorTests {
    @Test("a pack made by tar is extracted with the right contents and modes")
    func extractsRealPack() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let (archive, entries) = try PackSource.archive(in: directory, format: "gnu")
        let destination = directory.path("out")
        try FileManager.default.createDirectory(at: destination, withIntermediateDirectories: false)

        let summary = try PackArchiveExtractor.extract(fileAt: archive, to: destination)

        #expect(summary == PackArchiveSummary(entryCount: entries, unpackedBytes: PackSource.unpackedBytes))
        for (path, file) in PackSource.files {
            let extracted = destination.appendingPathComponent(path)
            #expect(try contents(extracted) == file.contents, "\(path)")
            // 0644, or 0755 when any execute bit was set (0600 → 0644, 0700 → 0755).
            #expect(try permissions(extracted) == (file.mode & 0o111 != 0 ? 0o755 : 0o644), "\(path)")
        }
        let expectedTree = Set(try treeListing(directory.path("src")))
        #expect(Set(try treeListing(destination)) == expectedTree)
    }

    @Test("parent directories are created for packs without directory entries")
    func createsDirectoriesImplicitly() throws {
        let sandbox = try ExtractionSandbox()
        defer { sandbox.remove() }
        var tar = TarBuilder()
        tar.manifest()
        tar.file("package/lib/deep/er/index.js", "exports.x = 1;\n")
        tar.file("package/bin/cli", "#!/bin/sh\n", mode: 0o750)

        let summary = try extract(tar.gzipped(), to: sandbox.destination)

        #expect(summary == PackArchiveSummary(entryCount: 3, unpackedBytes: 41))
        #expect(
            try treeListing(sandbox.destination) == [
                "package", "package/PulumiPolicy.yaml", "package/bin", "package/bin/cli", "package/lib",
                "package/lib/deep", "package/lib/deep/er", "package/lib/deep/er/index.js",
            ])
        #expect(
            try contents(sandbox.destination.appendingPathComponent("package/lib/deep/er/index.js"))
                == "exports.x = 1;\n")
        #expect(try permissions(sandbox.destination.appendingPathComponent("package/bin/cli")) == 0o755)
        #expect(try permissions(sandbox.destination.appendingPathComponent("package/PulumiPolicy.yaml")) == 0o644)
        try sandbox.expectNothingOutside()
    }

    @Test("links inside the pack are created and pax global headers are skipped")
    func createsLinks() throws {
        let sandbox = try ExtractionSandbox()
        defer { sandbox.remove() }
        var tar = TarBuilder()
        tar.pax([("comment", "global")], global: true)
        tar.manifest()
        tar.file("package/lib/tool.js", "tool\n")
        tar.add("package/node_modules/.bin/tool", type: "2", linkName: "../../lib/tool.js")
        tar.add("package/copy.yaml", type: "1", linkName: "package/PulumiPolicy.yaml")

        try extract(tar.gzipped(), to: sandbox.destination)

        let package = sandbox.destination.appendingPathComponent("package")
        #expect(
            try FileManager.default.destinationOfSymbolicLink(
                atPath: package.appendingPathComponent("node_modules/.bin/tool").path) == "../../lib/tool.js")
        #expect(try contents(package.appendingPathComponent("node_modules/.bin/tool")) == "tool\n")
        #expect(try contents(package.appendingPathComponent("copy.yaml")) == "runtime: nodejs\n")
        #expect(
            try treeListing(sandbox.destination) == [
                "package", "package/PulumiPolicy.yaml", "package/copy.yaml", "package/lib", "package/lib/tool.js",
                "package/node_modules", "package/node_modules/.bin", "package/node_modules/.bin/tool",
            ])
    }

    @Test("a later entry replaces an earlier file or link of the same name, without following the link")
    func replacesEntries() throws {
        let sandbox = try ExtractionSandbox()
        defer { sandbox.remove() }
        var tar = TarBuilder()
        tar.manifest()
        tar.file("package/a.js", "old\n")
        tar.file("package/a.js", "new\n")
        tar.add("package/b.js", type: "2", linkName: "a.js")
        tar.file("package/b.js", "b\n")

        try extract(tar.gzipped(), to: sandbox.destination)

        let package = sandbox.destination.appendingPathComponent("package")
        #expect(try contents(package.appendingPathComponent("a.js")) == "new\n")
        #expect(try contents(package.appendingPathComponent("b.js")) == "b\n")
        let type = try FileManager.default.attributesOfItem(atPath: package.appendingPathComponent("b.js").path)[.type]
        #expect(type as? FileAttributeType == .typeRegular)
    }

    @Test("escaping archives are refused and nothing is written outside the destination", arguments: EscapeCase.all)
    func refusesEscapes(_ escape: EscapeCase) throws {
        let sandbox = try ExtractionSandbox()
        defer { sandbox.remove() }
        var tar = TarBuilder()
        tar.manifest()
        escape.build(&tar, sandbox.outside.path)
        let archive = tar.gzipped()

        let error = #expect(throws: ArchiveProblem.self) { try extract(archive, to: sandbox.destination) }
        #expect(error == escape.expected(sandbox.outside.path))
        try sandbox.expectNothingOutside()
    }

    @Test("a symbolic link already in the destination is never written through")
    func existingSymlinkInDestination() throws {
        let sandbox = try ExtractionSandbox()
        defer { sandbox.remove() }
        try FileManager.default.createSymbolicLink(
            atPath: sandbox.destination.appendingPathComponent("package").path, withDestinationPath: "../outside")

        #expect(throws: PackExtractionError.self) { try extract(minimalPack(), to: sandbox.destination) }
        try sandbox.expectNothingOutside()
    }

    @Test("extracting an archive without a manifest fails when it is finished")
    func missingManifest() throws {
        let sandbox = try ExtractionSandbox()
        defer { sandbox.remove() }
        var tar = TarBuilder()
        tar.file("package/index.js", "//\n")
        #expect(throws: ArchiveProblem.missingManifest) { try extract(tar.gzipped(), to: sandbox.destination) }
    }

    @Test("the destination must be an existing directory")
    func destinationMustExist() throws {
        let sandbox = try ExtractionSandbox()
        defer { sandbox.remove() }
        #expect(throws: PackExtractionError.self) {
            _ = try PackArchiveExtractor(destination: sandbox.root.path("missing"))
        }
    }

    @Test("extraction limits are enforced before anything large is written")
    func limits() throws {
        let sandbox = try ExtractionSandbox()
        defer { sandbox.remove() }
        var tar = TarBuilder()
        tar.manifest()
        tar.file("package/big.bin", String(repeating: "z", count: 5000))
        #expect(throws: ArchiveProblem.tooLarge(limit: 4096)) {
            try extract(tar.gzipped(), to: sandbox.destination, limits: ArchiveLimits(maxUnpackedBytes: 4096))
        }
        #expect(
            !FileManager.default.fileExists(atPath: sandbox.destination.appendingPathComponent("package/big.bin").path))
    }
}

/// An archive that tries to write outside the destination (`outside` is the absolute path of the sibling directory).
struct EscapeCase: CustomTestStringConvertible, Sendable {
    let name: String
    let build: @Sendable (inout TarBuilder, _ outside: String) -> Void
    let expected: @Sendable (_ outside: String) -> ArchiveProblem

    var testDescription: String { name }

    static let all: [EscapeCase] = [
        EscapeCase(
            name: "absolute path",
            build: { tar, outside in tar.file("\(outside)/pwned", "x") },
            expected: { .unsafePath("\($0)/pwned") }),
        EscapeCase(
            name: "parent directory",
            build: { tar, _ in tar.file("../outside/pwned", "x") },
            expected: { _ in .unsafePath("../outside/pwned") }),
        EscapeCase(
            name: "parent directory after package/",
            build: { tar, _ in tar.file("package/../../outside/pwned", "x") },
            expected: { _ in .unsafePath("package/../../outside/pwned") }),
        EscapeCase(
            name: "write through a symlink to the outside",
            build: { tar, _ in
                tar.add("package/out", type: "2", linkName: "../../outside")
                tar.file("package/out/pwned", "x")
            },
            expected: { _ in .unsafeLink("package/out") }),
        EscapeCase(
            name: "absolute symlink",
            build: { tar, outside in
                tar.add("package/out", type: "2", linkName: outside)
                tar.file("package/out/pwned", "x")
            },
            expected: { _ in .unsafeLink("package/out") }),
        EscapeCase(
            name: "write below an inside symlink",
            build: { tar, _ in
                tar.add("package/self", type: "2", linkName: ".")
                tar.file("package/self/pwned", "x")
            },
            expected: { _ in .unsafePath("package/self/pwned") }),
        EscapeCase(
            name: "symlink chain",
            build: { tar, _ in
                tar.add("package/l1", type: "2", linkName: "..")
                tar.add("package/l1/l2", type: "2", linkName: "../outside")
                tar.file("package/l1/l2/pwned", "x")
            },
            expected: { _ in .unsafePath("package/l1/l2") }),
        EscapeCase(
            name: "hard link to an outside file",
            build: { tar, _ in
                tar.add("package/secret", type: "1", linkName: "../outside/secret")
            },
            expected: { _ in .unsafeLink("package/secret") }),
        EscapeCase(
            name: "hard link to an absolute path",
            build: { tar, outside in
                tar.add("package/secret", type: "1", linkName: "\(outside)/secret")
            },
            expected: { _ in .unsafeLink("package/secret") }),
        EscapeCase(
            name: "device node",
            build: { tar, _ in tar.add("package/null", type: "3") },
            expected: { _ in .unsupportedEntry("package/null") }),
    ]
}
