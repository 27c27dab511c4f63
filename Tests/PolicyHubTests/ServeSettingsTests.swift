import Foundation
import HTTPTypes
import PolicyHubCore
import Testing

/// `policyhub serve` refuses settings it cannot honour, before it creates anything, and honours the documented
/// spelling of every flag.
@Suite("Serve settings")
struct ServeSettingsTests {
    /// Runs `serve` with a data directory that must stay uncreated, and returns its exit status and stderr.
    private func refusedServe(
        _ arguments: [String], environment: [String: String] = [:]
    ) async throws -> (Int32, String) {
        let dataDir = FileManager.default.temporaryDirectory.appendingPathComponent("policyhub-refused-\(UUID())")
        defer { try? FileManager.default.removeItem(at: dataDir) }
        // A serve that accepted the setting would run on: after 20 s it is killed and the test fails.
        let result = try await PolicyHubBinary.run(
            ["serve", "--data-dir", dataDir.path] + arguments, environment: environment, timeout: .seconds(20))
        #expect(!FileManager.default.fileExists(atPath: dataDir.path), "serve created \(dataDir.path) before refusing")
        return (result.status, result.stderr)
    }

    @Test(arguments: [
        (["--port", "99999"], "--port must be an integer from 1 to 65535; got '99999'"),
        (["--port", "0"], "--port must be an integer from 1 to 65535; got '0'"),
        (["--upload-url-ttl", "0"], "--upload-url-ttl must be an integer from 1 to 604800"),
        (["--upload-url-ttl", "9999999"], "--upload-url-ttl must be an integer from 1 to 604800"),
        (["--max-archive-bytes", "0"], "--max-archive-bytes must be an integer of at least 1"),
        (["--max-json-body-bytes", "0"], "--max-json-body-bytes must be an integer of at least 1"),
        (["--max-policies", "0"], "--max-policies must be an integer of at least 1"),
        (["--max-field-length", "0"], "--max-field-length must be an integer of at least 1"),
        (["--max-archive-entries", "0"], "--max-archive-entries must be an integer of at least 1"),
        (["--max-unpacked-bytes", "0"], "--max-unpacked-bytes must be an integer of at least 1"),
        (["--idle-timeout", "0"], "--idle-timeout must be an integer of at least 1"),
        (["--read-timeout", "0"], "--read-timeout must be an integer of at least 1"),
        (["--pending-ttl", "0"], "--pending-ttl must be an integer of at least 1"),
        (["--database-pool-size", "0"], "--database-pool-size must be an integer from 1 to 1000"),
        (["--log-level", "loud"], "--log-level must be one of trace, debug, info, notice, warning, error, critical"),
        (["--public-url", "policyhub.example.com"], "--public-url must be an absolute http:// or https:// URL"),
    ])
    func outOfRangeFlagsAreRefusedBeforeAnythingIsCreated(arguments: [String], message: String) async throws {
        let (status, stderr) = try await refusedServe(arguments)
        #expect(status == 64, "\(stderr)")
        #expect(stderr.contains(message), "\(stderr)")
    }

    @Test(arguments: [
        ("POLICYHUB_PORT", "99999", "--port must be an integer from 1 to 65535; got '99999' (from POLICYHUB_PORT)"),
        ("POLICYHUB_PORT", "http", "--port must be an integer from 1 to 65535; got 'http' (from POLICYHUB_PORT)"),
        ("POLICYHUB_UPLOAD_URL_TTL", "-5", "--upload-url-ttl must be an integer from 1 to 604800"),
        ("POLICYHUB_GC_INTERVAL", "-1", "--gc-interval must be an integer of at least 0"),
        ("POLICYHUB_RATE_LIMIT", "lots", "--rate-limit must be an integer of at least 0"),
        ("POLICYHUB_MAX_ARCHIVE_BYTES", "99999999999999999999", "--max-archive-bytes must be an integer of at least 1"),
        ("POLICYHUB_RATE_LIMIT_LOOPBACK", "maybe", "POLICYHUB_RATE_LIMIT_LOOPBACK must be true or false"),
    ])
    func outOfRangeEnvironmentVariablesAreRefusedToo(variable: String, value: String, message: String) async throws {
        let (status, stderr) = try await refusedServe([], environment: [variable: value])
        #expect(status == 64, "\(stderr)")
        #expect(stderr.contains(message), "\(stderr)")
    }

    @Test func anUnsupportedDatabaseURLListsTheAcceptedForms() async throws {
        let (status, stderr) = try await refusedServe(["--database-url", "mysql://root@db/policyhub"])
        #expect(status == 64, "\(stderr)")
        #expect(stderr.contains("use sqlite:PATH or postgres://USER:PASSWORD@HOST:PORT/DATABASE"), "\(stderr)")
        #expect(!stderr.contains("this build stores metadata in SQLite"))
    }

    @Test func anUnsupportedBlobStoreURLIsRefusedBeforeAnythingIsCreated() async throws {
        let (status, stderr) = try await refusedServe(["--blob-store-url", "gs://bucket"])
        #expect(status == 64, "\(stderr)")
        #expect(stderr.contains("use a directory, file:PATH or s3://BUCKET"), "\(stderr)")
    }

    /// README documents `--upload-url-ttl`; the parser once only knew `--upload-urlttl`. A one-second lifetime
    /// shows the flag takes effect: the link has expired two seconds later.
    @Test func theUploadLinkLifetimeFlagIsSpelledAsDocumentedAndHonoured() async throws {
        let dataDir = FileManager.default.temporaryDirectory.appendingPathComponent("policyhub-ttl-\(UUID())")
        defer { try? FileManager.default.removeItem(at: dataDir) }
        let server = try ServerProcess(dataDir: dataDir, extraArguments: ["--upload-url-ttl", "1"])
        try await server.waitUntilReady()
        let token = try server.initialAdminToken()
        try await server.withClient { api in
            let created = try await api.send(
                .post, "/api/orgs/default/policypacks", token: token, json: Fixtures.createBody("ttl", tag: "1.0.0"))
            #expect(created.status == .created)
            let uploadURI = try #require(created.json["uploadURI"]?.stringValue)
            try await Task.sleep(for: .milliseconds(2100))
            let late = try await api.upload(uploadURI, Fixtures.packArchive())
            #expect((400..<500).contains(late.status.code), "\(late.text)")
            #expect(late.text.contains("expired"), "\(late.text)")
        }
        #expect(try await server.terminate() == 0)
    }
}
