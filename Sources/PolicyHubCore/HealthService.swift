import Foundation

/// Whether the server's dependencies answer: what `/healthz` reports and `/readyz` decides on.
public struct HealthReport: Hashable, Sendable {
    /// `ok`, or why not.
    public var database: String
    public var blobStore: String

    public var isReady: Bool { database == "ok" && blobStore == "ok" }
}

public struct HealthService: Sendable {
    static let timeout: Duration = .seconds(3)

    let store: any MetadataStore
    let blobs: any BlobStore

    public init(store: any MetadataStore, blobs: any BlobStore) {
        self.store = store
        self.blobs = blobs
    }

    /// Checks both dependencies at once, each within a few seconds.
    public func check() async -> HealthReport {
        async let database = Self.probe { try await store.ping() }
        async let blobStore = Self.probe { _ = try await blobs.size(key: "healthz-probe") }
        return HealthReport(database: await database, blobStore: await blobStore)
    }

    private static func probe(_ body: @escaping @Sendable () async throws -> Void) async -> String {
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await body() }
                group.addTask {
                    try await Task.sleep(for: timeout)
                    throw RegistryError.unavailable("dependency")
                }
                _ = try await group.next()
                group.cancelAll()
            }
            return "ok"
        } catch let error as RegistryError where error.kind == .unavailable {
            return "unavailable"
        } catch {
            return "failing: \(error)"
        }
    }
}
