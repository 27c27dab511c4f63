import Foundation
import Logging

/// What one sweep removed, or would remove in a dry run.
public struct SweepReport: Hashable, Sendable, CustomStringConvertible {
    /// `org/pack version`, for each abandoned pending version.
    public var pendingVersions: [String] = []
    public var orphanArchives: [String] = []
    public var orphanBytes: Int64 = 0
    public var abandonedWrites = 0

    public init() {}

    public var description: String {
        "\(pendingVersions.count) pending version(s) older than the TTL, \(orphanArchives.count) unreferenced "
            + "archive(s) (\(orphanBytes) bytes), \(abandonedWrites) abandoned temporary file(s)"
    }
}

/// Removes pending versions nobody completed within the TTL and archives no version references.
///
/// An archive counts as unreferenced only when it is older than `grace`: an upload or a `complete` writes the
/// object first and records it in the metadata just after, so a young unreferenced object may be about to be used.
/// Objects are listed before the references are read, so one recorded in between is seen as referenced.
public struct GarbageCollector: Sendable {
    let store: any SweepStore
    let blobs: any BlobStore
    let clock: WallClock
    let pendingTTL: TimeInterval
    let grace: TimeInterval
    let logger: Logger

    public init(
        store: any SweepStore, blobs: any BlobStore, pendingTTL: TimeInterval = 86_400, grace: TimeInterval = 3600,
        clock: WallClock = .system, logger: Logger = Logger(label: "policyhub.gc")
    ) {
        self.store = store
        self.blobs = blobs
        self.pendingTTL = pendingTTL
        self.grace = grace
        self.clock = clock
        self.logger = logger
    }

    public func sweep(dryRun: Bool = false) async throws -> SweepReport {
        var report = SweepReport()
        let now = clock.now()
        for version in try await store.pendingVersions(before: now.addingTimeInterval(-pendingTTL)) {
            report.pendingVersions.append("\(version.organization)/\(version.name) \(version.label)")
            guard !dryRun else { continue }
            // Completed or deleted meanwhile: then it is no longer abandoned.
            if let key = try await store.deletePendingVersion(id: version.id) {
                try? await blobs.delete(key: key)
            }
        }
        let listed = try await blobs.list(prefix: "")
        // A pending version's direct-upload key holds what a client uploaded straight to storage, unrecorded.
        let uploading = try await store.pendingVersions(before: .distantFuture).map(ArchiveKeys.directUpload(for:))
        let referenced = try await store.referencedArchiveKeys().union(uploading)
        let cutoff = now.addingTimeInterval(-grace)
        for object in listed where !referenced.contains(object.key) && object.lastModified < cutoff {
            report.orphanArchives.append(object.key)
            report.orphanBytes += object.size
            if !dryRun { try await blobs.delete(key: object.key) }
        }
        if !dryRun { report.abandonedWrites = try await blobs.removeAbandonedWrites(before: cutoff) }
        if !dryRun && report != SweepReport() { logger.info("swept", metadata: ["removed": "\(report)"]) }
        return report
    }
}
