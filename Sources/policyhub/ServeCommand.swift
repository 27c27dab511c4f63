import ArgumentParser
import Foundation
import Hummingbird
import Logging
import MetadataStoreSQL
import PackArchive
import PolicyHubCore
import PolicyHubHTTP
import PolicyHubServer
import ServiceLifecycle
import UnixSignals

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "serve", abstract: "Run the PolicyHub server.")

    @Option(help: "Address to listen on (env POLICYHUB_HOST).") var host: String?
    @Option(help: "Port to listen on (env POLICYHUB_PORT).") var port: Int?
    @OptionGroup var store: StoreOptions
    @Option(help: "URL clients reach this server at; default http://<host>:<port> (env POLICYHUB_PUBLIC_URL).")
    var publicURL: String?
    @Option(
        help: ArgumentHelp(
            "Archive storage: a directory, file:PATH or s3://BUCKET[/PREFIX]?endpoint=URL&region=R&path-style=true; "
                + "default <data-dir>/blobs (env POLICYHUB_BLOB_STORE_URL).")
    )
    var blobStoreURL: String?
    @Option(
        name: .customLong("upload-url-ttl"), help: "Seconds an upload link stays valid (env POLICYHUB_UPLOAD_URL_TTL).")
    var uploadURLTTL: Int?
    @Option(help: "Largest accepted archive in bytes (env POLICYHUB_MAX_ARCHIVE_BYTES).") var maxArchiveBytes: Int64?
    @Option(help: "Largest JSON request body in bytes (env POLICYHUB_MAX_JSON_BODY_BYTES).") var maxJSONBodyBytes: Int?
    @Option(help: "Largest policy results report in bytes (env POLICYHUB_MAX_RESULTS_BODY_BYTES).")
    var maxResultsBodyBytes: Int?
    @Option(
        help: ArgumentHelp(
            "Seconds after its newest policy results report that a stack shows as drifted "
                + "(env POLICYHUB_RESULTS_STALE_AFTER).")
    )
    var resultsStaleAfter: Int?
    @Option(help: "Most policies in one pack (env POLICYHUB_MAX_POLICIES).") var maxPolicies: Int?
    @Option(help: "Most characters in one text field of a pack (env POLICYHUB_MAX_FIELD_LENGTH).") var maxFieldLength:
        Int?
    @Option(help: "Most entries in an archive (env POLICYHUB_MAX_ARCHIVE_ENTRIES).") var maxArchiveEntries: Int?
    @Option(help: "Most bytes an archive may unpack to (env POLICYHUB_MAX_UNPACKED_BYTES).") var maxUnpackedBytes:
        Int64?
    @Option(
        help: ArgumentHelp(
            "Seconds before a connection is closed when no request is in flight or a request's head is still "
                + "arriving (env POLICYHUB_IDLE_TIMEOUT).")
    )
    var idleTimeout: Int?
    @Option(
        help: ArgumentHelp(
            "Seconds a request may take to arrive, head to end of body, before it gets 408 and its connection is "
                + "closed (env POLICYHUB_READ_TIMEOUT).")
    )
    var readTimeout: Int?
    @Option(help: "Seconds a pending version may wait for its upload and complete (env POLICYHUB_PENDING_TTL).")
    var pendingTTL: Int?
    @Option(
        help: "Seconds between sweeps of abandoned versions and archives; 0 turns them off (env POLICYHUB_GC_INTERVAL)."
    )
    var gcInterval: Int?
    @Option(help: "Requests a minute per access token; 0 is no limit (env POLICYHUB_RATE_LIMIT).")
    var rateLimit: Int?
    @Option(
        help: ArgumentHelp(
            "Requests a minute per client address for calls without a token; 0 is no limit "
                + "(env POLICYHUB_ANONYMOUS_RATE_LIMIT).")
    )
    var anonymousRateLimit: Int?
    @Flag(help: "Rate-limit loopback clients too, which are exempt otherwise (env POLICYHUB_RATE_LIMIT_LOOPBACK).")
    var rateLimitLoopback = false
    @Option(help: "trace, debug, info, notice, warning or error (env POLICYHUB_LOG_LEVEL).") var logLevel: String?

    func run() async throws {
        // Every setting is checked before anything is opened or created.
        let configuration = try resolveConfiguration()
        let logger = try resolveLogger()
        let blobLocation = try BlobStoreLocation(
            Environment.value(blobStoreURL, "POLICYHUB_BLOB_STORE_URL"), dataDir: store.resolvedDataDir, logger: logger)
        try store.validateLocation()
        let metadata = try await store.openMetadataStore()
        do {
            let blobs = try blobLocation.open()
            let server = try await Server(
                configuration: configuration, stores: Stores(metadata: metadata, blobs: blobs), logger: logger)
            if let token = try await server.services.identity.bootstrap() {
                try announce(initialToken: token, publicURL: configuration.publicURL)
            }
            let app = try server.application { actualPort in
                logger.info(
                    "PolicyHub is listening", metadata: ["url": "\(configuration.publicURL)", "port": "\(actualPort)"])
            }
            try await app.runService(gracefulShutdownSignals: [.sigterm, .sigint])
        } catch {
            try? await metadata.shutdown()
            throw error
        }
        try await metadata.shutdown()
    }

    /// Flags, else environment variables, else defaults; every number range-checked.
    func resolveConfiguration() throws -> ServerConfiguration {
        let host = Environment.value(host, "POLICYHUB_HOST") ?? "127.0.0.1"
        let port = try Setting.integer(port, "POLICYHUB_PORT", "--port", in: 1...65535) ?? 8080
        let archiveDefaults = ArchiveLimits()
        let draftDefaults = DraftLimits()
        let sweepInterval = try Setting.integer(gcInterval, "POLICYHUB_GC_INTERVAL", "--gc-interval", in: 0...) ?? 3600
        return ServerConfiguration(
            host: host, port: port, publicURL: try Self.publicURL(Environment.value(publicURL, "POLICYHUB_PUBLIC_URL")),
            uploadLinkLifetime: TimeInterval(
                try Setting.integer(
                    uploadURLTTL, "POLICYHUB_UPLOAD_URL_TTL", "--upload-url-ttl", in: 1...Setting.maxLinkLifetime)
                    ?? 3600),
            maxArchiveBytes: try Setting.integer(
                maxArchiveBytes, "POLICYHUB_MAX_ARCHIVE_BYTES", "--max-archive-bytes", in: 1...) ?? (100 << 20),
            archiveLimits: ArchiveLimits(
                maxEntries: try Setting.integer(
                    maxArchiveEntries, "POLICYHUB_MAX_ARCHIVE_ENTRIES", "--max-archive-entries", in: 1...)
                    ?? archiveDefaults.maxEntries,
                maxUnpackedBytes: try Setting.integer(
                    maxUnpackedBytes, "POLICYHUB_MAX_UNPACKED_BYTES", "--max-unpacked-bytes", in: 1...)
                    ?? archiveDefaults.maxUnpackedBytes),
            http: HTTPLimits(
                maxJSONBodyBytes: try Setting.integer(
                    maxJSONBodyBytes, "POLICYHUB_MAX_JSON_BODY_BYTES", "--max-json-body-bytes", in: 1...) ?? (1 << 20),
                idleTimeout: .seconds(
                    try Setting.integer(idleTimeout, "POLICYHUB_IDLE_TIMEOUT", "--idle-timeout", in: 1...) ?? 60),
                readTimeout: .seconds(
                    try Setting.integer(readTimeout, "POLICYHUB_READ_TIMEOUT", "--read-timeout", in: 1...) ?? 300),
                rateLimits: RateLimits(
                    perToken: try Setting.integer(rateLimit, "POLICYHUB_RATE_LIMIT", "--rate-limit", in: 0...) ?? 0,
                    perAnonymousAddress: try Setting.integer(
                        anonymousRateLimit, "POLICYHUB_ANONYMOUS_RATE_LIMIT", "--anonymous-rate-limit", in: 0...) ?? 0,
                    limitsLoopback: try rateLimitLoopback || Setting.boolean("POLICYHUB_RATE_LIMIT_LOOPBACK")),
                draftLimits: DraftLimits(
                    maxPolicies: try Setting.integer(maxPolicies, "POLICYHUB_MAX_POLICIES", "--max-policies", in: 1...)
                        ?? draftDefaults.maxPolicies,
                    maxFieldLength: try Setting.integer(
                        maxFieldLength, "POLICYHUB_MAX_FIELD_LENGTH", "--max-field-length", in: 1...)
                        ?? draftDefaults.maxFieldLength),
                maxResultsBodyBytes: try Setting.integer(
                    maxResultsBodyBytes, "POLICYHUB_MAX_RESULTS_BODY_BYTES", "--max-results-body-bytes", in: 1...)
                    ?? (32 << 20)),
            pendingTTL: TimeInterval(
                try Setting.integer(pendingTTL, "POLICYHUB_PENDING_TTL", "--pending-ttl", in: 1...) ?? 86_400),
            sweepInterval: sweepInterval > 0 ? .seconds(sweepInterval) : nil,
            results: ResultsSettings(
                staleAfter: TimeInterval(
                    try Setting.integer(
                        resultsStaleAfter, "POLICYHUB_RESULTS_STALE_AFTER", "--results-stale-after", in: 1...)
                        ?? 604_800)))
    }

    func resolveLogger() throws -> Logger {
        var logger = Logger(label: "policyhub")
        let text = Environment.value(logLevel, "POLICYHUB_LOG_LEVEL") ?? "info"
        guard let level = Logger.Level(rawValue: text) else {
            let levels = Logger.Level.allCases.map(\.rawValue).joined(separator: ", ")
            throw ValidationError("--log-level must be one of \(levels); got '\(text)'.")
        }
        logger.logLevel = level
        return logger
    }

    /// An absolute http or https URL, or nil for the default.
    static func publicURL(_ text: String?) throws -> String? {
        guard let text else { return nil }
        guard let url = URLComponents(string: text), ["http", "https"].contains(url.scheme?.lowercased() ?? ""),
            url.host?.isEmpty == false
        else {
            throw ValidationError("--public-url must be an absolute http:// or https:// URL; got '\(text)'.")
        }
        return text
    }

    /// The first start prints the admin token once and keeps a copy only the owner can read.
    private func announce(initialToken token: String, publicURL: String) throws {
        // With PostgreSQL nothing else may have created the data directory.
        try? FileManager.default.createDirectory(at: store.resolvedDataDir, withIntermediateDirectories: true)
        let file = store.resolvedDataDir.appendingPathComponent("initial-admin-token")
        let saved = FileManager.default.createFile(
            atPath: file.path, contents: Data((token + "\n").utf8), attributes: [.posixPermissions: 0o600])
        let copy =
            saved
            ? "It is also in \(file.path) (readable only by you)."
            : "It could not be saved to \(file.path): keep it now, it is not shown again."
        let message = """
            Created user 'admin', organization 'default' and an access token for them:

                \(token)

            \(copy) Log in with:

                PULUMI_ACCESS_TOKEN=\(token) pulumi login \(publicURL)


            """
        // Written unbuffered, so it shows at once even when stdout is a file.
        FileHandle.standardOutput.write(Data(message.utf8))
    }
}
