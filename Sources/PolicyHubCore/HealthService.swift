import Foundation
import Synchronization

/// Whether the server's dependencies answer: what `/healthz` reports and `/readyz` decides on.
public struct HealthReport: Hashable, Sendable {
    /// `ok`, or why not.
    public var database: String
    public var blobStore: String

    public var isReady: Bool { database == "ok" && blobStore == "ok" }
}

public final class HealthService: Sendable {
    static let timeout: Duration = .seconds(3)
    /// Probes are shared for this long: the probe endpoints need no token and are not rate-limited, so however
    /// often they are asked, the database and the store see at most about one probe a second.
    static let reuse: Duration = .seconds(1)

    let store: any MetadataStore
    let blobs: any BlobStore
    private let latest = Mutex<(started: ContinuousClock.Instant, report: Task<HealthReport, Never>)?>(nil)

    public init(store: any MetadataStore, blobs: any BlobStore) {
        self.store = store
        self.blobs = blobs
    }

    /// Checks both dependencies at once, each within a few seconds, or joins a check begun under a second ago.
    public func check() async -> HealthReport {
        let now = ContinuousClock.now
        let report = latest.withLock { latest in
            if let latest, now - latest.started < Self.reuse { return latest.report }
            let report = Task { [store, blobs] in
                async let database = Self.probe { try await store.ping() }
                async let blobStore = Self.probe { _ = try await blobs.size(key: "healthz-probe") }
                return HealthReport(database: await database, blobStore: await blobStore)
            }
            latest = (now, report)
            return report
        }
        return await report.value
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
