import Foundation
import Logging
import NIOCore
import NIOPosix
import SQLKit
import SQLiteKit

/// SQLite in WAL mode with a small pool of connections. Write transactions take the database's write lock up
/// front (`BEGIN IMMEDIATE`) and are queued in process, so concurrent writers wait their turn instead of failing
/// with SQLITE_BUSY; `busy_timeout` covers writers in other processes (the admin commands).
///
/// SQLite calls block their thread, and a busy wait blocks it for as long as another process holds the lock, so
/// each backend has threads of its own, one per connection, rather than sharing NIO's singleton pool.
public final class SQLiteBackend: SQLBackend {
    private let pool: SQLiteConnectionPool
    private let threads: NIOThreadPool
    private let writeLock = AsyncLock()

    public init(path: String, maxConnections: Int = 4, logger: Logger = Logger(label: "policyhub.sqlite")) {
        let threads = NIOThreadPool(numberOfThreads: max(1, maxConnections))
        threads.start()
        self.threads = threads
        self.pool = SQLiteConnectionPool(path: path, maxConnections: maxConnections, threads: threads, logger: logger)
    }

    public func withConnection<T: Sendable>(
        _ body: @Sendable (any SQLDatabase) async throws -> T
    ) async throws -> T {
        let connection = try await pool.acquire()
        do {
            let result = try await body(connection.sql(queryLogLevel: .trace))
            await pool.release(connection)
            return result
        } catch {
            await pool.release(connection)
            throw error
        }
    }

    public func transaction<T: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        try await writeLock.withLock {
            try await withConnection { database in
                try await self.run(in: database, begin: "BEGIN IMMEDIATE", body)
            }
        }
    }

    public var lockRowsClause: String { "" }
    public var hasLateralJoins: Bool { false }

    /// Each migration re-checks, inside its write transaction, that no other process applied it first.
    public func withMigrationLock<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T {
        try await body()
    }

    public func isUniqueViolation(_ error: any Error) -> Bool {
        String(describing: error).contains("UNIQUE constraint failed")
    }

    public func shutdown() async throws {
        await pool.close()
        try await threads.shutdownGracefully()
    }
}

/// Opens connections lazily up to a limit; callers beyond it wait for a release.
actor SQLiteConnectionPool {
    private let path: String
    private let maxConnections: Int
    private let threads: NIOThreadPool
    private let logger: Logger
    private var idle: [SQLiteConnection] = []
    private var openCount = 0
    private var waiters: [CheckedContinuation<SQLiteConnection, any Error>] = []
    private var closed = false

    init(path: String, maxConnections: Int, threads: NIOThreadPool, logger: Logger) {
        self.path = path
        self.threads = threads
        self.maxConnections = max(1, maxConnections)
        self.logger = logger
    }

    func acquire() async throws -> SQLiteConnection {
        if closed { throw SQLiteBackendError.closed }
        if let connection = idle.popLast() { return connection }
        if openCount < maxConnections {
            openCount += 1
            do {
                return try await Self.open(path: path, threads: threads, logger: logger)
            } catch {
                openCount -= 1
                throw error
            }
        }
        return try await withCheckedThrowingContinuation { waiters.append($0) }
    }

    func release(_ connection: SQLiteConnection) {
        if closed {
            // Returned after the pool closed: close it now rather than keep it.
            _ = connection.close()
        } else if !waiters.isEmpty {
            waiters.removeFirst().resume(returning: connection)
        } else {
            idle.append(connection)
        }
    }

    deinit {
        // A pool dropped without `close()` still closes its connections.
        for connection in idle { _ = connection.close() }
    }

    func close() async {
        closed = true
        for waiter in waiters { waiter.resume(throwing: SQLiteBackendError.closed) }
        waiters.removeAll()
        let closing = idle
        idle.removeAll()
        // The future-based close runs even when the calling task is cancelled.
        for connection in closing { try? await connection.close().get() }
    }

    private static func open(path: String, threads: NIOThreadPool, logger: Logger) async throws -> SQLiteConnection {
        let connection = try await SQLiteConnection.open(
            storage: .file(path: path), threadPool: threads, logger: logger,
            on: MultiThreadedEventLoopGroup.singleton.any())
        do {
            // WAL lets readers run beside the writer; FULL sync makes every acknowledged commit durable.
            // SQLite's default page cache (2 MiB) is smaller than the index pages one large report dirties: the
            // writer then spills pages into the WAL in the middle of its transaction. 32 MiB per connection (a
            // limit, allocated as used) holds them; statement journals stay in memory rather than temp files.
            for pragma in [
                "PRAGMA busy_timeout = 30000", "PRAGMA journal_mode = WAL", "PRAGMA synchronous = FULL",
                "PRAGMA foreign_keys = ON", "PRAGMA cache_size = -32768", "PRAGMA temp_store = MEMORY",
            ] {
                _ = try await connection.query(pragma)
            }
        } catch {
            try? await connection.close().get()
            throw error
        }
        return connection
    }
}

enum SQLiteBackendError: Error, CustomStringConvertible {
    case closed

    var description: String { "the SQLite database is closed" }
}

/// A FIFO async mutex.
actor AsyncLock {
    private var locked = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

    func withLock<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T {
        await acquire()
        do {
            let result = try await body()
            release()
            return result
        } catch {
            release()
            throw error
        }
    }

    private func acquire() async {
        if !locked {
            locked = true
            return
        }
        await withCheckedContinuation { waiters.append($0) }
    }

    private func release() {
        if waiters.isEmpty {
            locked = false
        } else {
            waiters.removeFirst().resume()
        }
    }
}
