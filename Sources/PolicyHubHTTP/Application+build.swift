import Hummingbird
import Logging
import NIOCore
import OpenAPIHummingbird
import OpenAPIRuntime
import PolicyHubAPI
import PolicyHubCore
import ServiceLifecycle

/// The domain services a server runs on.
public struct PolicyHubServices: Sendable {
    public var identity: IdentityService
    public var packs: PolicyPackService
    public var registry: RegistryService
    public var groups: PolicyGroupService
    public var stacks: StackPolicyService
    public var audit: AuditService
    public var results: PolicyResultsService
    public var health: HealthService

    public init(
        identity: IdentityService, packs: PolicyPackService, registry: RegistryService, groups: PolicyGroupService,
        stacks: StackPolicyService, audit: AuditService, results: PolicyResultsService, health: HealthService
    ) {
        self.health = health
        self.results = results
        self.identity = identity
        self.packs = packs
        self.registry = registry
        self.groups = groups
        self.stacks = stacks
        self.audit = audit
    }

    /// Every service over one metadata store, sharing one authorizer.
    public init(
        store: any MetadataStore, blobs: any BlobStore, signer: LinkSigner, publicURL: String,
        settings: PublishSettings, results: ResultsSettings = .init(), clock: WallClock = .system, logger: Logger
    ) {
        let authorizer = Authorizer(audit: store, clock: clock)
        let packs = PolicyPackService(
            store: store, blobs: blobs, authorizer: authorizer, signer: signer,
            links: TransferRouteLinks(publicURL: publicURL), settings: settings, clock: clock, logger: logger)
        self.init(
            identity: IdentityService(store: store, clock: clock), packs: packs,
            registry: RegistryService(store: store, packs: packs, authorizer: authorizer),
            groups: PolicyGroupService(store: store, authorizer: authorizer, clock: clock, logger: logger),
            stacks: StackPolicyService(store: store, packs: packs, authorizer: authorizer),
            audit: AuditService(store: store, authorizer: authorizer),
            results: PolicyResultsService(
                store: store, packs: store, authorizer: authorizer, settings: results, clock: clock, logger: logger),
            health: HealthService(store: store, blobs: blobs)
        )
    }
}

/// Limits of the HTTP layer.
public struct HTTPLimits: Sendable {
    /// Largest JSON request body (413 past it).
    public var maxJSONBodyBytes: Int
    /// Largest policy results report, which lists every resource of a stack.
    public var maxResultsBodyBytes: Int
    /// A connection with no request in flight, or whose request head is still arriving, is closed after this long.
    public var idleTimeout: Duration
    /// The longest a request may take to arrive, from its head to the end of its body (408, then closed).
    public var readTimeout: Duration
    /// Requests a minute per token and per anonymous client address (off by default).
    public var rateLimits: RateLimits
    /// What one create request may describe.
    public var draftLimits: DraftLimits

    public init(
        maxJSONBodyBytes: Int = 1 << 20, idleTimeout: Duration = .seconds(60), readTimeout: Duration = .seconds(300),
        rateLimits: RateLimits = .init(), draftLimits: DraftLimits = .init(), maxResultsBodyBytes: Int = 32 << 20
    ) {
        self.maxResultsBodyBytes = maxResultsBodyBytes
        self.draftLimits = draftLimits
        self.maxJSONBodyBytes = maxJSONBodyBytes
        self.idleTimeout = idleTimeout
        self.readTimeout = readTimeout
        self.rateLimits = rateLimits
    }
}

/// Every route: the generated API plus the hand-written transfer and operations routes.
public func buildRouter(_ services: PolicyHubServices, limits: HTTPLimits = .init()) throws
    -> Router<BasicRequestContext>
{
    let router = Router()
    router.add(middleware: RoutingErrorMiddleware())
    let handler = APIHandler(
        identity: services.identity, packs: services.packs, registry: services.registry, groups: services.groups,
        stacks: services.stacks, audit: services.audit, results: services.results, draftLimits: limits.draftLimits)
    // A results report is read by hand (see PolicyResultsReportRoute); the generated route is registered for
    // every other operation.
    let report = PolicyResultsReportRoute(results: services.results, maxBytes: limits.maxResultsBodyBytes)
    let transport = HandServedOperations(
        transport: router,
        handlers: [HandServedOperations.key(.put, PolicyResultsReportRoute.path): report.handle])
    try handler.registerHandlers(
        on: transport, configuration: .init(jsonEncodingOptions: [.sortedKeys, .withoutEscapingSlashes]),
        middlewares: [JSONBodyMiddleware(maxBytes: limits.maxJSONBodyBytes)])
    TransferRoutes(packs: services.packs).register(on: router)
    OperationsRoutes(health: services.health).register(on: router)
    return router
}

/// The HTTP server over `services`, ready to run; `Server` in PolicyHubServer composes it. `pages` answers every
/// path outside the API (the console), if given.
public func buildHTTPApplication(
    _ services: PolicyHubServices, host: String, port: Int, limits: HTTPLimits = .init(),
    pages: (any HTTPResponder<BasicRequestContext>)? = nil, background: [any Service] = [], logger: Logger,
    onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
) throws -> some ApplicationProtocol {
    let router = try buildRouter(services, limits: limits)
    let routes = RouteTable(router.routes.map { ($0.path.description, $0.method) })
    let rateLimiter = RequestRateLimiter(limits.rateLimits)
    let api = EdgeResponder(
        inner: router.buildResponder(), identity: services.identity, routes: routes, rateLimiter: rateLimiter)
    let responder = PathSplitResponder(api: api, pages: pages, rateLimiter: rateLimiter)
    let readTimeout = TimeAmount(limits.readTimeout)
    return Application(
        responder: responder,
        server: .http1(
            configuration: .init(
                additionalChannelHandlers: [RequestReadDeadline(timeout: readTimeout, logger: logger)],
                idleTimeout: TimeAmount(limits.idleTimeout))),
        configuration: .init(address: .hostname(host, port: port), serverName: "PolicyHub"),
        services: background,
        onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? port) },
        logger: logger)
}
