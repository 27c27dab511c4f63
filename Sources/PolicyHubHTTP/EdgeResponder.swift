import HTTPTypes
import Hummingbird
import Logging
import PolicyHubCore

/// The edge of the server, in front of the router: it normalises what Pulumi clients send, authenticates the
/// caller, and turns every failure, including unknown routes and wrong methods, into Pulumi's JSON error.
struct EdgeResponder<Inner: HTTPResponder>: HTTPResponder where Inner.Context == BasicRequestContext {
    typealias Context = EdgeRequestContext

    let inner: Inner
    let identity: IdentityService
    let routes: RouteTable
    let rateLimiter: RequestRateLimiter

    /// The registry's preview paths are aliases of the stable ones.
    static var aliases: [(from: String, to: String)] {
        [("/api/preview/registry/", "/api/registry/")]
    }

    func respond(to request: Request, context: Context) async throws -> Response {
        let request = normalize(request)
        do {
            let principal: Principal?
            do {
                principal =
                    Self.takesNoToken(request.uri.path)
                    ? nil : try await identity.authenticate(authorization: request.headers[.authorization])
            } catch {
                // A refused token counts against the address, so guessing tokens is throttled like anonymous calls.
                if let refusal = limit(tokenID: nil, request, context) { return refusal }
                throw error
            }
            if let refusal = limit(tokenID: principal?.tokenID, request, context) { return refusal }
            let info = RequestInfo(
                principal: principal, queryNames: request.uri.queryParameters.map { String($0.key) })
            let origin = RequestOrigin(
                clientAddress: context.remoteAddress?.ipAddress,
                userAgent: request.headers[.userAgent])
            return try await RequestOrigin.$current.withValue(origin) {
                try await RequestInfo.$current.withValue(info) {
                    try await inner.respond(to: request, context: context.basic)
                }
            }
        } catch {
            return errorResponse(error, request: request, context: context)
        }
    }

    /// Routes whose only credential is a signed link, or that need none. The API defines no 401 for them, so an
    /// Authorization header there is ignored rather than checked.
    static func takesNoToken(_ path: String) -> Bool {
        path.hasPrefix("/api/uploads/") || path.hasPrefix("/api/downloads/")
            || ["/healthz", "/readyz", "/api/openapi.yaml"].contains(path)
    }

    private func limit(tokenID: String?, _ request: Request, _ context: Context) -> Response? {
        rateLimiter.refusal(tokenID: tokenID, client: context.client, path: request.uri.path, logger: context.logger)
    }

    private func errorResponse(_ error: any Error, request: Request, context: Context) -> Response {
        var (status, message, details) = ErrorMapping.describe(error)
        if case RoutingError.http(let httpError) = error, httpError.status == .notFound {
            // The router answers 404 for a known path with another method.
            let allowed = routes.methods(for: request.uri.path)
            if !allowed.isEmpty {
                var response = ErrorMapping.response(
                    status: .methodNotAllowed,
                    message: "Method \(request.method) is not allowed on \(request.uri.path); use "
                        + allowed.map(\.rawValue).sorted().joined(separator: ", ") + ".")
                response.headers[.allow] = allowed.map(\.rawValue).sorted().joined(separator: ", ")
                return response
            }
            message = "Not found: \(request.uri.path)"
        }
        if status == .internalServerError {
            context.logger.error(
                "request failed",
                metadata: ["path": "\(request.uri.path)", "error": "\(ErrorMapping.logDescription(error))"])
        }
        return ErrorMapping.response(status: status, message: message, details: details)
    }

    private func normalize(_ request: Request) -> Request {
        var head = request.head
        if let path = head.path {
            for alias in Self.aliases where path.hasPrefix(alias.from) {
                head.path = alias.to + path.dropFirst(alias.from.count)
            }
        }
        // The CLI asks for `application/vnd.pulumi+9`, which means JSON. The issues export answers text to anyone
        // who does not name a text type (Pulumi's SDK asks for text/plain).
        if let accept = head.headerFields[.accept], !accept.contains("text/") {
            let json = accept.contains("json") || accept.contains("*/*")
            if !json || head.path?.contains("/policyresults/issues/export") == true { head.headerFields[.accept] = nil }
        }
        return Request(head: head, body: request.body)
    }
}

/// Sends the API's paths to the API's edge and every other path to the pages (the console), when there are any.
struct PathSplitResponder<API: HTTPResponder>: HTTPResponder where API.Context == EdgeRequestContext {
    typealias Context = EdgeRequestContext

    let api: API
    let pages: (any HTTPResponder<BasicRequestContext>)?
    let rateLimiter: RequestRateLimiter

    func respond(to request: Request, context: Context) async throws -> Response {
        guard let pages, !Self.isAPI(request.uri.path) else {
            return try await api.respond(to: request, context: context)
        }
        // A sign-in tries a token, so it counts against the address like a call with a refused token.
        if request.method == .post, request.uri.path == "/sign-in",
            let refusal = rateLimiter.refusal(
                tokenID: nil, client: context.client, path: request.uri.path, logger: context.logger)
        {
            return refusal
        }
        return try await pages.respond(to: request, context: context.basic)
    }

    static func isAPI(_ path: String) -> Bool {
        path == "/api" || path.hasPrefix("/api/") || path == "/healthz" || path == "/readyz"
    }
}

/// Lets the router's own errors (unknown path or method) reach `EdgeResponder`, which the router would
/// otherwise answer itself with an empty body.
struct RoutingErrorMiddleware: RouterMiddleware {
    typealias Context = BasicRequestContext

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPError {
            throw RoutingError.http(error)
        }
    }
}

enum RoutingError: Error {
    case http(HTTPError)
}

/// The router's paths and their methods, to tell "no such path" (404) from "wrong method" (405).
struct RouteTable: Sendable {
    private let entries: [(components: [Substring], methods: Set<HTTPRequest.Method>)]

    init(_ routes: [(path: String, method: HTTPRequest.Method)]) {
        var table: [String: Set<HTTPRequest.Method>] = [:]
        for route in routes { table[route.path, default: []].insert(route.method) }
        entries = table.map { ($0.key.split(separator: "/"), $0.value) }
    }

    /// The methods of the routes the router would pick for `path`: like its trie, a literal segment wins over a
    /// parameter, so `/issues/filters` has the methods of that route, not also those of `/issues/{issueId}`.
    func methods(for path: String) -> Set<HTTPRequest.Method> {
        let components = path.split(separator: "/")
        var best: [Bool] = []
        var methods: Set<HTTPRequest.Method> = []
        for entry in entries where entry.components.count == components.count {
            let matches = zip(entry.components, components).allSatisfy { pattern, value in
                Self.isParameter(pattern) || pattern == value
            }
            guard matches else { continue }
            let literals = entry.components.map { !Self.isParameter($0) }
            if literals.lexicographicallyPrecedes(best, by: { !$0 && $1 }) { continue }
            if literals != best {
                best = literals
                methods = []
            }
            methods.formUnion(entry.methods)
        }
        return methods
    }

    private static func isParameter(_ pattern: Substring) -> Bool {
        pattern.hasPrefix(":") || pattern.hasPrefix("{") || pattern == "*"
    }
}
