import Foundation
import HTTPTypes
import HummingbirdTesting
import PolicyHubCore
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// README and the binary cannot drift apart: every `--flag` and `POLICYHUB_*` variable README names belongs to a
/// command that lists it in its `--help`, and every documented setting, given by flag or by environment variable,
/// changes what it says it changes in a real `policyhub serve` (or `policyhub fetch`).
@Suite("Documented flags and environment variables")
struct DocumentedFlagsTests {
    // MARK: - Where each documented name belongs

    /// Who takes a flag that README names.
    enum Home: Hashable, Sendable, CustomStringConvertible {
        /// A policyhub command, as typed after `policyhub`: "serve", "fetch", "admin gc".
        case command(String)
        /// Another program's flag; README shows it only in that program's command lines.
        case tool(String)
        /// Part of what `policyhub fetch` prints for `pulumi preview` and `pulumi up`.
        case fetchOutput

        var description: String {
            switch self {
            case .command(let command): "policyhub \(command)"
            case .tool(let tool): tool
            case .fetchOutput: "the output of policyhub fetch"
            }
        }
    }

    static let serve = Home.command("serve")
    static let fetch = Home.command("fetch")
    static let report = Home.command("report")
    /// README: "Each takes `--data-dir` and `--database-url`" of the admin commands that work on one store.
    static let storeCommands: [Home] = [
        "create-org", "create-user", "add-member", "create-token", "list-tokens", "revoke-token", "audit", "gc",
    ].map { .command("admin " + $0) }

    /// Every flag README names, and who takes it. A flag README names that is missing here fails the suite.
    static let flagHomes: [String: [Home]] = [
        "--host": [serve], "--port": [serve], "--public-url": [serve],
        "--blob-store-url": [serve, .command("admin gc")],
        "--upload-url-ttl": [serve], "--log-level": [serve], "--database-pool-size": [serve] + storeCommands,
        "--data-dir": [serve] + storeCommands, "--database-url": [serve] + storeCommands,
        "--rate-limit": [serve], "--anonymous-rate-limit": [serve], "--rate-limit-loopback": [serve],
        "--gc-interval": [serve], "--pending-ttl": [serve, .command("admin gc")], "--grace": [.command("admin gc")],
        "--max-json-body-bytes": [serve], "--max-policies": [serve], "--max-field-length": [serve],
        "--max-archive-bytes": [serve], "--max-archive-entries": [serve], "--max-unpacked-bytes": [serve],
        "--idle-timeout": [serve], "--read-timeout": [serve],
        "--max-results-body-bytes": [serve], "--results-stale-after": [serve],
        "--server": [fetch, report], "--token": [fetch, report], "--stack": [fetch, report], "--dest": [fetch],
        "--exec": [fetch], "--event-log": [report], "--cache-dir": [report], "--update-version": [report],
        "--pulumi-exit-status": [report],
        "--policy-pack": [.fetchOutput], "--policy-pack-config": [.fetchOutput],
        "--role": [.command("admin add-member")],
        "--description": [.command("admin create-token")], "--expires-in": [.command("admin create-token")],
        "--org": [.command("admin audit")], "--action": [.command("admin audit")],
        "--limit": [.command("admin audit")], "--name": [.command("admin create-user")],
        "--dry-run": [.command("admin gc")],
        "--from": [.command("admin migrate-store")], "--to": [.command("admin migrate-store")],
        "--from-blob-store": [.command("admin migrate-store")], "--to-blob-store": [.command("admin migrate-store")],
        "--yes": [.tool("pulumi")], "--config": [.tool("pulumi")], "--entity-type": [.tool("pulumi")],
        "--add-stack": [.tool("pulumi")], "--add-policy-pack": [.tool("pulumi")],
        "--strict": [.tool("swift format")],
    ]

    /// Flags the binary takes that README does not name, by command. A new one fails the suite: document it
    /// (and add it to `flagHomes`) or, if it is deliberately left out of README, add it here.
    static let knownUndocumented: [String: Set<String>] = [:]

    /// Who reads a `POLICYHUB_*` variable.
    enum VariableHome: Hashable, Sendable {
        /// The fallback of a command's flag; that flag's `--help` entry says `env VARIABLE`.
        case option(command: String, flag: String)
        /// The test suite: some file under Tests/ reads it.
        case testSuite
    }

    /// Every variable README or a `--help` names. One missing here fails the suite.
    static let variableHomes: [String: VariableHome] = {
        var homes: [String: VariableHome] = [
            "POLICYHUB_SERVER": .option(command: "fetch", flag: "--server"),
            "POLICYHUB_TOKEN": .option(command: "fetch", flag: "--token"),
            "POLICYHUB_TEST_POSTGRES_URL": .testSuite,
            "POLICYHUB_TEST_S3_URL": .testSuite,
        ]
        let serveFlags = [
            "--host", "--port", "--data-dir", "--public-url", "--database-url", "--database-pool-size",
            "--blob-store-url", "--upload-url-ttl", "--max-archive-bytes", "--max-json-body-bytes", "--max-policies",
            "--max-field-length", "--max-archive-entries", "--max-unpacked-bytes", "--idle-timeout", "--read-timeout",
            "--pending-ttl", "--gc-interval", "--rate-limit", "--anonymous-rate-limit", "--rate-limit-loopback",
            "--log-level", "--max-results-body-bytes", "--results-stale-after",
        ]
        for flag in serveFlags { homes[variable(for: flag)] = .option(command: "serve", flag: flag) }
        return homes
    }()

