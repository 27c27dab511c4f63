import Foundation
import HTTPTypes
import PolicyHubCore
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `policyhub report` and the reporting of `policyhub fetch --exec`, run as processes: against `policyhub serve`
/// over real HTTP, against a port where nothing listens, and with a stand-in `pulumi` that writes an event log in
/// the format of pulumi/pulumi's `sdk/go/common/apitype/events.go`.
@Suite("policyhub report", .serialized)
struct ReportCommandTests {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
        "policyhub-report-\(UUID().uuidString)", isDirectory: true)
    static let stack = "default/web/dev"
    static let bucket = "urn:pulumi:dev::web::aws:s3/bucket:Bucket::logs"

    var cache: URL { directory.appendingPathComponent("cache", isDirectory: true) }
    var spoolDirectory: URL { cache.appendingPathComponent("reports", isDirectory: true) }

    // MARK: - Event logs

    static func line(_ sequence: Int, _ member: String, _ event: String) -> String {
        #"{"sequence":\#(sequence),"timestamp":1764680000,"\#(member)":\#(event)}"#
    }

    static func violation(_ policy: String, level: String, urn: String? = bucket) -> String {
        let resource = urn.map { #""resourceUrn":"\#($0)","# } ?? ""
        return #"{\#(resource)"message":"\#(policy) failed","color":"never","policyName":"\#(policy)","#
            + #""policyPackName":"guard","policyPackVersion":"1","policyPackVersionTag":"1.0.0","#
            + #""enforcementLevel":"\#(level)"}"#
    }

    /// A preview with an advisory and (when asked) a mandatory violation, and the summaries of what ran.
    static func log(mandatory: Bool) -> String {
        var lines = [
            line(0, "preludeEvent", #"{"config":{}}"#),
            line(1, "policyEvent", violation("tagged", level: "warning")),
        ]
        if mandatory { lines.append(line(2, "policyEvent", violation("no-public-read", level: "mandatory"))) }
        lines += [
            line(
                3, "policyAnalyzeSummaryEvent",
                #"{"resourceUrn":"\#(bucket)","policyPackName":"guard","policyPackVersion":"1","#
                    + #""policyPackVersionTag":"1.0.0","passed":["versioned"],"failed":["tagged"]}"#),
            line(4, "summaryEvent", #"{"maybeCorrupt":false,"durationSeconds":1,"resourceChanges":{}}"#),
        ]
        return lines.joined(separator: "\n") + "\n"
    }

    func writeLog(_ text: String, name: String = "events.jsonl") throws -> URL {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let file = directory.appendingPathComponent(name)
        try Data(text.utf8).write(to: file)
        return file
    }

    func spooled() throws -> [URL] {
        guard FileManager.default.fileExists(atPath: spoolDirectory.path) else { return [] }
        return try FileManager.default.contentsOfDirectory(atPath: spoolDirectory.path).sorted()
            .map { spoolDirectory.appendingPathComponent($0) }
    }

    func report(
        server: String, token: String, log: URL, extra: [String] = []
    ) async throws -> (status: Int32, stdout: String, stderr: String) {
        try await PolicyHubBinary.run(
            [
                "report", "--server", server, "--token", token, "--stack", Self.stack, "--event-log", log.path,
                "--cache-dir", cache.path,
            ] + extra)
    }

    // MARK: - report

    /// A report must never fail a deployment: with the server down it is spooled, and the run exits 0.
    @Test func aServerThatIsDownGetsTheReportSpooled() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let port = try PolicyHubBinary.freePort()
        let token = "pul-" + String(repeating: "1", count: 40)
        let log = try writeLog(Self.log(mandatory: true))
        let result = try await report(
            server: "http://127.0.0.1:\(port)", token: token, log: log,
            extra: ["--update-version", "42", "--pulumi-exit-status", "255"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == "")
        #expect(result.stderr.hasPrefix("warning: cannot reach http://127.0.0.1:\(port): connection refused;"))
        #expect(result.stderr.contains("default/web/dev (update 42)"))

        let files = try spooled()
        #expect(files.count == 1)
        let file = try #require(files.first)
        let text = try String(contentsOf: file, encoding: .utf8)
        #expect(!text.contains(token), "the token is never stored")
        let stored = try JSONValue(jsonText: text)
        #expect(stored["server"] == .string("http://127.0.0.1:\(port)"))
        #expect(stored["organization"] == "default")
        #expect(stored["project"] == "web")
        #expect(stored["stack"] == "dev")
        #expect(stored["updateVersion"] == .int(42))
        let body = try JSONValue(jsonText: try #require(stored["body"]?.stringValue))
        #expect(body["claimId"]?.stringValue?.count == 36)
        #expect(body["results"]?["succeeded"] == .bool(false))
        let violations = try #require(body["results"]?["violations"]?.arrayValue)
        #expect(violations.map { $0["enforcementLevel"] } == ["advisory", "mandatory"])
        #expect(violations.first?["resourceURN"] == .string(Self.bucket))
        #expect(body["results"]?["evaluations"]?.arrayValue?.count == 1)
        #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("events.jsonl.tmp").path))
        #expect(FileManager.default.fileExists(atPath: log.path), "the user's log is left alone")
    }

    @Test func usageErrorsExit64AndAMissingLogExits66() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let log = try writeLog(Self.log(mandatory: false))
        let server = "http://127.0.0.1:1"
        let token = "pul-" + String(repeating: "1", count: 40)
        let blank = ["POLICYHUB_SERVER": "", "POLICYHUB_TOKEN": ""]
        let cases: [([String], String)] = [
            (["--server", server, "--token", token, "--stack", "default/web"], "--stack must be ORG/PROJECT/STACK"),
            (["--token", token, "--stack", Self.stack], "no server"),
            (["--server", server, "--stack", Self.stack], "no token"),
            (["--server", "ftp://x", "--token", token, "--stack", Self.stack], "--server must be an http(s) URL"),
            (
                ["--server", server, "--token", token, "--stack", Self.stack, "--update-version", "0"],
                "--update-version must be a positive number"
            ),
        ]
        for (arguments, message) in cases {
            let result = try await PolicyHubBinary.run(
                ["report", "--event-log", log.path, "--cache-dir", cache.path] + arguments, environment: blank)
            #expect(result.status == 64, "\(arguments): \(result.stderr)")
            #expect(result.stderr.hasPrefix("error: \(message)"), "\(result.stderr)")
        }
        let missing = directory.appendingPathComponent("nothing.jsonl")
        let result = try await report(server: server, token: token, log: missing)
        #expect(result.status == 66, "\(result.stderr)")
        #expect(result.stderr == "error: no event log at \(missing.path)\n")
        #expect(try spooled() == [])
    }

    /// A report lands, and a spooled one is resent by the next run.
    @Test func aReportLandsAndTheNextRunResendsTheSpooledOne() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let port = try PolicyHubBinary.freePort()
        let url = "http://127.0.0.1:\(port)"
        let token = "pul-" + String(repeating: "1", count: 40)
        let first = try writeLog(Self.log(mandatory: true), name: "first.jsonl")
        let down = try await report(server: url, token: token, log: first, extra: ["--update-version", "100"])
        #expect(down.status == 0, "\(down.stderr)")
        #expect(try spooled().count == 1)

        let spooledFile = try #require(try spooled().first)
        let spooledBytes = try Data(contentsOf: spooledFile)

        try await withServer(port: port, applyGuard: true) { server, token in
            let second = try writeLog(Self.log(mandatory: false), name: "second.jsonl")
            let up = try await report(server: url, token: token, log: second, extra: ["--update-version", "200"])
            #expect(up.status == 0, "\(up.stderr)")
            #expect(
                up.stderr
                    == "resent 1 spooled report\nreported 1 violation of 1 policy for default/web/dev (update 200)\n")
            #expect(try spooled() == [])

            // The spooled report was recorded: another report of update 100 is refused as a conflict with it.
            let again = try await report(server: url, token: token, log: second, extra: ["--update-version", "100"])
            #expect(again.status == 0, "\(again.stderr)")
            #expect(again.stderr.hasPrefix("warning: the server refused the report for default/web/dev (update 100)"))
            #expect(again.stderr.hasSuffix("(HTTP 409); it was NOT recorded and is dropped\n"), "\(again.stderr)")
            #expect(try spooled() == [])

            // A resend the server had already recorded (the answer was lost, say) is accepted as done.
            try spooledBytes.write(to: spooledFile)
            let third = try await report(server: url, token: token, log: second, extra: ["--update-version", "300"])
            #expect(third.status == 0, "\(third.stderr)")
            #expect(third.stderr.hasPrefix("resent 1 spooled report\nreported 1 violation"), "\(third.stderr)")
            #expect(try spooled() == [])
        }
    }

    /// A pack PolicyHub does not hold is recorded, and flagged.
    @Test func aReportNamingAnUnpublishedPackIsFlagged() async throws {
        let port = try PolicyHubBinary.freePort()
        try await withServer(port: port, applyGuard: false) { server, token in
            let log = try writeLog(
                Self.line(0, "policyEvent", Self.violation("tagged", level: "advisory"))
                    .replacingOccurrences(of: #""policyPackName":"guard""#, with: #""policyPackName":"elsewhere""#))
            let result = try await report(server: "http://127.0.0.1:\(port)", token: token, log: log)
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stderr.hasPrefix("reported 1 violation of 1 policy for default/web/dev (update "))
            #expect(
                result.stderr.contains("warning: elsewhere@1.0.0 is not published in PolicyHub; recorded but flagged"))
        }
    }

    /// Refused for good (here: an organization that does not exist): said clearly, dropped, still exit 0.
    @Test func aRefusedReportIsDroppedNotSpooled() async throws {
        let port = try PolicyHubBinary.freePort()
        try await withServer(port: port, applyGuard: false) { server, token in
            let log = try writeLog(Self.log(mandatory: false))
            let result = try await PolicyHubBinary.run([
                "report", "--server", "http://127.0.0.1:\(port)", "--token", token, "--stack", "nosuch/web/dev",
                "--event-log", log.path, "--cache-dir", cache.path,
            ])
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stderr.hasPrefix("warning: the server refused the report for nosuch/web/dev (update "))
            #expect(result.stderr.hasSuffix("it was NOT recorded and is dropped\n"))
            #expect(try spooled() == [])
        }
    }

    // MARK: - fetch --exec

    /// What the stand-in pulumi does before exiting.
    enum Ending: String, CaseIterable, Sendable, CustomTestStringConvertible {
        /// An advisory violation only: exit 0.
        case passes
        /// A mandatory violation: pulumi exits 1.
        case failsAMandatoryPolicy
        /// Half an event written, then SIGKILL.
        case isKilled

        var expectedStatus: Int32 {
            switch self {
            case .passes: 0
            case .failsAMandatoryPolicy: 1
            case .isKilled: 128 + 9
            }
        }

        var testDescription: String { rawValue }
    }

    /// A `pulumi` that records its arguments, writes `$EVENTS` to the file after `--event-log` and ends as asked.
    func standInPulumi() throws -> URL {
        let bin = directory.appendingPathComponent("bin", isDirectory: true)
        try FileManager.default.createDirectory(at: bin, withIntermediateDirectories: true)
        let script = bin.appendingPathComponent("pulumi")
        let text = #"""
            #!/bin/sh
            printf '%s\n' "$@" > "$ARGUMENTS_FILE"
            log=""
            while [ $# -gt 0 ]; do
              case "$1" in
                --event-log) log="$2"; shift ;;
                --event-log=*) log="${1#--event-log=}" ;;
              esac
              shift
            done
            [ -n "$log" ] && printf '%s' "$EVENTS" > "$log"
            case "$ENDING" in
              passes) exit 0 ;;
              failsAMandatoryPolicy) exit 1 ;;
              isKilled) printf '%s' '{"sequence":9,"timestamp":1764680000,"policyEvent":{"resourceUrn":"urn:pu' >> "$log"
                kill -9 $$ ;;
              waitsForASignal)
                trap 'echo "got $SIGNAL_NAME" > "$SIGNAL_FILE"; exit 3' "$SIGNAL_NAME"
                : > "$READY_FILE"
                while :; do sleep 0.05; done ;;
            esac
            """#
        try Data(text.utf8).write(to: script)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: script.path)
        return script
    }

    @Test(arguments: Ending.allCases)
    func fetchExecReportsWhatPulumiFoundAndExitsWithItsStatus(_ ending: Ending) async throws {
        let port = try PolicyHubBinary.freePort()
        try await withServer(port: port, applyGuard: true) { server, token in
            let pulumi = try standInPulumi()
            let argumentsFile = directory.appendingPathComponent("arguments")
            let result = try await PolicyHubBinary.run(
                [
                    "fetch", "--server", "http://127.0.0.1:\(port)", "--token", token, "--stack", Self.stack, "--dest",
                    cache.path, "--exec", "--", pulumi.path, "preview", "--diff",
                ],
                environment: [
                    "ARGUMENTS_FILE": argumentsFile.path, "EVENTS": Self.log(mandatory: ending != .passes),
                    "ENDING": ending.rawValue,
                ])
            #expect(result.status == ending.expectedStatus, "\(result.stderr)")
            #expect(result.stdout == "")

            let arguments = try String(contentsOf: argumentsFile, encoding: .utf8).split(separator: "\n").map(
                String.init)
            #expect(Array(arguments.prefix(2)) == ["preview", "--diff"])
            #expect(arguments.dropFirst(2).first == "--policy-pack")
            #expect(arguments.count == 2 + 4 + 2)
            #expect(arguments[arguments.count - 2] == "--event-log", "after the packs' arguments")
            let log = try #require(arguments.last)
            #expect(log.hasPrefix(cache.appendingPathComponent("runs").path + "/events-"))
            #expect(!FileManager.default.fileExists(atPath: log), "our log is removed once reported")
            #expect(try spooled() == [])
            if ending == .isKilled { #expect(result.stderr.contains("ends inside an event")) }

            let violations = ending == .passes ? "1 violation of 1 policy" : "2 violations of 2 policies"
            #expect(result.stderr.contains("reported \(violations) for default/web/dev (update "), "\(result.stderr)")
        }
    }

    /// A command that names its own log keeps it, and gets no second `--event-log`.
    @Test func fetchExecReadsTheCommandsOwnEventLog() async throws {
        let port = try PolicyHubBinary.freePort()
        try await withServer(port: port, applyGuard: true) { server, token in
            let pulumi = try standInPulumi()
            let argumentsFile = directory.appendingPathComponent("arguments")
            let own = directory.appendingPathComponent("mine.jsonl")
            let result = try await PolicyHubBinary.run(
                [
                    "fetch", "--server", "http://127.0.0.1:\(port)", "--token", token, "--stack", Self.stack, "--dest",
                    cache.path, "--exec", "--", pulumi.path, "up", "--event-log=\(own.path)", "--yes",
                ],
                environment: [
                    "ARGUMENTS_FILE": argumentsFile.path, "EVENTS": Self.log(mandatory: true),
                    "ENDING": Ending.failsAMandatoryPolicy.rawValue,
                ])
            #expect(result.status == 1, "\(result.stderr)")
            let arguments = try String(contentsOf: argumentsFile, encoding: .utf8).split(separator: "\n").map(
                String.init)
            #expect(arguments.filter { $0.hasPrefix("--event-log") } == ["--event-log=\(own.path)"])
            #expect(arguments.last?.hasSuffix(".json") == true, "the packs' arguments come last")
            #expect(try String(contentsOf: own, encoding: .utf8) == Self.log(mandatory: true), "the log is kept")
            #expect(result.stderr.contains("for default/web/dev (update "), "\(result.stderr)")
        }
    }

    @Test func fetchExecOfACommandThatCannotStartExits127() async throws {
        let port = try PolicyHubBinary.freePort()
        try await withServer(port: port, applyGuard: true) { server, token in
            let missing = directory.appendingPathComponent("no-such-dir/pulumi").path
            let result = try await PolicyHubBinary.run([
                "fetch", "--server", "http://127.0.0.1:\(port)", "--token", token, "--stack", Self.stack, "--dest",
                cache.path, "--exec", "--", missing, "up",
            ])
            #expect(result.status == 127)
            #expect(result.stderr.hasSuffix("error: cannot run \(missing): No such file or directory\n"))
        }
    }

    /// SIGTERM and SIGINT sent to fetch (by CI cancelling a job, say) reach pulumi, whose status fetch exits with.
    @Test(arguments: ["TERM", "INT"])
    func fetchExecPassesSignalsOn(_ signalName: String) async throws {
        let port = try PolicyHubBinary.freePort()
        try await withServer(port: port, applyGuard: true) { server, token in
            let pulumi = try standInPulumi()
            let ready = directory.appendingPathComponent("ready")
            let received = directory.appendingPathComponent("received")
            let process = Process()
            process.executableURL = PolicyHubBinary.url
            process.arguments = [
                "fetch", "--server", "http://127.0.0.1:\(port)", "--token", token, "--stack", Self.stack, "--dest",
                cache.path, "--exec", "--", pulumi.path, "up",
            ]
            process.environment = ProcessInfo.processInfo.environment.merging([
                "ARGUMENTS_FILE": directory.appendingPathComponent("arguments").path,
                "EVENTS": Self.log(mandatory: false), "ENDING": "waitsForASignal", "SIGNAL_NAME": signalName,
                "SIGNAL_FILE": received.path, "READY_FILE": ready.path,
            ]) { _, new in new }
            let errors = directory.appendingPathComponent("stderr")
            _ = FileManager.default.createFile(atPath: errors.path, contents: nil)
            process.standardError = try FileHandle(forWritingTo: errors)
            try process.run()
            let deadline = ContinuousClock.now + .seconds(60)
            while !FileManager.default.fileExists(atPath: ready.path) && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(FileManager.default.fileExists(atPath: ready.path), "the stand-in pulumi never started")
            kill(process.processIdentifier, signalName == "TERM" ? SIGTERM : SIGINT)
            while process.isRunning && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
            #expect(process.terminationReason == .exit, "fetch itself was not killed by the signal")
            #expect(process.terminationStatus == 3, "\((try? String(contentsOf: errors, encoding: .utf8)) ?? "")")
            #expect(try String(contentsOf: received, encoding: .utf8) == "got \(signalName)\n")
        }
    }

    // MARK: - Helpers

    /// Starts `policyhub serve` on `port`, publishes `guard` 1.0.0 to `default` and, when asked, applies it to the
    /// default policy group.
    func withServer(
        port: Int, applyGuard: Bool, extraArguments: [String] = [],
        _ body: (ServerProcess, String) async throws -> Void
    ) async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let server = try ServerProcess(
            dataDir: directory.appendingPathComponent("data"), port: port, extraArguments: extraArguments)
        do {
            try await server.waitUntilReady()
            let token = try server.initialAdminToken()
            let archive = Fixtures.packArchive(files: [
                "package/PulumiPolicy.yaml": "name: guard\nruntime: nodejs\nversion: 1.0.0\n",
                "package/index.js": "// rules\n",
            ])
            try await server.withClient { api in
                let policies = [
                    Fixtures.policy("tagged", level: "advisory"), Fixtures.policy("no-public-read"),
                    Fixtures.policy("versioned"),
                ]
                try await api.publish(
                    "default", "guard", tag: "1.0.0", token: token, policies: policies, archive: archive)
                guard applyGuard else { return }
                let applied = try await api.send(
                    .patch, "/api/orgs/default/policygroups/default-policy-group", token: token,
                    json: ["addPolicyPack": ["name": "guard", "versionTag": "1.0.0"]])
                guard (200..<300).contains(applied.status.code) else {
                    throw TestFailure("applying the pack failed: \(applied.status) \(applied.text)")
                }
            }
            try await body(server, token)
        } catch {
            _ = try? await server.terminate()
            throw error
        }
        #expect(try await server.terminate() == 0)
    }
}
