import Foundation
import Logging
import NIOSSL
import PolicyHubCore
import PostgresKit
import PostgresNIO
import SQLKit

/// PostgreSQL through PostgresNIO's connection pool. Several PolicyHub instances may share one database:
/// row locks (`FOR UPDATE`) order concurrent writers and an advisory lock serialises migrations.
public final class PostgresBackend: SQLBackend {
    private let client: PostgresClient
    private let runner: Task<Void, Never>

    /// Connects lazily; `url` is `postgres://user:password@host:port/database[?sslmode=...]`.
    public init(url: String, maxConnections: Int = 20, logger: Logger = Logger(label: "policyhub.postgres")) throws {
        var configuration = try Self.configuration(from: url)
        configuration.options.maximumConnections = max(1, maxConnections)
        // A database that is down must turn into a prompt 503, not a request that hangs.
        configuration.options.connectTimeout = .seconds(3)
        // Every query of the store is an index walk of a few milliseconds; starting parallel workers costs more
        // than they save (the issues grid filtered and sorted by time: 20 to 40 ms with two workers, 6 without).
        configuration.options.additionalStartupParameters = [("max_parallel_workers_per_gather", "0")]
        // The pool warns when the first lease races `run()` starting; real failures are errors.
        var poolLogger = logger
        poolLogger.logLevel = max(logger.logLevel, .error)
        let client = PostgresClient(configuration: configuration, backgroundLogger: poolLogger)
        self.client = client
        // The pool works only while `run()` does.
        self.runner = Task { await client.run() }
    }

    /// How long a request waits for a connection before the database counts as unavailable.
    static let leaseTimeout: Duration = .seconds(5)

    public func withConnection<T: Sendable>(
        _ body: @Sendable (any SQLDatabase) async throws -> T
    ) async throws -> T {
        do {
            // The task group below ends before this call returns, so `body` does not really escape.
            return try await withoutActuallyEscaping(body) { body in try await leasing(body) }
        } catch let error as PSQLError where Self.isConnectionFailure(error) {
            throw RegistryError.unavailable("database")
        } catch is PostgresConnectionLeaseTimeout {
            throw RegistryError.unavailable("database")
        } catch let error where String(describing: type(of: error)).contains("ConnectionPoolError") {
            throw RegistryError.unavailable("database")
        }
    }

    /// Runs `body` on a pooled connection, giving up if none can be had within `leaseTimeout` (the pool itself
    /// keeps retrying an unreachable database for much longer). Only the wait is bounded, not the work.
    private func leasing<T: Sendable>(_ body: @Sendable @escaping (any SQLDatabase) async throws -> T) async throws -> T
    {
        let leased = LeaseFlag()
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask {
                try await self.client.withConnection { connection in
                    await leased.set()
                    return try await body(connection.sql(queryLogLevel: .trace))
                }
            }
            group.addTask {
                try await Task.sleep(for: Self.leaseTimeout)
                if await leased.isSet { return nil }
                throw PostgresConnectionLeaseTimeout()
            }
            while let result = try await group.next() {
                if let value = result {
                    group.cancelAll()
                    return value
                }
            }
            throw PostgresConnectionLeaseTimeout()
        }
    }

    /// Failures of the connection itself, as opposed to a query the database refused.
    static func isConnectionFailure(_ error: PSQLError) -> Bool {
        [.connectionError, .serverClosedConnection, .uncleanShutdown, .clientClosedConnection, .poolClosed]
            .contains(error.code)
    }

    public func transaction<T: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        try await withConnection { database in
            try await self.run(in: database, begin: "BEGIN", body)
        }
    }

    public var lockRowsClause: String { "FOR UPDATE" }
    public var hasLateralJoins: Bool { true }

    /// Holds a session-level advisory lock on one connection while migrating on others.
    public func withMigrationLock<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T {
        try await withConnection { database in
            try await database.raw("SELECT pg_advisory_lock(\(literal: Self.migrationLockKey))").run()
            do {
                let result = try await body()
                try await database.raw("SELECT pg_advisory_unlock(\(literal: Self.migrationLockKey))").run()
                return result
            } catch {
                try? await database.raw("SELECT pg_advisory_unlock(\(literal: Self.migrationLockKey))").run()
                throw error
            }
        }
    }

    /// "PolicyHub" in ASCII: any constant works as long as every instance uses the same one.
    static let migrationLockKey: Int64 = 0x506F_6C69_6379_4875

    public func isUniqueViolation(_ error: any Error) -> Bool {
        (error as? PSQLError)?.serverInfo?[.sqlState] == "23505"
    }

    public func shutdown() async throws {
        runner.cancel()
        _ = await runner.value
    }

    /// Parses a libpq-style URL; `sslmode` disable, prefer (the default) or require / verify-ca / verify-full.
    static func configuration(from url: String) throws -> PostgresClient.Configuration {
        guard let components = URLComponents(string: url), ["postgres", "postgresql"].contains(components.scheme),
            let host = components.host, !host.isEmpty, let user = components.user
        else {
            throw PostgresBackendError("The database URL must look like postgres://user:password@host:port/database.")
        }
        let database = String(components.path.dropFirst())
        let mode = components.queryItems?.first { $0.name == "sslmode" }?.value ?? "prefer"
        let tls: PostgresClient.Configuration.TLS
        switch mode {
        case "disable": tls = .disable
        case "prefer", "allow": tls = .prefer(.makeClientConfiguration())
        case "require":
            var insecure = TLSConfiguration.makeClientConfiguration()
            insecure.certificateVerification = .none
            tls = .require(insecure)
        case "verify-ca", "verify-full": tls = .require(.makeClientConfiguration())
        default: throw PostgresBackendError("Unknown sslmode '\(mode)': use disable, prefer, require or verify-full.")
        }
        return PostgresClient.Configuration(
            host: host, port: components.port ?? 5432, username: user.removingPercentEncoding ?? user,
            password: components.password?.removingPercentEncoding, database: database.isEmpty ? nil : database,
            tls: tls)
    }
}

struct PostgresConnectionLeaseTimeout: Error {}

actor LeaseFlag {
    private(set) var isSet = false

    func set() { isSet = true }
}

struct PostgresBackendError: Error, CustomStringConvertible {
    let description: String

    init(_ description: String) { self.description = description }
}
