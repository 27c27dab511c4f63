import AsyncHTTPClient
import BlobStoreS3
import Crypto
import Foundation
import HTTPTypes
import NIOCore
import NIOHTTP1
import PolicyHubCore
import PolicyHubTestSupport
import Testing

/// Dependencies going away: requests answer 503 promptly, /readyz turns not-ready, and service resumes by itself
/// when the dependency returns. Each test stops a PostgreSQL cluster or radosgw of its own (so other tests keep
/// theirs), started from the same scripts as CI's; they run where `POLICYHUB_TEST_POSTGRES_URL` or
/// `POLICYHUB_TEST_S3_URL` say such services can be started.
@Suite("Outages", .serialized)
struct OutageTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// `detachedWaiting` on a thread of its own (see `OwnThread`): starting a cluster takes seconds.
    static func detached(_ command: String, _ environment: [String: String] = [:]) async throws -> String {
        try await OwnThread.run { try detachedWaiting(command, environment) }
    }

    /// Runs a command line through bash with every descriptor above stderr closed first: the daemons it starts
    /// would otherwise inherit the one Foundation's Process watches, and the command would never seem to end.
    /// It waits on the calling thread, as the clean-up in a `defer` must.
    static func detachedWaiting(_ command: String, _ environment: [String: String]) throws -> String {
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("script-\(UUID().uuidString)")
        let errors = output.appendingPathExtension("err")
        for file in [output, errors] { FileManager.default.createFile(atPath: file.path, contents: nil) }
        defer { for file in [output, errors] { try? FileManager.default.removeItem(at: file) } }
        let closeInherited = "for fd in $(ls /proc/$$/fd); do [ \"$fd\" -gt 2 ] && eval \"exec $fd>&-\"; done"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = ["-c", "\(closeInherited) 2>/dev/null; \(command) > '\(output.path)' 2> '\(errors.path)'"]
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            let said = (try? String(contentsOf: errors, encoding: .utf8)) ?? ""
            throw TestFailure("\(command) failed (status \(process.terminationStatus)): \(said.suffix(2000))")
        }
        return try String(contentsOf: output, encoding: .utf8)
    }

    @discardableResult
    static func script(
        _ name: String, _ environment: [String: String], arguments: [String] = []
    ) async throws -> String {
        try await detached(command(name, arguments), environment)
    }

    /// Stops what a test started, from its `defer`.
    static func stopScript(_ name: String, _ environment: [String: String]) {
        _ = try? detachedWaiting(command(name, []), environment)
    }

    static func command(_ name: String, _ arguments: [String]) -> String {
        ([repository.appendingPathComponent("scripts/\(name)").path] + arguments).joined(separator: " ")
    }

    static func pgctl(_ action: String, _ directory: String, port: String) async throws {
        let binaries = try FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql").sorted()
        let pgctl = "/usr/lib/postgresql/\(binaries.last ?? "15")/bin/pg_ctl"
        let options = "-p \(port) -k \(directory) -c listen_addresses=127.0.0.1 -c fsync=off"
        let mode = action == "stop" ? "-m immediate" : "-l \(directory)/log -o '\(options)'"
        _ = try await detached("cd / && runuser -u postgres -- \(pgctl) -D \(directory)/data -w \(mode) \(action)")
    }

    @Test(.enabled(if: TestStores.postgresURL != nil))
    func aStoppedDatabaseGives503sAndServiceResumesWhenItReturns() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("policyhub-outage-\(UUID())")
        let cluster = "/tmp/policyhub-pg-outage-\(UUID().uuidString.prefix(8))"
        let environment = ["POLICYHUB_PG_PORT": String(try PolicyHubBinary.freePort()), "POLICYHUB_PG_DIR": cluster]
        let exported = try await Self.script("start-postgres.sh", environment)
        defer {
            Self.stopScript("stop-postgres.sh", environment)
            try? FileManager.default.removeItem(at: directory)
        }
        let url = try #require(Self.exports(exported)["POLICYHUB_TEST_POSTGRES_URL"])
        let server = try ServerProcess(dataDir: directory, extraArguments: ["--database-url", url])
        try await server.waitUntilReady()
        let token = try server.initialAdminToken()
        _ = try await server.withClient { api in try await api.publish("default", "guard", tag: "1.0.0", token: token) }

        let port = environment["POLICYHUB_PG_PORT"] ?? ""
        try await Self.pgctl("stop", cluster, port: port)
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

        try await Self.pgctl("start", cluster, port: port)
        let restarted = ContinuousClock.now
        let deadline = restarted + .seconds(30)
        var resumed = false
        while !resumed && ContinuousClock.now < deadline {
            let list = try await server.withClient { api in
                try await api.send(.get, "/api/orgs/default/policypacks", token: token)
            }
            resumed = list.status == .ok && list.json["policyPacks"]?.arrayValue?.count == 1
            if !resumed { try await Task.sleep(for: .milliseconds(250)) }
        }
        #expect(resumed)
        print("database outage: 503 after \(waited); served again \(ContinuousClock.now - restarted) after the restart")
        let readyAgain = try await server.withClient { api in try await api.send(.get, "/readyz", token: nil) }
        #expect(readyAgain.status == .ok)
        #expect(try await server.terminate() == 0)
    }

    /// The `export NAME='value'` lines the start scripts print.
    static func exports(_ output: String) -> [String: String] {
        var values: [String: String] = [:]
        for line in output.split(separator: "\n") where line.hasPrefix("export ") {
            let assignment = line.dropFirst("export ".count)
            guard let equals = assignment.firstIndex(of: "=") else { continue }
            values[String(assignment[..<equals])] = String(assignment[assignment.index(after: equals)...])
                .trimmingCharacters(in: CharacterSet(charactersIn: "'"))
        }
        return values
    }

    @Test(.enabled(if: TestStores.s3URL != nil))
    func aStoppedS3GatewayGives503sAndServiceResumesWhenItReturns() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("policyhub-outage-\(UUID())")
        let environment = ["POLICYHUB_RADOSGW_DIR": "/tmp/policyhub-rgw-outage-\(UUID().uuidString.prefix(8))"]
        let exported = Self.exports(try await Self.script("start-radosgw.sh", environment))
        defer {
            Self.stopScript("stop-radosgw.sh", environment)
            try? FileManager.default.removeItem(at: directory)
        }
        let bucketURL = try #require(exported["POLICYHUB_TEST_S3_URL"])
        let server = try ServerProcess(
            dataDir: directory, extraArguments: ["--blob-store-url", bucketURL],
            environment: exported.filter { $0.key.hasPrefix("AWS_") })
        try await server.waitUntilReady()
        let token = try server.initialAdminToken()
        let base = "http://127.0.0.1:\(server.port)/api/orgs/default/policypacks"
        let client = S3Client.makeHTTPClient()
        defer { _ = client.shutdown() }

        // A version whose archive reached the bucket just before the gateway stops; complete needs the bucket.
        let created = try await client.api(
            .POST, base, token: token, body: Fixtures.createBody("guard", tag: "1.0.0").encoded())
        let uploadURI = try #require(created.json["uploadURI"]?.stringValue)
        let archive = Fixtures.packArchive()
        #expect(try await client.put(uploadURI, archive) == 200)

        try await Self.script("radosgw-gateway.sh", environment, arguments: ["stop"])
        let started = ContinuousClock.now
        let down = try await client.api(.POST, "\(base)/guard/versions/1.0.0/complete", token: token)
        let waited = ContinuousClock.now - started
        #expect(down.status == 503)
        #expect(down.json["code"] == 503)
        #expect(down.json["message"]?.stringValue?.contains("archive storage") == true)
        #expect(waited < .seconds(15), "answered after \(waited)")
        try await server.withClient { api in
            let health = try await api.send(.get, "/healthz", token: nil)
            #expect(health.json["blobStore"] == "unavailable")
            #expect(health.json["database"] == "ok")
            #expect(try await api.send(.get, "/readyz", token: nil).status == .serviceUnavailable)
            // What needs only the database still works, and the half-published version stays invisible.
            let list = try await api.send(.get, "/api/orgs/default/policypacks", token: token)
            #expect(list.status == .ok)
            #expect(list.json["policyPacks"] == [])
        }

        try await Self.script("radosgw-gateway.sh", environment, arguments: ["start"])
        let restarted = ContinuousClock.now
        let deadline = restarted + .seconds(60)
        var completed = try await client.api(.POST, "\(base)/guard/versions/1.0.0/complete", token: token)
        while completed.status != 204 && ContinuousClock.now < deadline {
            #expect(completed.status == 503, "\(completed.json)")
            try await Task.sleep(for: .milliseconds(250))
            completed = try await client.api(.POST, "\(base)/guard/versions/1.0.0/complete", token: token)
        }
        #expect(completed.status == 204, "\(completed.json)")
        print("S3 outage: 503 after \(waited); complete succeeded \(ContinuousClock.now - restarted) after the restart")
        #expect(try await server.withClient { api in try await api.send(.get, "/readyz", token: nil).status } == .ok)
        // The archive that waited out the outage is the one served.
        let root = "http://127.0.0.1:\(server.port)/api"
        _ = try await client.api(
            .PATCH, "\(root)/orgs/default/policygroups/default-policy-group", token: token,
            body: #"{"addPolicyPack": {"name": "guard"}}"#)
        let required = try await client.api(.GET, "\(root)/stacks/default/web/prod/policypacks", token: token)
        let location = try #require(required.json["requiredPolicies"]?.arrayValue?.first?["packLocation"]?.stringValue)
        let download = try await client.execute(HTTPClientRequest(url: location), timeout: .seconds(30))
        #expect(download.status == .ok)
        let bytes = try await download.body.collect(upTo: 10 << 20)
        #expect(SHA256.hash(data: Array(buffer: bytes)) == SHA256.hash(data: archive))
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
        let token = try server.initialAdminToken()
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
