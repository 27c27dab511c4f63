import Foundation
import HTTPTypes
import PolicyHubCore
import Testing

/// `policyhub fetch` run as a process against `policyhub serve`, both the built binary, over real HTTP.
@Suite("policyhub fetch", .serialized)
struct FetchTests {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
        "policyhub-fetch-\(UUID().uuidString)", isDirectory: true)
    static let manifest = "name: guard\nruntime: nodejs\nversion: 1.0.0\n"
    static let config: JSONValue = ["rule": ["enforcementLevel": "advisory"]]

    var cache: URL { directory.appendingPathComponent("cache", isDirectory: true) }

    @Test func fetchDownloadsUnpacksAndPrintsThePulumiArguments() async throws {
        try await withServer(applyGuard: true) { server, token, archive in
            let result = try await fetch(server, token: token)
            #expect(result.status == 0, "\(result.stderr)")
            let digest = try sha256(archive)
            let packDirectory = cache.appendingPathComponent("packs/\(digest)/package").path
            let configFile = cache.appendingPathComponent("config/default.web.dev.guard.json").path
            #expect(result.stdout == "--policy-pack \(packDirectory) --policy-pack-config \(configFile)\n")
            #expect(result.stderr.contains("downloaded"))

            let manifest = try String(contentsOfFile: packDirectory + "/PulumiPolicy.yaml", encoding: .utf8)
            #expect(manifest == Self.manifest)
            #expect(try String(contentsOfFile: packDirectory + "/index.js", encoding: .utf8) == "// rules\n")
            let config = try JSONValue(jsonText: String(contentsOfFile: configFile, encoding: .utf8))
            #expect(config == Self.config)
            #expect(try leftovers() == [])
        }
    }

    /// Printed arguments are shell-quoted: a cache path with a space and a quote reads back as one word in `sh`.
    @Test func printedPathsAreShellQuoted() async throws {
        try await withServer(applyGuard: true) { server, token, archive in
            let awkward = directory.appendingPathComponent("my packs/it's here", isDirectory: true)
            let result = try await PolicyHubBinary.run([
                "fetch", "--server", "http://127.0.0.1:\(server.port)", "--token", token, "--stack", "default/web/dev",
                "--dest", awkward.path,
            ])
            #expect(result.status == 0, "\(result.stderr)")
            let shell = Process()
            shell.executableURL = URL(fileURLWithPath: "/bin/sh")
            shell.arguments = ["-c", "eval \"set -- $1\"; printf '%s\\n' \"$@\"", "sh", result.stdout]
            let out = Pipe()
            shell.standardOutput = out
            try shell.run()
            let words = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            shell.waitUntilExit()
            let packDirectory = awkward.appendingPathComponent("packs/\(try sha256(archive))/package").path
            let configFile = awkward.appendingPathComponent("config/default.web.dev.guard.json").path
            #expect(words == "--policy-pack\n\(packDirectory)\n--policy-pack-config\n\(configFile)\n")
            #expect(FileManager.default.fileExists(atPath: packDirectory + "/PulumiPolicy.yaml"))
        }
    }

    @Test func aSecondFetchDownloadsNothing() async throws {
        try await withServer(applyGuard: true) { server, token, archive in
            let first = try await fetch(server, token: token)
            #expect(first.status == 0, "\(first.stderr)")
            let pack = cache.appendingPathComponent("packs/\(try sha256(archive))")
            let before = try identity(of: pack)

            // Were the archive downloaded again, these bytes would fail its digest check.
            try overwriteStoredArchives(in: server, with: Array("not the archive".utf8))
            let second = try await fetch(server, token: token)
            #expect(second.status == 0, "\(second.stderr)")
            #expect(second.stdout == first.stdout)
            #expect(second.stderr.contains("cached"))
            #expect(!second.stderr.contains("downloaded"))
            #expect(try identity(of: pack) == before)
            #expect(try leftovers() == [])
        }
    }

    @Test func leftoversOfKilledRunsAreRemovedButThoseOfRunningOnesKept() async throws {
        try await withServer(applyGuard: true) { server, token, _ in
            // What a run killed mid-extraction two hours ago left, and what a run working right now has.
            let abandoned = [
                cache.appendingPathComponent(".tmp-old"), cache.appendingPathComponent("config/.tmp-old.json"),
            ]
            let working = cache.appendingPathComponent(".tmp-working")
            for directory in [
                abandoned[0].appendingPathComponent("package"), working, cache.appendingPathComponent("config"),
            ] {
                try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            }
            #expect(FileManager.default.createFile(atPath: abandoned[1].path, contents: Data("{".utf8)))
            for entry in abandoned {
                try FileManager.default.setAttributes(
                    [.modificationDate: Date().addingTimeInterval(-7200)], ofItemAtPath: entry.path)
            }

            let result = try await fetch(server, token: token)
            #expect(result.status == 0, "\(result.stderr)")
            #expect(try leftovers() == [".tmp-working"])
        }
    }

    @Test func execRunsTheCommandWithThePacksArgumentsAppended() async throws {
        try await withServer(applyGuard: true) { server, token, _ in
            let printed = try await fetch(server, token: token)
            #expect(printed.status == 0, "\(printed.stderr)")

            let out = directory.appendingPathComponent("out")
            let script = "echo \"$@\" > '\(out.path)'"
            let executed = try await fetch(
                server, token: token, extra: ["--exec", "--", "/bin/sh", "-c", script, "sh"])
            #expect(executed.status == 0, "\(executed.stderr)")
            #expect(executed.stdout == "")
            #expect(try String(contentsOf: out, encoding: .utf8) == printed.stdout)

            let failing = try await fetch(server, token: token, extra: ["--exec", "--", "/bin/sh", "-c", "exit 7"])
            #expect(failing.status == 7)
        }
    }

    @Test func aStackWithNoPacksPrintsNothing() async throws {
        try await withServer(applyGuard: false) { server, token, _ in
            // Server and token from the environment this time.
            let result = try await PolicyHubBinary.run(
                ["fetch", "--stack", "default/web/dev", "--dest", cache.path],
                environment: ["POLICYHUB_SERVER": "http://127.0.0.1:\(server.port)", "POLICYHUB_TOKEN": token])
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stdout == "")
        }
    }

    @Test func anUnknownOrganizationIsOneErrorLine() async throws {
        try await withServer(applyGuard: true) { server, token, _ in
            let result = try await fetch(server, token: token, stack: "nosuch/web/dev")
            expectOneErrorLine(result)
            #expect(result.stderr.lowercased().contains("not found"))
            #expect(result.stdout == "")
        }
    }

    @Test func aBadTokenIsOneErrorLine() async throws {
        try await withServer(applyGuard: true) { server, token, _ in
            let result = try await fetch(server, token: "pul-" + String(repeating: "0", count: 40))
            expectOneErrorLine(result)
            #expect(!result.stderr.contains(token))
            #expect(result.stdout == "")
        }
    }

    @Test func aServerThatIsNotRunningIsOneErrorLine() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let port = try PolicyHubBinary.freePort()
        let result = try await PolicyHubBinary.run([
            "fetch", "--server", "http://127.0.0.1:\(port)", "--token", "pul-" + String(repeating: "1", count: 40),
            "--stack", "default/web/dev", "--dest", cache.path,
        ])
        #expect(result.status != 0)
        #expect(result.stderr == "error: cannot reach http://127.0.0.1:\(port): connection refused\n")
        #expect(result.stdout == "")
    }

    @Test func aDamagedDownloadIsRefusedAndLeavesNoPack() async throws {
        try await withServer(applyGuard: true) { server, token, archive in
            var damaged = archive
            damaged[damaged.count / 2] ^= 0xFF
            try overwriteStoredArchives(in: server, with: damaged)
            let result = try await fetch(server, token: token)
            expectOneErrorLine(result)
            let expected = try sha256(archive)
            let actual = try sha256(damaged)
            #expect(
                result.stderr
                    == "error: digest mismatch for pack guard: expected \(expected), got \(actual)\n")
            #expect(!FileManager.default.fileExists(atPath: cache.appendingPathComponent("packs/\(expected)").path))
            #expect(try leftovers() == [])
        }
    }

    @Test func aRefusedDownloadLinkIsOneErrorLine() async throws {
        // Links signed by one server mean nothing to another: this one's public URL points at a second server.
        let other = try ServerProcess(dataDir: directory.appendingPathComponent("other"))
        do {
            try await other.waitUntilReady()
            try await withServer(applyGuard: true, extraArguments: ["--public-url", "http://127.0.0.1:\(other.port)"]) {
                server, token, _ in
                let result = try await fetch(server, token: token)
                expectOneErrorLine(result)
                #expect(result.stderr.hasPrefix("error: cannot download pack guard: "))
                #expect(result.stderr.hasSuffix("(HTTP 403)\n"))
                #expect(result.stdout == "")
                #expect(try leftovers() == [])
            }
        } catch {
            _ = try? await other.terminate()
            throw error
        }
        #expect(try await other.terminate() == 0)
    }

    // MARK: - Helpers

    /// Starts `policyhub serve`, publishes `guard` 1.0.0 to the `default` organization and, when asked, applies it
    /// with a config to the default policy group, which every stack belongs to.
    func withServer(
        applyGuard: Bool, extraArguments: [String] = [], _ body: (ServerProcess, String, [UInt8]) async throws -> Void
    ) async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let dataDir = directory.appendingPathComponent("data")
        let server = try ServerProcess(dataDir: dataDir, extraArguments: extraArguments)
        do {
            try await server.waitUntilReady()
            let token = try server.initialAdminToken()
            let archive = Fixtures.packArchive(files: [
                "package/PulumiPolicy.yaml": Self.manifest, "package/index.js": "// rules\n",
            ])
            try await server.withClient { api in
                try await api.publish("default", "guard", tag: "1.0.0", token: token, archive: archive)
                guard applyGuard else { return }
                let applied = try await api.send(
                    .patch, "/api/orgs/default/policygroups/default-policy-group", token: token,
                    json: [
                        "addPolicyPack": ["name": "guard", "versionTag": "1.0.0", "config": Self.config]
                    ])
                guard (200..<300).contains(applied.status.code) else {
                    throw TestFailure("applying the pack failed: \(applied.status) \(applied.text)")
                }
            }
            try await body(server, token, archive)
        } catch {
            _ = try? await server.terminate()
            throw error
        }
        #expect(try await server.terminate() == 0)
    }

    func fetch(
        _ server: ServerProcess, token: String, stack: String = "default/web/dev", extra: [String] = []
    ) async throws -> (status: Int32, stdout: String, stderr: String) {
        try await PolicyHubBinary.run(
            [
                "fetch", "--server", "http://127.0.0.1:\(server.port)", "--token", token, "--stack", stack,
                "--dest", cache.path,
            ] + extra)
    }

    func expectOneErrorLine(
        _ result: (status: Int32, stdout: String, stderr: String), sourceLocation: SourceLocation = #_sourceLocation
    ) {
        #expect(result.status != 0, sourceLocation: sourceLocation)
        #expect(result.stderr.hasPrefix("error: "), "\(result.stderr)", sourceLocation: sourceLocation)
        #expect(result.stderr.hasSuffix("\n"), sourceLocation: sourceLocation)
        #expect(result.stderr.filter { $0 == "\n" }.count == 1, "\(result.stderr)", sourceLocation: sourceLocation)
    }

    /// Temporary extraction directories left in the cache: there must never be any.
    func leftovers() throws -> [String] {
        guard FileManager.default.fileExists(atPath: cache.path) else { return [] }
        return try FileManager.default.contentsOfDirectory(atPath: cache.path).filter { $0.hasPrefix(".tmp") }
            + FileManager.default.contentsOfDirectory(atPath: cache.appendingPathComponent("config").path).filter {
                $0.hasPrefix(".tmp")
            }
    }

    /// Inode and modification time: both change if the directory is replaced or written again.
    func identity(of url: URL) throws -> [String] {
        var identities: [String] = []
        for path in [url.path, url.appendingPathComponent("package/PulumiPolicy.yaml").path] {
            let attributes = try FileManager.default.attributesOfItem(atPath: path)
            let inode = attributes[.systemFileNumber].map { "\($0)" } ?? "?"
            let modified = (attributes[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
            identities.append("\(inode)@\(modified)")
        }
        return identities
    }

    /// Replaces the bytes of every archive the server stores, behind its back.
    func overwriteStoredArchives(in server: ServerProcess, with bytes: [UInt8]) throws {
        let root = server.dataDir.appendingPathComponent("blobs")
        let enumerator = FileManager.default.enumerator(atPath: root.path)
        var replaced = 0
        while let path = enumerator?.nextObject() as? String {
            guard !path.hasPrefix(".incoming") else { continue }
            let file = root.appendingPathComponent(path)
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: file.path, isDirectory: &isDirectory), !isDirectory.boolValue
            else { continue }
            try? FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: file.path)
            try Data(bytes).write(to: file)
            replaced += 1
        }
        guard replaced > 0 else { throw TestFailure("no stored archive under \(root.path)") }
    }

    /// Lowercase hex SHA-256, by the system's sha256sum.
    func sha256(_ bytes: [UInt8]) throws -> String {
        let file = directory.appendingPathComponent("digest-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try Data(bytes).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
        process.arguments = [file.path]
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let output = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard let digest = String(decoding: output, as: UTF8.self).split(separator: " ").first, digest.count == 64
        else { throw TestFailure("sha256sum failed") }
        return String(digest)
    }
}
