import Foundation
import HTTPTypes
import PolicyHubCore
import Testing

/// Dependencies going away: requests answer 503 promptly, /readyz turns not-ready, and service resumes by itself
/// when the dependency returns. Uses a PostgreSQL cluster of its own (so other tests keep theirs), started from
/// the same script as CI's; runs where `POLICYHUB_TEST_POSTGRES_URL` says such clusters can be started.
@Suite("Outages", .serialized)
struct OutageTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// Runs a command line through bash with every descriptor above stderr closed first: the daemons it starts
    /// would otherwise inherit the one Foundation's Process watches, and the command would never seem to end.
    static func detached(_ command: String, _ environment: [String: String] = [:]) throws -> String {
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("script-\(UUID().uuidString)")
        FileManager.default.createFile(atPath: output.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: output) }
        let closeInherited = "for fd in $(ls /proc/$$/fd); do [ \"$fd\" -gt 2 ] && eval \"exec $fd>&-\"; done"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = ["-c", "\(closeInherited) 2>/dev/null; \(command) > '\(output.path)' 2>/dev/null"]
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw TestFailure("\(command) failed") }
        return try String(contentsOf: output, encoding: .utf8)
    }

    static func script(_ name: String, _ environment: [String: String]) throws -> String {
        try detached(repository.appendingPathComponent("scripts/\(name)").path, environment)
    }

    static func pgctl(_ action: String, _ directory: String, port: String) throws {
        let binaries = try FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql").sorted()
        let pgctl = "/usr/lib/postgresql/\(binaries.last ?? "15")/bin/pg_ctl"
        let options = "-p \(port) -k \(directory) -c listen_addresses=127.0.0.1 -c fsync=off"
        let mode = action == "stop" ? "-m immediate" : "-l \(directory)/log -o '\(options)'"
        _ = try detached("cd / && runuser -u postgres -- \(pgctl) -D \(directory)/data -w \(mode) \(action)")
    }

    @Test(.enabled(if: ProcessInfo.processInfo.environment["POLICYHUB_TEST_POSTGRES_URL"] != nil))
    func aStoppedDatabaseGives503sAndServiceResumesWhenItReturns() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("policyhub-outage-\(UUID())")
        let cluster = "/tmp/policyhub-pg-outage-\(UUID().uuidString.prefix(8))"
        let environment = ["POLICYHUB_PG_PORT": String(try PolicyHubBinary.freePort()), "POLICYHUB_PG_DIR": cluster]
        let exported = try Self.script("start-postgres.sh", environment)
        defer {
            _ = try? Self.script("stop-postgres.sh", environment)
            try? FileManager.default.removeItem(at: directory)
        }
        let url = try #require(exported.split(separator: "'").dropFirst().first.map(String.init))
        let server = try ServerProcess(dataDir: directory, extraArguments: ["--database-url", url])
        try await server.waitUntilReady()
        let token = try String(contentsOf: directory.appendingPathComponent("initial-admin-token"), encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        _ = try await server.withClient { api in try await api.publish("default", "guard", tag: "1.0.0", token: token) }

        let port = environment["POLICYHUB_PG_PORT"] ?? ""
        try Self.pgctl("stop", cluster, port: port)
        let started = ContinuousClock.now
        let down = try await server.withClient { api in
            try await api.send(.get, "/api/orgs/default/policypacks", token: token)
        }
        let waited = ContinuousClock.now - started
        #expect(down.status == .serviceUnavailable)
        #expect(down.code == 503)
        #expect(waited < .seconds(15), "answered after \(waited)")
        let health = try await server.withClient { api in try await api.send(.get, "/healthz", token: nil) }
        #expect(health.status == .ok)
        #expect(health.json["database"] == "unavailable")
        #expect(health.json["blobStore"] == "ok")
        let ready = try await server.withClient { api in try await api.send(.get, "/readyz", token: nil) }
        #expect(ready.status == .serviceUnavailable)

        try Self.pgctl("start", cluster, port: port)
        let deadline = ContinuousClock.now + .seconds(30)
        var resumed = false
        while !resumed && ContinuousClock.now < deadline {
            let list = try await server.withClient { api in
                try await api.send(.get, "/api/orgs/default/policypacks", token: token)
            }
            resumed = list.status == .ok && list.json["policyPacks"]?.arrayValue?.count == 1
            if !resumed { try await Task.sleep(for: .milliseconds(250)) }
        }
        #expect(resumed)
        let readyAgain = try await server.withClient { api in try await api.send(.get, "/readyz", token: nil) }
        #expect(readyAgain.status == .ok)
        #expect(try await server.terminate() == 0)
    }

    @Test func anUnreachableArchiveStoreGives503sPromptly() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("policyhub-outage-\(UUID())")
        defer { try? FileManager.default.removeItem(at: directory) }
        let deadPort = try PolicyHubBinary.freePort()
        let server = try ServerProcess(
            dataDir: directory,
            extraArguments: [
                "--blob-store-url",
                "s3://bucket?endpoint=http://127.0.0.1:\(deadPort)&region=us-east-1&path-style=true",
            ],
            environment: ["AWS_ACCESS_KEY_ID": "unused", "AWS_SECRET_ACCESS_KEY": "unused"])
        try await server.waitUntilReady(path: "/healthz")
        let token = try String(contentsOf: directory.appendingPathComponent("initial-admin-token"), encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        try await server.withClient { api in
            _ = try await api.send(
                .post, "/api/orgs/default/policypacks", token: token, json: Fixtures.createBody("guard", tag: "1.0.0"))
            let started = ContinuousClock.now
            let complete = try await api.send(
                .post, "/api/orgs/default/policypacks/guard/versions/1.0.0/complete", token: token)
            #expect(complete.status == .serviceUnavailable)
            #expect(complete.message?.contains("archive storage") == true)
            #expect(ContinuousClock.now - started < .seconds(15))
            let health = try await api.send(.get, "/healthz", token: nil)
            #expect(health.json["blobStore"] == "unavailable")
            #expect(try await api.send(.get, "/readyz", token: nil).status == .serviceUnavailable)
        }
        #expect(try await server.terminate() == 0)
    }
}
