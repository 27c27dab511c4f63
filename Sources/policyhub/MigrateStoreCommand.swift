import ArgumentParser
import Foundation
import MetadataStoreSQL
import PolicyHubCore

/// Copies a whole deployment, metadata and archives, into a new, empty one, checking every archive's digest.
struct MigrateStoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate-store",
        abstract: "Copy a whole deployment (metadata and archives) into a new, empty store.",
        discussion: """
            SOURCE and TARGET are each a data directory (its policyhub.sqlite and blobs/), sqlite:PATH or \
            postgres://...; with a database URL, name its archives with --from-blob-store / --to-blob-store.
            """)

    @Option(help: "The deployment to copy from.") var from: String
    @Option(help: "The empty deployment to copy into.") var to: String
    @Option(help: "Archive storage of the source, when --from is a database URL.") var fromBlobStore: String?
    @Option(help: "Archive storage of the target, when --to is a database URL.") var toBlobStore: String?

    func run() async throws {
        var opened: [Deployment] = []
        do {
            let source = try await Deployment.open(from, blobStore: fromBlobStore, side: "--from")
            opened.append(source)
            let target = try await Deployment.open(to, blobStore: toBlobStore, side: "--to")
            opened.append(target)
            let summary = try await Self.copy(from: source, to: target)
            for deployment in opened { try await deployment.metadata.shutdown() }
            print(summary)
        } catch {
            for deployment in opened { try? await deployment.metadata.shutdown() }
            throw fail(error)
        }
    }

    /// Copies the metadata, then every archive it references, checking the digests of completed versions.
    static func copy(from source: Deployment, to target: Deployment) async throws -> String {
        let counts = try await SQLStoreCopy.copy(from: source.metadata, to: target.metadata)
        var bytes: Int64 = 0
        let references = try await source.metadata.archiveReferences()
        for (version, archive) in references {
            let copied = try await target.blobs.copy(archive.key, from: source.blobs)
            if version.status == .complete && copied.sha256 != archive.sha256 {
                throw RegistryError(
                    .conflict,
                    "Archive of \(version.organization)/\(version.name) version \(version.version) does not match "
                        + "its recorded digest (expected \(archive.sha256), read \(copied.sha256)).")
            }
            bytes += copied.size
        }
        let rows = SQLStoreCopy.tableNames.map { "\($0) \(counts[$0] ?? 0)" }.joined(separator: ", ")
        return "Copied \(rows); \(references.count) archives (\(bytes) bytes), every digest verified."
    }
}

/// One side of a migration: a metadata store and its archives.
struct Deployment {
    let metadata: SQLMetadataStore
    let blobs: any BlobStore

    static func open(_ location: String, blobStore: String?, side: String) async throws -> Deployment {
        if StoreOptions.isPostgres(location) || location.hasPrefix("sqlite:") {
            guard let blobStore else {
                throw ValidationError("\(side) is a database URL: name its archive storage with \(side)-blob-store.")
            }
            let metadata = try await StoreOptions.openMetadataStore(
                url: location, dataDir: URL(fileURLWithPath: FileManager.default.currentDirectoryPath))
            return Deployment(
                metadata: metadata, blobs: try BlobStoreLocation.open(blobStore, dataDir: URL(fileURLWithPath: ".")))
        }
        let directory = URL(fileURLWithPath: location, isDirectory: true)
        let metadata = try await StoreOptions.openMetadataStore(url: nil, dataDir: directory)
        return Deployment(metadata: metadata, blobs: try BlobStoreLocation.open(blobStore, dataDir: directory))
    }
}