    /// `--max-json-body-bytes` -> `POLICYHUB_MAX_JSON_BODY_BYTES`.
    static func variable(for flag: String) -> String {
        "POLICYHUB_" + flag.dropFirst(2).uppercased().replacingOccurrences(of: "-", with: "_")
    }

    // MARK: - README against the table and the binary's help

    @Test func everyFlagREADMENamesHasAHome() throws {
        let named = try Docs.flagLines()
        let missing = Set(named.keys).subtracting(Self.flagHomes.keys).sorted()
        #expect(
            missing.isEmpty,
            Comment(
                rawValue: "README names \(missing), which flagHomes in DocumentedFlagsTests.swift does not cover: "
                    + "add each with the command that takes it"))
        let stale = Set(Self.flagHomes.keys).subtracting(named.keys).sorted()
        #expect(stale.isEmpty, "flagHomes lists \(stale), which README no longer names")
    }

    @Test func everyDocumentedFlagIsListedByItsCommandsHelp() async throws {
        let named = try Docs.flagLines()
        for (flag, homes) in Self.flagHomes.sorted(by: { $0.key < $1.key }) {
            for home in homes {
                switch home {
                case .command(let command):
                    let options = try await Help.options(of: command)
                    let lookalikes = options.keys.filter { $0 != flag && Help.sameLetters($0, flag) }.sorted()
                    #expect(
                        options[flag] != nil,
                        Comment(
                            rawValue: "README documents \(flag) for `policyhub \(command)`, but `policyhub \(command) "
                                + "--help` does not list it"
                                + (lookalikes.isEmpty ? "" : "; it lists \(lookalikes.joined(separator: ", ")) instead")
                        ))
                case .tool(let tool):
                    for line in named[flag] ?? [] {
                        let afterTool = line.range(of: tool + " ").map { line[$0.upperBound...] } ?? ""
                        #expect(afterTool.contains(flag), "README shows \(flag) outside a `\(tool)` command: \(line)")
                    }
                case .fetchOutput:
                    let help = try await Help.text(of: "fetch")
                    #expect(help.contains(flag + " "), "`policyhub fetch --help` does not say it prints \(flag)")
                }
            }
        }
    }

    @Test func noFlagOfTheBinaryIsUndocumentedBeyondTheKnownOnes() async throws {
        let commands = try await Help.commands()
        #expect(Set(Self.knownUndocumented.keys).isSubset(of: commands), "knownUndocumented names no command")
        for command in commands {
            let listed = Set(try await Help.options(of: command).keys).subtracting(["--help"])
            let documented = Set(Self.flagHomes.filter { $0.value.contains(.command(command)) }.keys)
            let undocumented = listed.subtracting(documented)
            let known = Self.knownUndocumented[command, default: []]
            #expect(
                undocumented.subtracting(known).isEmpty,
                Comment(
                    rawValue: "`policyhub \(command) --help` lists \(undocumented.subtracting(known).sorted()), which "
                        + "README does not document"))
            #expect(
                known.subtracting(undocumented).isEmpty,
                Comment(
                    rawValue: "knownUndocumented lists \(known.subtracting(undocumented).sorted()) for `policyhub "
                        + "\(command)`, which README documents now or the binary no longer takes: remove them"))
        }
    }

    @Test func everyVariableREADMEOrAHelpNamesHasAHome() async throws {
        var named = Docs.variables(in: try Docs.readme())
        for command in try await Help.commands() {
            named.formUnion(Docs.variables(in: try await Help.text(of: command)))
        }
        let missing = named.subtracting(Self.variableHomes.keys).sorted()
        #expect(
            missing.isEmpty,
            "README or a --help names \(missing), which variableHomes in DocumentedFlagsTests.swift does not cover")
        let stale = Set(Self.variableHomes.keys).subtracting(named).sorted()
        #expect(stale.isEmpty, "variableHomes lists \(stale), which neither README nor any --help names")
    }

    @Test func everyVariableIsNamedInTheHelpOfItsFlag() async throws {
        for (variable, home) in Self.variableHomes.sorted(by: { $0.key < $1.key }) {
            switch home {
            case .option(let command, let flag):
                let entry = try await Help.options(of: command)[flag]
                #expect(entry != nil, "`policyhub \(command) --help` does not list \(flag), which \(variable) sets")
                #expect(
                    entry?.contains("env \(variable)") != false,
                    "`policyhub \(command) --help` does not say `env \(variable)` for \(flag): \(entry ?? "")")
            case .testSuite:
                #expect(
                    try Docs.testSources().contains { $0.contains("\"\(variable)\"") },
                    "README says the tests read \(variable); no file under Tests/ does")
            }
        }
    }

    /// README: "Every flag can also be set through an environment variable", spelled like the flag.
    @Test func everyServeFlagHasAVariableSpelledLikeIt() async throws {
        for command in try await Help.commands() {
            for (flag, entry) in try await Help.options(of: command).sorted(by: { $0.key < $1.key })
            where flag != "--help" {
                let named = Docs.variables(in: entry)
                if command == "serve" {
                    #expect(!named.isEmpty, "`policyhub serve --help` names no environment variable for \(flag)")
                }
                for variable in named {
                    #expect(
                        variable == Self.variable(for: flag),
                        Comment(
                            rawValue: "`policyhub \(command) --help` gives \(flag) the variable \(variable): flag and "
                                + "variable are spelled differently"))
                }
            }
        }
    }

    // MARK: - Each documented setting takes effect

    /// Every variable of an option has a case below that sets it, through that option's flag too.
    @Test func everyDocumentedVariableHasABehaviourCase() {
        var exercised: [String: VariableHome] = [:]
        for setting in Self.behaviours.flatMap(\.settings) {
            exercised[setting.variable] = .option(command: "serve", flag: setting.flag)
        }
        for (variable, flag) in Self.fetchSettings { exercised[variable] = .option(command: "fetch", flag: flag) }
        for (variable, home) in Self.variableHomes.sorted(by: { $0.key < $1.key }) {
            guard case .option = home else { continue }
            #expect(exercised[variable] == home, "no behaviour case sets \(variable) as \(home)")
        }
        let unknown = Set(exercised.keys).subtracting(Self.variableHomes.keys).sorted()
        #expect(unknown.isEmpty, "the behaviour cases set \(unknown), which variableHomes does not list")
    }

    @Test(arguments: DocumentedFlagsTests.behaviours, Channel.allCases)
    func theSettingChangesWhatREADMESays(_ behaviour: Behaviour, via channel: Channel) async throws {
        try await Self.withServe(behaviour, via: channel) { server, scratch in
            try await behaviour.check(server, scratch)
        }
    }

    /// What `fetchTakesItsServerAndToken` sets, by variable.
    static let fetchSettings = ["POLICYHUB_SERVER": "--server", "POLICYHUB_TOKEN": "--token"]

    /// `POLICYHUB_SERVER` and `POLICYHUB_TOKEN`, or `--server` and `--token`, are where fetch goes and what it sends.
    @Test(arguments: Channel.allCases)
    func fetchTakesItsServerAndToken(via channel: Channel) async throws {
        try await Self.withServe(Behaviour("plain", []) { _, _ in }, via: channel) { server, scratch in
            func fetch(token: String) async throws -> (status: Int32, stdout: String, stderr: String) {
                let url = "http://127.0.0.1:\(scratch.port)"
                var arguments = ["fetch", "--stack", "default/web/dev", "--dest", scratch.path("packs")]
                // Blank values count as unset, so nothing in the test's own environment can stand in for the flags.
                var environment = ["POLICYHUB_SERVER": "", "POLICYHUB_TOKEN": ""]
                switch channel {
                case .flag: arguments += ["--server", url, "--token", token]
                case .environment: environment = ["POLICYHUB_SERVER": url, "POLICYHUB_TOKEN": token]
                }
                return try await PolicyHubBinary.run(arguments, environment: environment)
            }
            let fetched = try await fetch(token: try scratch.adminToken())
            #expect(fetched.status == 0, "\(fetched.stderr)")
            #expect(fetched.stderr == "")
            // The token given is the one sent: another is refused by this server.
            let refused = try await fetch(token: "pul-" + String(repeating: "0", count: 40))
            #expect(refused.status != 0)
            #expect(refused.stderr.hasPrefix("error: "), "\(refused.stderr)")
            #expect(!refused.stderr.contains("no server") && !refused.stderr.contains("no token"))
        }
    }

    // MARK: - The behaviour table

    /// Flag and environment variable: the two ways of giving a setting.
    enum Channel: String, CaseIterable, Sendable, CustomTestStringConvertible {
        case flag
        case environment

        var testDescription: String { rawValue }
    }

    /// One documented setting: the flag and the variable for it, and its value in a run.
    struct Setting: Sendable {
        let flag: String
        let variable: String
        /// A flag without a value (`--rate-limit-loopback`); its variable is set to `true`.
        let isSwitch: Bool
        let value: @Sendable (Scratch) -> String

        init(_ flag: String, _ value: @escaping @Sendable (Scratch) -> String) {
            self.flag = flag
            self.variable = DocumentedFlagsTests.variable(for: flag)
            self.isSwitch = false
            self.value = value
        }

        init(_ flag: String, _ value: String) { self.init(flag) { _ in value } }

        init(switch flag: String) {
            self.flag = flag
            self.variable = DocumentedFlagsTests.variable(for: flag)
            self.isSwitch = true
            self.value = { _ in "true" }
        }
    }

    /// A server started with some settings, and what a user would see of them.
    struct Behaviour: Sendable, CustomTestStringConvertible {
        let name: String
        let settings: [Setting]
        /// Where the server is reached: 127.0.0.1 unless the case moves it.
        let host: String
        /// False for a value serve must refuse: then `check` runs after it has exited.
        let starts: Bool
        let check: @Sendable (Launched, Scratch) async throws -> Void

        init(
            _ name: String, _ settings: [Setting], host: String = "127.0.0.1", starts: Bool = true,
            check: @escaping @Sendable (Launched, Scratch) async throws -> Void
        ) {
            self.name = name
            self.settings = settings
            self.host = host
            self.starts = starts
            self.check = check
        }

        var testDescription: String { settings.map(\.variable).joined(separator: " + ") + ": " + name }
    }

    static let behaviours: [Behaviour] = [
        Behaviour("it listens on that port", [Setting("--port") { "\($0.port)" }]) { server, scratch in
            // The launch waited for /readyz on that port; the printed login names it too.
            #expect(server.output.contains("pulumi login http://127.0.0.1:\(scratch.port)\n"), "\(server.output)")
        },
        Behaviour("it listens on that address only", [Setting("--host", "127.0.0.2")], host: "127.0.0.2") {
            server, scratch in
            #expect(server.output.contains("pulumi login http://127.0.0.2:\(scratch.port)\n"), "\(server.output)")
            #expect(throws: (any Error).self, "the server answers on 127.0.0.1 too") {
                _ = try RawConnection(port: scratch.port)
            }
        },
        Behaviour("the database, archives and initial token are there", [Setting("--data-dir") { $0.dataDir.path }]) {
            server, scratch in
            for name in ["policyhub.sqlite", "blobs", "initial-admin-token"] {
                #expect(scratch.exists("data/\(name)"), "no \(name) in the data directory")
            }
            #expect(!scratch.exists(".policyhub"), "the default ./.policyhub was used")
            let token = try scratch.adminToken()
            #expect(server.output.contains(token))
        },
        Behaviour(
            "the printed login and upload links use it", [Setting("--public-url", "http://policyhub.example.test:9999")]
        ) { server, scratch in
            #expect(server.output.contains("pulumi login http://policyhub.example.test:9999\n"), "\(server.output)")
            let created = try await server.create("p", tag: "1.0.0", token: try scratch.adminToken())
            let uploadURI = created.json["uploadURI"]?.stringValue ?? ""
            #expect(uploadURI.hasPrefix("http://policyhub.example.test:9999/api/uploads/"), "\(created.text)")
        },
        Behaviour(
            "sqlite:PATH puts the metadata there",
            [Setting("--database-url") { "sqlite:" + $0.path("metadata.sqlite") }]
        ) { server, scratch in
            #expect(scratch.exists("metadata.sqlite"))
            #expect(!scratch.exists("data/policyhub.sqlite"), "the default database file was used")
        },
        Behaviour("a directory receives the archives", [Setting("--blob-store-url") { $0.path("archives") }]) {
            server, scratch in
            let token = try scratch.adminToken()
            try await server.withAPI { api in _ = try await api.publish("default", "p", tag: "1.0.0", token: token) }
            #expect(scratch.archives(under: "archives").count == 1)
            #expect(scratch.archives(under: "data/blobs").isEmpty, "the archive went to <data-dir>/blobs")
        },
        Behaviour("upload links expire after that many seconds", [Setting("--upload-url-ttl", "1")]) {
            server, scratch in
            let start = Int64(Date().timeIntervalSince1970)
            let created = try await server.create("p", tag: "1.0.0", token: try scratch.adminToken())
            let end = Int64(Date().timeIntervalSince1970)
            let uploadURI = try #require(created.json["uploadURI"]?.stringValue, "\(created.text)")
            let expires = try #require(DocumentedFlagsTests.expiry(ofUploadLink: uploadURI), "\(uploadURI)")
            // Created between `start` and `end`, whole seconds rounded down.
            #expect((start + 1...end + 1).contains(expires), "the link expires \(expires - end) s after its creation")
            // Once it has expired the upload is refused, as a slow CLI would see.
            while Date().timeIntervalSince1970 < Double(min(expires, end + 1)) + 0.05 {
                try await Task.sleep(for: .milliseconds(50))
            }
            let uploaded = try await server.withAPI { api in try await api.upload(uploadURI, Fixtures.packArchive()) }
            #expect(uploaded.status == .forbidden, "\(uploaded.text)")
            #expect(uploaded.message?.contains("expired") == true, "\(uploaded.text)")
        },
        Behaviour("a larger archive gets 413", [Setting("--max-archive-bytes", "64")]) { server, scratch in
            let archive = Fixtures.packArchive()
            try #require(archive.count > 64)
            let created = try await server.create("p", tag: "1.0.0", token: try scratch.adminToken())
            let uploadURI = try #require(created.json["uploadURI"]?.stringValue, "\(created.text)")
            let uploaded = try await server.withAPI { api in try await api.upload(uploadURI, archive) }
            #expect(uploaded.status == .contentTooLarge, "\(uploaded.text)")
            #expect(uploaded.message?.contains("limit of 64 bytes") == true, "\(uploaded.text)")
        },
        Behaviour("a larger JSON body gets 413", [Setting("--max-json-body-bytes", "600")]) { server, scratch in
            let token = try scratch.adminToken()
            let small = Fixtures.createBody("small", tag: "1.0.0")
            try #require(try small.encoded().utf8.count < 600)
            #expect(try await server.create(body: small, token: token).status == .created)
            var large = small.objectValue ?? [:]
            large["readme"] = .string(String(repeating: "x", count: 1000))
            let refused = try await server.create(body: .object(large), token: token)
            #expect(refused.status == .contentTooLarge, "\(refused.text)")
            #expect(refused.message?.contains("limit of 600 bytes") == true, "\(refused.text)")
        },
        Behaviour("a larger policy results report gets 413", [Setting("--max-results-body-bytes", "600")]) {
            server, scratch in
            let token = try scratch.adminToken()
            @Sendable func report(_ message: String) -> JSONValue {
                [
                    "results": [
                        "succeeded": false,
                        "violations": [
                            [
                                "message": .string(message), "policyName": "rule", "policyPackName": "p",
                                "policyPackVersion": "1.0.0", "enforcementLevel": "mandatory",
                            ]
                        ],
                    ]
                ]
            }
            let path = "/api/preview/insights/default/policy/stacks/web/prod/updates/1/results"
            let small = try await server.withAPI { api in
                try await api.send(.put, path, token: token, json: report("x"))
            }
            #expect(small.status == .ok, "\(small.text)")
            let large = try await server.withAPI { api in
                try await api.send(.put, path, token: token, json: report(String(repeating: "x", count: 700)))
            }
            #expect(large.status == .contentTooLarge, "\(large.text)")
            #expect(large.message?.contains("limit of 600 bytes") == true, "\(large.text)")
        },
        Behaviour("a stack whose report is older shows as drifted", [Setting("--results-stale-after", "2")]) {
            server, scratch in
            let token = try scratch.adminToken()
            let path = "/api/preview/insights/default/policy/stacks/web/prod/updates/1/results"
            let body: JSONValue = ["results": ["succeeded": true, "violations": []]]
            let reportedAt = Date()
            let reported = try await server.withAPI { api in try await api.send(.put, path, token: token, json: body) }
            #expect(reported.status == .ok, "\(reported.text)")
            func drift() async throws -> [String] {
                let answer = try await server.withAPI { api in
                    try await api.send(.post, "/api/orgs/default/policyresults/compliance", token: token, json: [:])
                }
                let row = answer.json["rows"]?.arrayValue?.first { $0["entityName"]?.stringValue == "web/prod" }
                return (row?["drift"]?.arrayValue ?? []).compactMap { $0["kind"]?.stringValue }
            }
            let fresh = try await drift()
            // A loaded machine may take longer than the setting to answer; only a prompt answer can show "fresh".
            if Date().timeIntervalSince(reportedAt) < 1.5 { #expect(fresh == []) }
            try await Task.sleep(for: .seconds(max(0.1, 2.5 - Date().timeIntervalSince(reportedAt))))
            #expect(try await drift() == ["stale"])
        },
        Behaviour("a pack with more policies gets 400", [Setting("--max-policies", "2")]) { server, scratch in
            let token = try scratch.adminToken()
            func body(_ count: Int) -> JSONValue {
                Fixtures.createBody("p\(count)", tag: "1.0.0", policies: (0..<count).map { Fixtures.policy("r\($0)") })
            }
            #expect(try await server.create(body: body(2), token: token).status == .created)
            let refused = try await server.create(body: body(3), token: token)
            #expect(refused.status == .badRequest, "\(refused.text)")
            #expect(refused.message?.contains("more than the limit of 2") == true, "\(refused.text)")
        },
        Behaviour("a longer text field gets 400", [Setting("--max-field-length", "37")]) { server, scratch in
            let token = try scratch.adminToken()
            func body(_ length: Int) -> JSONValue {
                var members = Fixtures.createBody("p\(length)", tag: "1.0.0").objectValue ?? [:]
                members["description"] = .string(String(repeating: "d", count: length))
                return .object(members)
            }
            #expect(try await server.create(body: body(37), token: token).status == .created)
            let refused = try await server.create(body: body(38), token: token)
            #expect(refused.status == .badRequest, "\(refused.text)")
            #expect(refused.message?.contains("longer than 37 characters") == true, "\(refused.text)")
        },
        Behaviour("an archive with more entries is refused", [Setting("--max-archive-entries", "2")]) {
            server, scratch in
            // package/, package/PulumiPolicy.yaml and package/index.js: three entries.
            let completed = try await server.uploadAndComplete(Fixtures.packArchive(), token: scratch.adminToken())
            #expect(completed.status == .badRequest, "\(completed.text)")
            #expect(completed.message?.contains("more than 2 entries") == true, "\(completed.text)")
        },
        Behaviour("an archive unpacking to more bytes is refused", [Setting("--max-unpacked-bytes", "20")]) {
            server, scratch in
            // PulumiPolicy.yaml and index.js hold 40 bytes.
            let completed = try await server.uploadAndComplete(Fixtures.packArchive(), token: scratch.adminToken())
            #expect(completed.status == .badRequest, "\(completed.text)")
            #expect(completed.message?.contains("unpacks to more than 20 bytes") == true, "\(completed.text)")
        },
        Behaviour("a silent connection is closed after that many seconds", [Setting("--idle-timeout", "1")]) {
            _, scratch in
            let outcome = try await SlowClientTests.send("", trickling: "", to: scratch.port, giveUpAfter: .seconds(6))
            #expect(outcome.closed, "a silent connection was still open after 6 s")
            #expect(outcome.elapsed >= .milliseconds(900), "closed after \(outcome.elapsed)")
            #expect(outcome.answer.isEmpty)
        },
        Behaviour("a trickled request gets 408 after that many seconds", [Setting("--read-timeout", "1")]) {
            _, scratch in
            let body = try Fixtures.createBody("slow", tag: "1.0.0").encoded()
            let outcome = try await SlowClientTests.send(
                SlowClientTests.createRequest(token: try scratch.adminToken(), body: body), trickling: body,
                to: scratch.port, giveUpAfter: .seconds(6))
            #expect(outcome.answer.hasPrefix("HTTP/1.1 408"), "\(outcome.answer)")
            #expect(outcome.closed)
            #expect(outcome.elapsed >= .milliseconds(900), "answered after \(outcome.elapsed)")
        },
        Behaviour(
            "a token past its limit gets 429, loopback included",
            [Setting("--rate-limit", "2"), Setting(switch: "--rate-limit-loopback")]
        ) { server, scratch in
            let token = try scratch.adminToken()
            let responses = try await server.withAPI { api in
                var responses: [APIResponse] = []
                for _ in 0..<3 { responses.append(try await api.send(.get, "/api/user", token: token)) }
                return responses
            }
            #expect(responses.map(\.status.code) == [200, 200, 429])
            #expect(responses.last?.headers[.retryAfter] != nil)
        },
        Behaviour("without the loopback switch, loopback clients are exempt", [Setting("--rate-limit", "2")]) {
            server, scratch in
            let token = try scratch.adminToken()
            let statuses = try await server.withAPI { api in
                var statuses: [Int] = []
                for _ in 0..<4 { statuses.append(try await api.send(.get, "/api/user", token: token).status.code) }
                return statuses
            }
            #expect(statuses == [200, 200, 200, 200])
        },
        Behaviour(
            "an address past its anonymous limit gets 429",
            [Setting("--anonymous-rate-limit", "2"), Setting(switch: "--rate-limit-loopback")]
        ) { server, _ in
            let statuses = try await server.withAPI { api in
                var statuses: [Int] = []
                for _ in 0..<3 {
                    let list = try await api.send(.get, "/api/registry/policypacks?orgLogin=default", token: nil)
                    statuses.append(list.status.code)
                }
                return statuses
            }
            #expect(statuses == [200, 200, 429])
        },
        Behaviour("warning hides the info lines", [Setting("--log-level", "warning")]) { server, scratch in
            // Creating a version logs at info too.
            _ = try await server.create("p", tag: "1.0.0", token: try scratch.adminToken())
            #expect(!server.log.contains("PolicyHub is listening"), "\(server.log)")
            #expect(!server.log.contains(" info "), "\(server.log)")
        },
        Behaviour("debug shows debug lines", [Setting("--log-level", "debug")]) { server, _ in
            #expect(server.log.contains(" debug "), "\(server.log)")
        },
        // The pool's size is not visible from outside with SQLite (with PostgreSQL it would be, in
        // pg_stat_activity); that the setting is read shows in serve refusing a pool of none.
        Behaviour("a pool of 0 connections is refused", [Setting("--database-pool-size", "0")], starts: false) {
            server, _ in
            #expect(server.process.terminationStatus != 0)
            #expect(server.log.contains("--database-pool-size must be"), "\(server.log)")
        },
        Behaviour(
            "an abandoned pending version is swept",
            [Setting("--gc-interval", "1"), Setting("--pending-ttl", "1")]
        ) { server, scratch in
            let token = try scratch.adminToken()
            #expect(try await server.create("p", tag: "1.0.0", token: token).status == .created)
            // Until the sweep, completing says the archive is missing; after it, the version is gone.
            let deadline = ContinuousClock.now + .seconds(6)
            var status = HTTPResponse.Status.badRequest
            while status != .notFound && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(200))
                status = try await server.withAPI { api in
                    try await api.send(.post, "/api/orgs/default/policypacks/p/versions/1.0.0/complete", token: token)
                }.status
            }
            #expect(status == .notFound, "the pending version was still there after 6 s")
        },
    ]

    /// The expiry (Unix seconds) a signed upload link carries: `base64url(grant JSON).mac`, `e` in the grant.
    static func expiry(ofUploadLink link: String) -> Int64? {
        guard let token = link.components(separatedBy: "/api/uploads/").last,
            let payload = token.split(separator: ".").first, let data = Data(base64URLEncoded: String(payload)),
            case .int(let expires)? = (try? JSONValue(jsonText: String(decoding: data, as: UTF8.self)))?["e"]
        else { return nil }
        return expires
    }

    // MARK: - Running serve as a case gives it

    /// At most this many servers of this suite run at once: the machine may have only two cores.
    static let slots = Slots(6)

    /// Starts `policyhub serve` with the behaviour's settings given through `channel`, and only those: no other
    /// POLICYHUB_ variable, `--data-dir` and `--port` as flags unless the behaviour sets them, in a scratch working
    /// directory (where the default `./.policyhub` would appear). Runs `body` once it is ready (or has exited, for
    /// values it must refuse), then stops it and removes everything.
    static func withServe(
        _ behaviour: Behaviour, via channel: Channel,
        _ body: @Sendable (Launched, Scratch) async throws -> Void
    ) async throws {
        try await slots.withSlot {
            let scratch = try Scratch()
            defer { scratch.remove() }
            var arguments: [String] = []
            var environment: [String: String] = [:]
            let flags = Set(behaviour.settings.map(\.flag))
            if !flags.contains("--data-dir") { arguments += ["--data-dir", scratch.dataDir.path] }
            if !flags.contains("--port") { arguments += ["--port", String(scratch.port)] }
            for setting in behaviour.settings {
                switch channel {
                case .flag: arguments += setting.isSwitch ? [setting.flag] : [setting.flag, setting.value(scratch)]
                case .environment: environment[setting.variable] = setting.value(scratch)
                }
            }
            let server = try Launched(
                arguments: arguments, environment: environment, in: scratch.directory, host: behaviour.host,
                port: scratch.port)
            do {
                if behaviour.starts {
                    try await server.waitUntilReady()
                } else {
                    try await server.waitForExit()
                }
                try await body(server, scratch)
            } catch {
                await server.stop()
                throw error
            }
            await server.stop()
        }
    }

    /// A directory and a free port of a case's own.
    struct Scratch: Sendable {
        let directory: URL
        let port: Int

        init() throws {
            directory = FileManager.default.temporaryDirectory.appendingPathComponent(
                "policyhub-docs-\(UUID().uuidString)", isDirectory: true)
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            port = try PolicyHubBinary.freePort()
        }

        var dataDir: URL { directory.appendingPathComponent("data", isDirectory: true) }

        func path(_ relative: String) -> String { directory.appendingPathComponent(relative).path }

        func exists(_ relative: String) -> Bool { FileManager.default.fileExists(atPath: path(relative)) }

        func adminToken() throws -> String {
            try String(contentsOfFile: path("data/initial-admin-token"), encoding: .utf8)
                .trimmingCharacters(in: .whitespacesAndNewlines)
        }

        /// The `.tgz` files below `relative`, outside the incoming area.
        func archives(under relative: String) -> [String] {
            let enumerator = FileManager.default.enumerator(atPath: path(relative))
            var files: [String] = []
            while let file = enumerator?.nextObject() as? String {
                if file.hasSuffix(".tgz") && !file.hasPrefix(".incoming") { files.append(file) }
            }
            return files
        }

        func remove() { try? FileManager.default.removeItem(at: directory) }
    }

    /// `policyhub serve` in the background with exactly the given arguments, its output in files.
    // Process is thread-safe for what is used here (isRunning, terminate, terminationStatus).
    final class Launched: @unchecked Sendable {
        let process = Process()
        let host: String
        let port: Int
        private let outputFile: URL
        private let logFile: URL

        init(arguments: [String], environment: [String: String], in directory: URL, host: String, port: Int) throws {
            self.host = host
            self.port = port
            outputFile = directory.appendingPathComponent("serve.out")
            logFile = directory.appendingPathComponent("serve.err")
            for file in [outputFile, logFile] { _ = FileManager.default.createFile(atPath: file.path, contents: nil) }
            process.executableURL = PolicyHubBinary.url
            process.arguments = ["serve"] + arguments
            process.currentDirectoryURL = directory
            process.environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("POLICYHUB_") }
                .merging(environment) { _, new in new }
            process.standardOutput = try FileHandle(forWritingTo: outputFile)
            process.standardError = try FileHandle(forWritingTo: logFile)
            try process.run()
        }

        var output: String { (try? String(contentsOf: outputFile, encoding: .utf8)) ?? "" }
        var log: String { (try? String(contentsOf: logFile, encoding: .utf8)) ?? "" }

        func waitUntilReady(timeout: Duration = .seconds(30)) async throws {
            try await PolicyHubBinary.waitUntilReady(
                process, host: host, port: port, path: "/readyz", timeout: timeout, output: { self.output + self.log })
        }

        func waitForExit(timeout: Duration = .seconds(10)) async throws {
            let deadline = ContinuousClock.now + timeout
            while process.isRunning && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
            guard !process.isRunning else { throw TestFailure("policyhub \(process.arguments ?? []) kept running") }
        }

        func withAPI<T: Sendable>(_ body: @escaping @Sendable (APIClient) async throws -> T) async throws -> T {
            try await TestClient.withClient(host: host, port: port) { client in
                try await body(APIClient(client: client))
            }
        }

        func create(body: JSONValue, token: String) async throws -> APIResponse {
            try await withAPI { api in
                try await api.send(.post, "/api/orgs/default/policypacks", token: token, json: body)
            }
        }

        func create(_ name: String, tag: String, token: String) async throws -> APIResponse {
            try await create(body: Fixtures.createBody(name, tag: tag), token: token)
        }

        /// Creates `p` 1.0.0, uploads `archive` (which must be accepted) and answers the complete.
        func uploadAndComplete(_ archive: [UInt8], token: String) async throws -> APIResponse {
            let created = try await create("p", tag: "1.0.0", token: token)
            let uploadURI = try #require(created.json["uploadURI"]?.stringValue, "\(created.text)")
            return try await withAPI { api in
                let uploaded = try await api.upload(uploadURI, archive)
                #expect(uploaded.status == .ok, "\(uploaded.text)")
                return try await api.send(
                    .post, "/api/orgs/default/policypacks/p/versions/1.0.0/complete", token: token)
            }
        }

        /// SIGTERM, and SIGKILL if it does not exit within 10 s.
        func stop() async {
            if process.isRunning { process.terminate() }
            let deadline = ContinuousClock.now + .seconds(10)
            while process.isRunning && ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(20)) }
            if process.isRunning {
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
            }
        }
    }

    /// A counting semaphore for async code.
    actor Slots {
        private var free: Int
        private var waiting: [CheckedContinuation<Void, Never>] = []

        init(_ count: Int) { free = count }

        /// `body` runs off the actor, which is held only to count.
        nonisolated func withSlot<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T {
            await take()
            do {
                let result = try await body()
                await give()
                return result
            } catch {
                await give()
                throw error
            }
        }

        private func take() async {
            if free > 0 {
                free -= 1
                return
            }
            await withCheckedContinuation { waiting.append($0) }
        }

        private func give() {
            if waiting.isEmpty { free += 1 } else { waiting.removeFirst().resume() }
        }
    }
}

