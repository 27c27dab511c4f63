import Foundation
import PackArchive
import PolicyHubCore
import PolicyHubHTTP

/// Everything a running server is shaped by, resolved once from flags, environment and defaults.
public struct ServerConfiguration: Sendable {
    public var host: String
    public var port: Int
    /// The address clients reach the server at; upload and download links are built on it.
    public var publicURL: String
    public var publish: PublishSettings
    public var http: HTTPLimits
    /// How long a pending version may wait for its upload and complete before the sweep removes it.
    public var pendingTTL: TimeInterval
    /// Time between sweeps; nil turns the background sweep off.
    public var sweepInterval: Duration?
    public var results: ResultsSettings
    /// How long a console sign-in lasts.
    public var consoleSessionLifetime: TimeInterval = 12 * 3600

    public init(
        host: String = "127.0.0.1", port: Int = 8080, publicURL: String? = nil, uploadLinkLifetime: TimeInterval = 3600,
        maxArchiveBytes: Int64 = 100 << 20, archiveLimits: ArchiveLimits = .init(),
        http: HTTPLimits = .init(), pendingTTL: TimeInterval = 86_400, sweepInterval: Duration? = .seconds(3600),
        results: ResultsSettings = .init()
    ) {
        self.results = results
        self.host = host
        self.port = port
        self.publicURL = publicURL ?? "http://\(host):\(port)"
        self.publish = PublishSettings(
            uploadLinkLifetime: uploadLinkLifetime, maxArchiveBytes: maxArchiveBytes,
            archiveLimits: archiveLimits)
        self.http = http
        self.pendingTTL = pendingTTL
        self.sweepInterval = sweepInterval
    }

    /// An unreferenced archive younger than this is left alone: an upload may be about to record it.
    public var sweepGrace: TimeInterval { max(3600, publish.uploadLinkLifetime) }
}

/// Where a server keeps its data.
public struct Stores: Sendable {
    public var metadata: any MetadataStore
    public var blobs: any BlobStore

    public init(metadata: any MetadataStore, blobs: any BlobStore) {
        self.metadata = metadata
        self.blobs = blobs
    }
}
