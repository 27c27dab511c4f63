import ArgumentParser
import Foundation
import Hummingbird
import Logging
import MetadataStoreSQL
import PackArchive
import PolicyHubCore
import PolicyHubHTTP
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
        help: "Archive storage: a directory path or file:PATH; default <data-dir>/blobs (env POLICYHUB_BLOB_STORE_URL)."
    )
    var blobStoreURL: String?
    @Option(help: "Seconds an upload link stays valid (env POLICYHUB_UPLOAD_URL_TTL).") var uploadURLTTL: Int?
    @Option(help: "Largest accepted archive in bytes (env POLICYHUB_MAX_ARCHIVE_BYTES).") var maxArchiveBytes: Int64?
    @Option(help: "Largest JSON request body in bytes (env POLICYHUB_MAX_JSON_BODY_BYTES).") var maxJSONBodyBytes: Int?
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
        let host = Environment.value(host, "POLICYHUB_HOST") ?? "127.0.0.1"
        let port = try Self.integer(port.map(String.init), "POLICYHUB_PORT", "--port") ?? 8080
        let publicURL = Environment.value(publicURL, "POLICYHUB_PUBLIC_URL") ?? "http://\(host):\(port)"
        let ttl =
            try Self.integer(uploadURLTTL.map(String.init), "POLICYHUB_UPLOAD_URL_TTL", "--upload-url-ttl") ?? 3600
        let maxBytes =
            try Self.integer(maxArchiveBytes.map(String.init), "POLICYHUB_MAX_ARCHIVE_BYTES", "--max-archive-bytes")
            ?? (100 << 20)
        let logger = {
            var logger = Logger(label: "policyhub")
            logger.logLevel =
                Logger.Level(rawValue: Environment.value(logLevel, "POLICYHUB_LOG_LEVEL") ?? "info") ?? .info
            return logger
        }()

        let httpLimits = HTTPLimits(
            maxJSONBodyBytes: try Self.integer(
                maxJSONBodyBytes.map(String.init), "POLICYHUB_MAX_JSON_BODY_BYTES", "--max-json-body-bytes")
                ?? (1 << 20),
            idleTimeout: try Self.timeout(idleTimeout, "POLICYHUB_IDLE_TIMEOUT", "--idle-timeout") ?? .seconds(60),
            readTimeout: try Self.timeout(readTimeout, "POLICYHUB_READ_TIMEOUT", "--read-timeout") ?? .seconds(300),
            rateLimits: RateLimits(
                perToken: try Self.integer(rateLimit.map(String.init), "POLICYHUB_RATE_LIMIT", "--rate-limit") ?? 0,
                perAnonymousAddress: try Self.integer(
                    anonymousRateLimit.map(String.init), "POLICYHUB_ANONYMOUS_RATE_LIMIT", "--anonymous-rate-limit")
                    ?? 0,
                limitsLoopback: try rateLimitLoopback || Self.boolean("POLICYHUB_RATE_LIMIT_LOOPBACK")))
        let metadata = try await store.openMetadataStore()
        let blobs = try BlobStoreLocation.open(
            Environment.value(blobStoreURL, "POLICYHUB_BLOB_STORE_URL"), dataDir: store.resolvedDataDir,
            logger: logger)
        let archiveDefaults = ArchiveLimits()
        let draftDefaults = DraftLimits()
        let settings = PublishSettings(
            publicURL: publicURL, uploadLinkLifetime: TimeInterval(ttl), maxArchiveBytes: Int64(maxBytes),
            archiveLimits: ArchiveLimits(
                maxEntries: try Self.integer(
                    maxArchiveEntries.map(String.init), "POLICYHUB_MAX_ARCHIVE_ENTRIES", "--max-archive-entries")
                    ?? archiveDefaults.maxEntries,
                maxUnpackedBytes: try Self.integer(
                    maxUnpackedBytes.map(String.init), "POLICYHUB_MAX_UNPACKED_BYTES", "--max-unpacked-bytes")
                    ?? archiveDefaults.maxUnpackedBytes),
            draftLimits: DraftLimits(
                maxPolicies: try Self.integer(maxPolicies.map(String.init), "POLICYHUB_MAX_POLICIES", "--max-policies")
                    ?? draftDefaults.maxPolicies,
                maxFieldLength: try Self.integer(
                    maxFieldLength.map(String.init), "POLICYHUB_MAX_FIELD_LENGTH", "--max-field-length")
                    ?? draftDefaults.maxFieldLength))
        let packs = PolicyPackService(
            store: metadata, blobs: blobs, signer: LinkSigner(key: try await metadata.signingKey()),
            settings: settings, logger: logger)
        let services = PolicyHubServices(store: metadata, blobs: blobs, packs: packs, logger: logger)

        if let token = try await services.identity.bootstrap() {
            try announce(initialToken: token, publicURL: settings.publicURL)
        }
        let sweepInterval =
            try Self.integer(gcInterval.map(String.init), "POLICYHUB_GC_INTERVAL", "--gc-interval") ?? 3600
        let collector = GarbageCollector(
            store: metadata, blobs: blobs,
            pendingTTL: TimeInterval(
                try Self.integer(pendingTTL.map(String.init), "POLICYHUB_PENDING_TTL", "--pending-ttl") ?? 86_400),
            grace: max(3600, TimeInterval(ttl)), logger: logger)
        let background: [any Service] =
            sweepInterval > 0
            ? [SweepService(collector: collector, interval: .seconds(sweepInterval), logger: logger)] : []
        let app = try buildApplication(
            services, host: host, port: port, limits: httpLimits, background: background, logger: logger
        ) {
            actualPort in
            logger.info("PolicyHub is listening", metadata: ["url": "\(publicURL)", "port": "\(actualPort)"])
        }
        do {
            try await app.runService(gracefulShutdownSignals: [.sigterm, .sigint])
        } catch {
            try? await metadata.shutdown()
            throw error
        }
        try await metadata.shutdown()
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

    /// An on/off environment variable; unset is off.
    static func boolean(_ variable: String) throws -> Bool {
        guard let text = Environment.value(nil, variable)?.lowercased() else { return false }
        if ["1", "true", "yes", "on"].contains(text) { return true }
        if ["0", "false", "no", "off"].contains(text) { return false }
        throw ValidationError("\(variable) must be true or false.")
    }

    /// A timeout in whole seconds; zero would close every connection at once, so it must be at least one.
    static func timeout(_ flag: Int?, _ variable: String, _ name: String) throws -> Duration? {
        guard let seconds: Int = try integer(flag.map(String.init), variable, name) else { return nil }
        guard seconds > 0 else { throw ValidationError("\(name) must be at least 1 second.") }
        return .seconds(seconds)
    }

    static func integer<T: FixedWidthInteger>(_ flag: String?, _ variable: String, _ name: String) throws -> T? {
        guard let text = Environment.value(flag, variable) else { return nil }
        guard let value = T(text), value >= 0 else { throw ValidationError("\(name) must be a non-negative integer.") }
        return value
    }
}
