import ArgumentParser
import BlobStoreFileSystem
import Foundation
import MetadataStoreSQL
import PolicyHubCore

/// Where the data lives: shared by `serve` and the admin commands. Each flag also reads an environment variable.
struct StoreOptions: ParsableArguments {
    @Option(help: "Directory for the embedded database and archives (env POLICYHUB_DATA_DIR).")
    var dataDir: String?

    @Option(
        help: """
            Metadata database: sqlite:PATH (default <data-dir>/policyhub.sqlite) or \
            postgres://USER:PASSWORD@HOST:PORT/DATABASE[?sslmode=disable|prefer|require|verify-full] \
            (env POLICYHUB_DATABASE_URL).
            """)
    var databaseURL: String?

    @Option(help: "Most database connections one process opens (env POLICYHUB_DATABASE_POOL_SIZE).")
    var databasePoolSize: Int?

    var resolvedDataDir: URL {
        URL(fileURLWithPath: Environment.value(dataDir, "POLICYHUB_DATA_DIR") ?? "./.policyhub", isDirectory: true)
    }

    /// Checks the database URL and pool size without opening or creating anything.
    func validateLocation() throws {
        _ = try Setting.integer(databasePoolSize, "POLICYHUB_DATABASE_POOL_SIZE", "--database-pool-size", in: 1...1000)
        let url = Environment.value(databaseURL, "POLICYHUB_DATABASE_URL")
        if let url, Self.isPostgres(url) { return }
        _ = try Self.sqlitePath(url)
    }

    /// Opens the metadata store, creating the data directory and schema as needed.
    func openMetadataStore() async throws -> SQLMetadataStore {
        let poolSize = try Setting.integer(
            databasePoolSize, "POLICYHUB_DATABASE_POOL_SIZE", "--database-pool-size", in: 1...1000)
        return try await Self.openMetadataStore(
            url: Environment.value(databaseURL, "POLICYHUB_DATABASE_URL"), dataDir: resolvedDataDir, poolSize: poolSize)
    }

    /// Runs `body` with the metadata store open and closes it afterwards, whatever happens. Any failure, opening
    /// included, is printed as one `error:` line and becomes a failing exit.
    func withMetadataStore<T>(_ body: (SQLMetadataStore) async throws -> T) async throws -> T {
        do {
            let store = try await openMetadataStore()
            do {
                let result = try await body(store)
                try await store.shutdown()
                return result
            } catch {
                try? await store.shutdown()
                throw error
            }
        } catch {
            throw fail(error)
        }
    }

    /// A database URL, or nil for the SQLite file in `dataDir`.
    static func openMetadataStore(url: String?, dataDir directory: URL, poolSize: Int? = nil) async throws
        -> SQLMetadataStore
    {
        if let url, isPostgres(url) {
            return try await SQLMetadataStore.open(PostgresBackend(url: url, maxConnections: poolSize ?? 20))
        }
        // Refused before anything is created.
        let path = try Self.sqlitePath(url) ?? directory.appendingPathComponent("policyhub.sqlite").path
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return try await SQLMetadataStore.open(SQLiteBackend(path: path, maxConnections: poolSize ?? 4))
    }

    static func isPostgres(_ url: String) -> Bool { url.hasPrefix("postgres://") || url.hasPrefix("postgresql://") }

    /// `sqlite:PATH`, `sqlite://PATH` or `file:PATH`; nil for the default.
    static func sqlitePath(_ url: String?) throws -> String? {
        guard let url, !url.isEmpty else { return nil }
        for prefix in ["sqlite://", "sqlite:", "file://", "file:"] where url.hasPrefix(prefix) {
            return String(url.dropFirst(prefix.count))
        }
        throw ValidationError(
            "Unsupported --database-url '\(Environment.redacted(url))': use sqlite:PATH or "
                + "postgres://USER:PASSWORD@HOST:PORT/DATABASE[?sslmode=disable|prefer|require|verify-full].")
    }
}

enum Environment {
    /// The flag's value, else the environment variable's.
    static func value(_ flag: String?, _ variable: String) -> String? {
        if let flag { return flag }
        if let value = ProcessInfo.processInfo.environment[variable], !value.isEmpty { return value }
        return nil
    }

    /// A URL without its password, safe to print.
    static func redacted(_ url: String) -> String {
        guard var components = URLComponents(string: url), components.password != nil else { return url }
        components.password = "***"
        return components.string ?? url
    }
}

/// Prints one line on stderr and exits non-zero: the admin commands' way of failing.
func fail(_ error: any Error) -> ExitCode {
    let message = (error as? RegistryError)?.message ?? String(describing: error)
    FileHandle.standardError.write(Data("error: \(message)\n".utf8))
    return ExitCode.failure
}
