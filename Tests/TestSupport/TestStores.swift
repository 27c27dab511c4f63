import Foundation
import MetadataStoreSQL
import SQLKit

/// The shared services CI starts (see `.ci/run`): a PostgreSQL cluster and an S3 bucket, when configured.
public enum TestStores {
    /// `POLICYHUB_TEST_POSTGRES_URL`: a database on the cluster the tests create their own databases on.
    public static let postgresURL = setting("POLICYHUB_TEST_POSTGRES_URL")
    /// `POLICYHUB_TEST_S3_URL`: a bucket (credentials in `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`).
    public static let s3URL = setting("POLICYHUB_TEST_S3_URL")

    private static func setting(_ name: String) -> String? {
        guard let value = ProcessInfo.processInfo.environment[name], !value.isEmpty else { return nil }
        return value
    }

    /// The bucket URL with a key prefix of its own (`<purpose>-<random>`), so tests never see each other's
    /// objects; nil without a bucket.
    public static func s3Prefix(_ purpose: String) -> String? {
        guard let s3URL, var components = URLComponents(string: s3URL) else { return nil }
        components.path = "/\(purpose)-\(UUID().uuidString.prefix(8).lowercased())"
        return components.string
    }
}

/// An empty database of its own on the test cluster, as a fresh deployment starts with.
public struct TestDatabase: Sendable {
    public let url: String
    private let name: String
    private let admin: PostgresBackend

    /// Creates `policyhub_<purpose>_<random>`.
    public static func create(_ purpose: String) async throws -> TestDatabase {
        guard let clusterURL = TestStores.postgresURL, var components = URLComponents(string: clusterURL) else {
            throw TestDatabaseUnavailable(description: "POLICYHUB_TEST_POSTGRES_URL is not set")
        }
        let name = "policyhub_\(purpose)_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
        let admin = try PostgresBackend(url: clusterURL, maxConnections: 1)
        do {
            try await admin.withConnection { try await $0.raw("CREATE DATABASE \(unsafeRaw: name)").run() }
        } catch {
            try? await admin.shutdown()
            throw error
        }
        components.path = "/" + name
        guard let url = components.string else {
            try? await admin.shutdown()
            throw TestDatabaseUnavailable(description: "bad POLICYHUB_TEST_POSTGRES_URL")
        }
        return TestDatabase(url: url, name: name, admin: admin)
    }

    /// Drops the database. `force` disconnects whoever is still on it; without it, the drop fails while anyone is,
    /// and can be retried with it.
    public func drop(force: Bool = true) async throws {
        let clause = force ? " WITH (FORCE)" : ""
        do {
            try await admin.withConnection {
                try await $0.raw("DROP DATABASE \(unsafeRaw: name)\(unsafeRaw: clause)").run()
            }
        } catch {
            if force { try? await admin.shutdown() }
            throw error
        }
        try await admin.shutdown()
    }
}

public struct TestDatabaseUnavailable: Error, CustomStringConvertible {
    public let description: String
}
