import Foundation
import MetadataStoreSQL
import PolicyHubCore
import PolicyHubTestSupport

/// A database to run the metadata store suite against: SQLite always, PostgreSQL when
/// `POLICYHUB_TEST_POSTGRES_URL` names one. Each case gets a database of its own, removed afterwards.
enum MetadataBackend: String, CustomStringConvertible, Sendable {
    case sqlite
    case postgres

    static let available: [MetadataBackend] = {
        if TestStores.postgresURL == nil {
            print("notice: POLICYHUB_TEST_POSTGRES_URL is not set; the metadata store suite runs on SQLite only.")
            return [.sqlite]
        }
        return [.sqlite, .postgres]
    }()

    var description: String { rawValue }

    /// Opens another store on the case's database, as a second server instance would.
    typealias Opener = @Sendable () async throws -> SQLMetadataStore

    /// Creates a fresh, empty database, runs `body` with a store on it, and removes the database afterwards.
    func withStore<T: Sendable>(_ body: @Sendable (SQLMetadataStore, @escaping Opener) async throws -> T) async throws
        -> T
    {
        switch self {
        case .sqlite:
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mdstore-\(UUID())")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: directory) }
            let path = directory.appendingPathComponent("policyhub.sqlite").path
            let open: Opener = { try await SQLMetadataStore.open(SQLiteBackend(path: path)) }
            return try await Self.run(try await open(), open, body)
        case .postgres:
            let database = try await TestDatabase.create("test")
            let open: Opener = { try await SQLMetadataStore.open(PostgresBackend(url: database.url)) }
            do {
                let result = try await Self.run(try await open(), open, body)
                // Not forced: every store the case opened must have been shut down.
                try await database.drop(force: false)
                return result
            } catch {
                try? await database.drop()
                throw error
            }
        }
    }

    /// Creates a fresh, empty database and runs `body` with a backend on it that no migration has touched yet
    /// (an upgrade test migrates it part way); the database is removed afterwards. `body` shuts the backend down,
    /// directly or through a store it opened on it.
    func withUnmigratedBackend<T: Sendable>(_ body: @Sendable (any SQLBackend) async throws -> T) async throws -> T {
        switch self {
        case .sqlite:
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mdstore-\(UUID())")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: directory) }
            return try await body(SQLiteBackend(path: directory.appendingPathComponent("policyhub.sqlite").path))
        case .postgres:
            let database = try await TestDatabase.create("upgrade")
            do {
                let result = try await body(try PostgresBackend(url: database.url))
                try await database.drop(force: false)
                return result
            } catch {
                try? await database.drop()
                throw error
            }
        }
    }

    private static func run<T: Sendable>(
        _ store: SQLMetadataStore, _ open: @escaping Opener,
        _ body: @Sendable (SQLMetadataStore, @escaping Opener) async throws -> T
    ) async throws -> T {
        do {
            let result = try await body(store, open)
            try await store.shutdown()
            return result
        } catch {
            try? await store.shutdown()
            throw error
        }
    }
}

/// Expects `body` to fail with a domain error of `kind`, and returns it for further checks.
@discardableResult
func expectRegistryError(
    _ kind: RegistryError.Kind, _ body: () async throws -> Void
) async throws -> RegistryError {
    do {
        try await body()
    } catch let error as RegistryError {
        guard error.kind == kind else { throw UnexpectedError(description: "expected \(kind), got \(error)") }
        return error
    } catch {
        throw UnexpectedError(description: "expected a RegistryError of kind \(kind), got \(String(reflecting: error))")
    }
    throw UnexpectedError(description: "expected a RegistryError of kind \(kind), but nothing was thrown")
}

struct UnexpectedError: Error, CustomStringConvertible {
    let description: String
}
