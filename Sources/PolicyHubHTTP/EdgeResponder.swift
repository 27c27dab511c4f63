import HTTPTypes
import Hummingbird
import Logging
import PolicyHubCore

/// The edge of the server, in front of the router: it normalises what Pulumi clients send, authenticates the
/// caller, and turns every failure, including unknown routes and wrong methods, into Pulumi's JSON error.
struct EdgeResponder<Inner: HTTPResponder>: HTTPResponder where Inner.Context == BasicRequestContext {
    typealias Context = BasicRequestContext

    let inner: Inner
    let identity: IdentityService
    let routes: RouteTable

    /// The registry's preview paths are aliases of the stable ones.
    static var aliases: [(from: String, to: String)] {
        [("/api/preview/registry/", "/api/registry/")]
    }

    func respond(to request: Request, context: Context) async throws -> Response {
        let request = normalize(request)
        do {
            let principal = try await identity.authenticate(authorization: request.headers[.authorization])
            let info = RequestInfo(
                principal: principal, queryNames: request.uri.queryParameters.map { String($0.key) })
            return try await RequestInfo.$current.withValue(info) {
                try await inner.respond(to: request, context: context)
            }
        } catch {
            return errorResponse(error, request: request, context: context)
        }
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
                "request failed", metadata: ["path": "\(request.uri.path)", "error": "\(String(reflecting: error))"])
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
        // The CLI asks for `application/vnd.pulumi+9`, which means JSON.
        if let accept = head.headerFields[.accept], !accept.contains("json"), !accept.contains("*/*") {
            head.headerFields[.accept] = nil
        }
        return Request(head: head, body: request.body)
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

    func methods(for path: String) -> Set<HTTPRequest.Method> {
        let components = path.split(separator: "/")
        var methods: Set<HTTPRequest.Method> = []
        for entry in entries where entry.components.count == components.count {
            let matches = zip(entry.components, components).allSatisfy { pattern, value in
                pattern.hasPrefix(":") || pattern.hasPrefix("{") || pattern == "*" || pattern == value
            }
            if matches { methods.formUnion(entry.methods) }
        }
        return methods
    }
}
