import Hummingbird
import Logging
import PolicyHubConsole
import PolicyHubCore
import PolicyHubHTTP
import ServiceLifecycle

/// The composition root: one place where a configuration and stores become services and a server, used by
/// `policyhub serve` and by the tests alike.
public struct Server: Sendable {
    public let configuration: ServerConfiguration
    public let stores: Stores
    public let services: PolicyHubServices
    public let collector: GarbageCollector
    let logger: Logger

    public init(
        configuration: ServerConfiguration, stores: Stores, clock: WallClock = .system, logger: Logger
    ) async throws {
        self.configuration = configuration
        self.stores = stores
        self.logger = logger
        services = PolicyHubServices(
            store: stores.metadata, blobs: stores.blobs,
            signer: LinkSigner(key: try await stores.metadata.signingKey()),
            publicURL: configuration.publicURL, settings: configuration.publish, results: configuration.results,
            clock: clock, logger: logger)
        collector = GarbageCollector(
            store: stores.metadata, blobs: stores.blobs, pendingTTL: configuration.pendingTTL,
            grace: configuration.sweepGrace, clock: clock, logger: logger)
    }

    /// The HTTP server with the background sweep, ready to run.
    public func application(
        onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) throws -> some ApplicationProtocol {
        let background: [any Service] =
            configuration.sweepInterval.map { [SweepService(collector: collector, interval: $0, logger: logger)] }
            ?? []
        let console = try Console(
            services: services,
            settings: ConsoleSettings(
                secureCookies: configuration.publicURL.lowercased().hasPrefix("https://"),
                sessionLifetime: configuration.consoleSessionLifetime),
            logger: logger)
        return try buildHTTPApplication(
            services, host: configuration.host, port: configuration.port, limits: configuration.http,
            pages: console.responder(), background: background, logger: logger, onServerRunning: onServerRunning)
    }
}
