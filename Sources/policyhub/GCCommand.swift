import ArgumentParser
import Foundation
import MetadataStoreSQL
import PolicyHubCore

/// `policyhub admin gc`: one sweep now, or a report of what it would remove.
struct GCCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gc",
        abstract: "Remove abandoned pending versions and unreferenced archives; --dry-run only reports them.")

    @OptionGroup var store: StoreOptions
    @Option(help: "Archive storage, as for serve (env POLICYHUB_BLOB_STORE_URL).") var blobStoreURL: String?
    @Option(help: "Seconds a pending version may wait for its upload and complete.") var pendingTTL: Int = 86_400
    @Option(help: "Seconds an unreferenced archive is left alone, as an upload may be about to use it.")
    var grace: Int = 3600
    @Flag(help: "Report what would be removed, and remove nothing.") var dryRun = false

    func run() async throws {
        let report = try await store.withMetadataStore { metadata in
            let blobs = try BlobStoreLocation.open(
                Environment.value(blobStoreURL, "POLICYHUB_BLOB_STORE_URL"), dataDir: store.resolvedDataDir)
            return try await GarbageCollector(
                store: metadata, blobs: blobs, pendingTTL: TimeInterval(pendingTTL), grace: TimeInterval(grace)
            ).sweep(dryRun: dryRun)
        }
        print((dryRun ? "Would remove " : "Removed ") + report.description + ".")
        for version in report.pendingVersions { print("  pending version \(version)") }
        for key in report.orphanArchives { print("  archive \(key)") }
    }
}
