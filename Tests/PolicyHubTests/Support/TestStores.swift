import Foundation
import MetadataStoreSQL
import SQLKit

/// The shared services CI starts (see `.ci/run`): a PostgreSQL cluster and an S3 bucket, when configured.
enum TestStores {
    static let postgresURL = ProcessInfo.processInfo.environment["POLICYHUB_TEST_POSTGRES_URL"]
    static let s3URL = ProcessInfo.processInfo.environment["POLICYHUB_TEST_S3_URL"]

    /// The bucket URL with a key prefix of its own (`<purpose>-<random>`), so tests never see each other's
    /// objects; nil without a bucket.
    static func s3Prefix(_ purpose: String) -> String? {
        guard let s3URL, var components = URLComponents(string: s3URL) else { return nil }
        components.path = "/\(purpose)-\(UUID().uuidString.prefix(8).lowercased())"
        return components.string
    }
}

/// An empty database of its own on the test cluster, as a fresh deployment starts with.
struct TestDatabase {
    let url: String
    private let name: String
    private let admin: PostgresBackend

    /// Creates `policyhub_<purpose>_<random>`.
    static func create(_ purpose: String) async throws -> TestDatabase {
        guard let clusterURL = TestStores.postgresURL, var components = URLComponents(string: clusterURL) else {
            throw TestFailure("POLICYHUB_TEST_POSTGRES_URL is not set")
        }
        let name = "policyhub_\(purpose)_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
        let admin = try PostgresBackend(url: clusterURL, maxConnections: 1)
        try await admin.withConnection { try await $0.raw("CREATE DATABASE \(unsafeRaw: name)").run() }
        components.path = "/" + name
        guard let url = components.string else { throw TestFailure("bad POLICYHUB_TEST_POSTGRES_URL") }
        return TestDatabase(url: url, name: name, admin: admin)
    }

    /// Drops the database, disconnecting whoever is still on it.
    func drop() async throws {
        try await admin.withConnection { try await $0.raw("DROP DATABASE \(unsafeRaw: name) WITH (FORCE)").run() }
        try await admin.shutdown()
    }
}
