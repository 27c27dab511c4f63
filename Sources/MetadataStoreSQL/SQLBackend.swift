import PolicyHubCore
import SQLKit

/// A database the metadata store runs on. Everything dialect-specific lives behind this protocol:
/// the store's SQL is written once.
public protocol SQLBackend: Sendable {
    /// Runs `body` on one pooled connection.
    func withConnection<T: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T
    /// Runs `body` in a write transaction on one connection: committed if it returns, rolled back if it throws.
    func transaction<T: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T
    /// Appended to a SELECT that reads a row the transaction will update (`FOR UPDATE` where supported).
    var lockRowsClause: String { get }
    /// Whether a join may run a subquery per row of its left side (`CROSS JOIN LATERAL`).
    var hasLateralJoins: Bool { get }
    /// Runs once before migrations; may serialize concurrent migrators across processes.
    func withMigrationLock<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T
    /// Whether `error` is a unique-constraint violation.
    func isUniqueViolation(_ error: any Error) -> Bool
    func shutdown() async throws
}

extension SQLBackend {
    /// BEGIN / COMMIT / ROLLBACK around `body` on the given connection: SQLKit has no transaction helper.
    /// A unique constraint that a concurrent writer (another instance) won is the caller's conflict, not a fault.
    func run<T: Sendable>(
        in database: any SQLDatabase, begin: String, _ body: @Sendable (any SQLDatabase) async throws -> T
    ) async throws -> T {
        try await database.raw("\(unsafeRaw: begin)").run()
        do {
            let result = try await body(database)
            try await database.raw("COMMIT").run()
            return result
        } catch {
            try? await database.raw("ROLLBACK").run()
            if isUniqueViolation(error) {
                throw RegistryError(.conflict, "A concurrent change made the same name or version first: try again.")
            }
            throw error
        }
    }
}
