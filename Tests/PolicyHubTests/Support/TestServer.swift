import BlobStoreFileSystem
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import MetadataStoreSQL
import PackArchive
import PolicyHubCore
import PolicyHubHTTP
import PolicyHubServer
import PolicyHubTestSupport
import Synchronization

/// A clock tests can move forward.
final class TestClock: Sendable {
    private let current = Mutex(Date(timeIntervalSince1970: 1_800_000_000))

    var wallClock: WallClock { WallClock { self.current.withLock { $0 } } }

    func advance(by seconds: TimeInterval) { current.withLock { $0 += seconds } }
}

/// Which database a test server keeps its metadata in.
enum MetadataBackendKind: String, Sendable, CustomStringConvertible {
    case sqlite, postgres

    var description: String { rawValue }

    /// SQLite always; PostgreSQL when CI (or the developer) configured `POLICYHUB_TEST_POSTGRES_URL`.
    static var available: [MetadataBackendKind] { TestStores.postgresURL == nil ? [.sqlite] : [.sqlite, .postgres] }
}

/// A whole server on real parts: a SQLite file and archive files in a temporary directory, served over loopback HTTP.
struct TestServer: Sendable {
    static let publicURL = "http://policyhub.test:8080"

    let directory: URL
    let store: SQLMetadataStore
    let blobs: any BlobStore
    let identity: IdentityService
    let services: PolicyHubServices
    /// What the server was composed from, to compose another over the same stores.
    let configuration: ServerConfiguration
    let stores: Stores
    let clock: TestClock
    let adminToken: String

    /// Runs `body` against a fresh server and removes everything afterwards.
    static func with<T: Sendable>(
        maxArchiveBytes: Int64 = 100 << 20, uploadLinkLifetime: TimeInterval = 3600,
        blobStore: (@Sendable (URL) throws -> any BlobStore)? = nil,
        archiveLimits: ArchiveLimits = .init(), draftLimits: DraftLimits = .init(), httpLimits: HTTPLimits = .init(),
        metadata: MetadataBackendKind = .sqlite, results: ResultsSettings = .init(),
        _ body: @Sendable (TestServer, APIClient) async throws -> T
    ) async throws -> T {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "policyhub-test-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        var database: TestDatabase?
        let store: SQLMetadataStore
        switch metadata {
        case .sqlite:
            store = try await SQLMetadataStore.open(
                SQLiteBackend(path: directory.appendingPathComponent("policyhub.sqlite").path))
        case .postgres:
            let created = try await TestDatabase.create("server")
            database = created
            store = try await SQLMetadataStore.open(try PostgresBackend(url: created.url, maxConnections: 4))
        }

        let blobs = try blobStore?(directory) ?? FileSystemBlobStore(root: directory.appendingPathComponent("blobs"))
        let clock = TestClock()
        var httpLimits = httpLimits
        httpLimits.draftLimits = draftLimits
        let configuration = ServerConfiguration(
            host: "127.0.0.1", port: 0, publicURL: publicURL, uploadLinkLifetime: uploadLinkLifetime,
            maxArchiveBytes: maxArchiveBytes, archiveLimits: archiveLimits, http: httpLimits, sweepInterval: nil,
            results: results)
        let stores = Stores(metadata: store, blobs: blobs)
        do {
            let composed = try await Server(
                configuration: configuration, stores: stores, clock: clock.wallClock, logger: quietLogger)
            let identity = composed.services.identity
            guard let adminToken = try await identity.bootstrap() else { throw TestFailure("bootstrap did nothing") }
            let server = TestServer(
                directory: directory, store: store, blobs: blobs, identity: identity, services: composed.services,
                configuration: configuration, stores: stores, clock: clock, adminToken: adminToken)
            let result = try await composed.application().test(.live) { client in
                try await body(server, APIClient(client: client))
            }
            try await store.shutdown()
            try? await database?.drop()
            return result
        } catch {
            try? await store.shutdown()
            try? await database?.drop()
            throw error
        }
    }

    static var quietLogger: Logger {
        var logger = Logger(label: "policyhub-test")
        logger.logLevel = .warning
        return logger
    }

    /// Creates a user with a token, optionally as a member of `organization`.
    func makeUser(_ login: String, in organization: String? = nil, role: Role = .member) async throws -> String {
        let user = try Name(login, field: "login")
        try await identity.createUser(user)
        if let organization {
            try await identity.addMember(
                organization: try Name(organization, field: "organization"), login: user, role: role)
        }
        return try await identity.createToken(login: user)
    }

    /// The archive files under the blob root, ignoring the incoming area.
    func storedArchives() throws -> [String] {
        let root = directory.appendingPathComponent("blobs")
        let enumerator = FileManager.default.enumerator(atPath: root.path)
        var files: [String] = []
        while let path = enumerator?.nextObject() as? String {
            if path.hasSuffix(".tgz") && !path.hasPrefix(".incoming") { files.append(path) }
        }
        return files.sorted()
    }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String

    init(_ description: String) { self.description = description }
}
