import Foundation
import Hummingbird
import HummingbirdCore
import Logging
import Mustache
import PolicyHubCore
import PolicyHubHTTP

/// How the console's sessions behave.
public struct ConsoleSettings: Sendable {
    /// Whether cookies carry `Secure`: the server is reached over https.
    public var secureCookies: Bool
    /// How long a sign-in lasts.
    public var sessionLifetime: TimeInterval

    public init(secureCookies: Bool, sessionLifetime: TimeInterval = 12 * 3600) {
        self.secureCookies = secureCookies
        self.sessionLifetime = sessionLifetime
    }
}

/// The web console: pages rendered on the server from the same services, with the same permission checks, as the
/// API. It holds no rule of its own about who may do what; a refusal from a service becomes an error page.
public struct Console: Sendable {
    let services: PolicyHubServices
    let settings: ConsoleSettings
    let pages: PageRenderer
    let logger: Logger

    public init(services: PolicyHubServices, settings: ConsoleSettings, logger: Logger) throws {
        self.services = services
        self.settings = settings
        self.pages = try PageRenderer()
        self.logger = logger
    }

    /// Answers every path outside the API.
    public func responder() -> some HTTPResponder<BasicRequestContext> {
        let router = Router()
        router.add(middleware: PageSafetyMiddleware(pages: pages, logger: logger))
        router.get("/console.css") { request, _ in pages.stylesheet.response(request) }
        router.get("/favicon.svg") { request, _ in pages.icon.response(request) }
        SignInRoutes(console: self).register(on: router)
        OrganizationRoutes(console: self).register(on: router)
        PackRoutes(console: self).register(on: router)
        GroupRoutes(console: self).register(on: router)
        ResultsRoutes(console: self).register(on: router)
        return router.buildResponder()
    }

    /// The signed-in visitor of `request`, or a redirect to the sign-in page that comes back here.
    func visitor(_ request: Request) async throws -> Visitor {
        guard let token = SessionCookie.value(in: request) else { throw SignInRequired(returnTo: request.uri) }
        do {
            guard let principal = try await services.identity.authenticate(authorization: "token \(token)") else {
                throw SignInRequired(returnTo: request.uri)
            }
            return Visitor(principal: principal, csrfToken: SessionCookie.csrfToken(forSession: token))
        } catch let error as RegistryError where error.kind == .unauthenticated {
            throw SignInRequired(returnTo: request.uri)
        }
    }
}

/// Who is looking at a page, and the token their forms must carry.
struct Visitor: Sendable {
    let principal: Principal
    let csrfToken: String

    var organizations: [String] {
        principal.memberships.map(\.organization).sorted()
    }

    func isAdmin(of organization: String) -> Bool { principal.role(in: organization) == .admin }

    /// Refuses a form whose CSRF token is not this session's.
    func checkForm(_ form: FormData) throws {
        guard let sent = form["csrf"], SessionCookie.constantTimeEqual(sent, csrfToken) else {
            throw RegistryError(
                .forbidden,
                "This form has expired or did not come from this console; go back, reload "
                    + "the page and submit it again.")
        }
    }

    /// What every page's header shows.
    func frame(_ title: String, organization: String? = nil) -> [String: Any] {
        var frame: [String: Any] = [
            "title": title, "login": principal.login, "displayName": principal.displayName, "csrf": csrfToken,
            "organizations": organizations.map { ["name": $0, "current": $0 == organization] },
        ]
        if let organization { frame["organization"] = organization }
        return frame
    }
}

/// Thrown where a page needs a signed-in visitor and there is none (or the session ended).
struct SignInRequired: Error {
    let returnTo: URI
}