// MARK: - Reading README and the binary's help

extension DocumentedFlagsTests {
    enum Docs {
        static let thisFile = URL(fileURLWithPath: #filePath)
        static let repository = thisFile.deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()

        static func readme() throws -> String {
            try String(contentsOf: repository.appendingPathComponent("README.md"), encoding: .utf8)
        }

        /// Every `--flag` README names, with the lines that name it.
        static func flagLines() throws -> [String: [String]] {
            var lines: [String: [String]] = [:]
            for line in try readme().split(separator: "\n") {
                for match in line.matches(of: #/(?:^|[^A-Za-z0-9_-])(--[a-z][a-z0-9]*(?:-[a-z0-9]+)*)/#) {
                    lines[String(match.output.1), default: []].append(String(line))
                }
            }
            return lines
        }

        /// The Swift sources under Tests/ but this file.
        static func testSources() throws -> [String] {
            let tests = repository.appendingPathComponent("Tests")
            let enumerator = FileManager.default.enumerator(atPath: tests.path)
            var sources: [String] = []
            while let path = enumerator?.nextObject() as? String {
                let file = tests.appendingPathComponent(path)
                guard path.hasSuffix(".swift"), file.standardized.path != thisFile.standardized.path else { continue }
                sources.append(try String(contentsOf: file, encoding: .utf8))
            }
            return sources
        }

        static func variables(in text: String) -> Set<String> {
            Set(text.matches(of: #/POLICYHUB_[A-Z0-9_]*[A-Z0-9]/#).map { String($0.output) })
        }
    }

    enum Help {
        private static let cache = Mutex<[String: String]>([:])

        /// `policyhub COMMAND --help`; "" is the top level.
        static func text(of command: String) async throws -> String {
            if let cached = cache.withLock({ $0[command] }) { return cached }
            let arguments = command.split(separator: " ").map(String.init) + ["--help"]
            let result = try await PolicyHubBinary.run(arguments)
            guard result.status == 0 else { throw TestFailure("policyhub \(arguments) failed: \(result.stderr)") }
            cache.withLock { $0[command] = result.stdout }
            return result.stdout
        }

        /// Every command that runs something, found through the SUBCOMMANDS sections: "serve", "admin gc", ...
        static func commands() async throws -> [String] {
            var leaves: [String] = []
            var pending = [""]
            while let command = pending.popLast() {
                // The names, up to the blank line before "See 'policyhub help <subcommand>'".
                let listing = section("SUBCOMMANDS", of: try await text(of: command)).prefix { !$0.isEmpty }
                let subcommands = listing.compactMap { line in
                    line.hasPrefix("  ") && !line.hasPrefix("   ")
                        ? line.split(separator: " ").first.map(String.init) : nil
                }.filter { $0 != "help" }
                if subcommands.isEmpty {
                    leaves.append(command)
                } else {
                    pending += subcommands.map { command.isEmpty ? $0 : command + " " + $0 }
                }
            }
            return leaves.sorted()
        }

        /// The OPTIONS entries by long name, each entry's text with its line breaks and indentation collapsed.
        static func options(of command: String) async throws -> [String: String] {
            var entries: [String: String] = [:]
            var name: String?
            var entry = ""
            func finish() {
                if let name { entries[name] = entry.split(whereSeparator: \.isWhitespace).joined(separator: " ") }
                name = nil
            }
            for line in section("OPTIONS", of: try await text(of: command)) {
                if let match = line.firstMatch(of: #/^  (?:-[A-Za-z0-9], )?(--[A-Za-z0-9][A-Za-z0-9-]*)/#) {
                    finish()
                    name = String(match.output.1)
                    entry = String(line)
                } else if line.hasPrefix("   ") {
                    entry += " " + line
                } else {
                    finish()
                }
            }
            finish()
            return entries
        }

        /// The lines after `NAME:` up to the next section.
        static func section(_ title: String, of help: String) -> [Substring] {
            let lines = help.split(separator: "\n", omittingEmptySubsequences: false)
            guard let start = lines.firstIndex(of: Substring(title + ":")) else { return [] }
            let rest = lines[(start + 1)...]
            let end = rest.firstIndex { !$0.isEmpty && !$0.hasPrefix(" ") } ?? rest.endIndex
            return Array(rest[..<end])
        }

        /// `--upload-urlttl` and `--upload-url-ttl`: the same letters, hyphenated differently.
        static func sameLetters(_ one: String, _ other: String) -> Bool {
            one.filter { $0 != "-" } == other.filter { $0 != "-" }
        }
    }
}
