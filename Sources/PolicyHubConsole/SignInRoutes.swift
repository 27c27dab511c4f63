import Foundation
import Hummingbird
import PolicyHubCore
import PolicyHubHTTP

/// Signing in with an access token, signing out, and the start page.
struct SignInRoutes {
    let console: Console

    func register(on router: Router<BasicRequestContext>) {
        router.get("/") { request, _ in try await start(request) }
        router.get("/sign-in") { request, _ in signInPage(request, problem: nil, status: .ok) }
        router.post("/sign-in") { request, context in try await signIn(request, context: context) }
        router.post("/sign-out") { request, context in try await signOut(request, context: context) }
    }

    /// Signed in: the only organization, or the list of them; signed out: the sign-in page.
    private func start(_ request: Request) async throws -> Response {
        let visitor = try await console.visitor(request)
        let shared = visitor.principal.memberships.filter { !$0.isPersonal }.map(\.organization).sorted()
        if shared.count == 1 { return PageRenderer.redirect(to: Links.organization(shared[0])) }
        return console.pages.page(
            "home", ["hasOrganizations": !visitor.organizations.isEmpty], frame: visitor.frame("Organizations"))
    }

    private func signInPage(_ request: Request, problem: String?, status: HTTPResponse.Status) -> Response {
        // A fresh value each time the form is shown: the form must echo it, and no other site can read it.
        let value = SessionCookie.randomValue()
        var response = console.pages.page(
            "sign-in",
            [
                "next": Self.safeReturn(request.uri.queryParameters["next"].map(String.init)) ?? "", "csrf": value,
                "problem": problem ?? "", "hasProblem": problem != nil,
            ],
            frame: ["title": "Sign in"], status: status)
        response.headers[.setCookie] = SessionCookie.header(
            name: SessionCookie.signIn, value: value, lifetime: 3600, secure: console.settings.secureCookies)
        return response
    }

    private func signIn(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let form = try await FormData.read(request, context: context)
        guard let sent = form["csrf"], let expected = SessionCookie.value(in: request, named: SessionCookie.signIn),
            SessionCookie.constantTimeEqual(sent, expected)
        else {
            return signInPage(
                request, problem: "The sign-in form expired; enter your token again.", status: .forbidden)
        }
        guard let token = form["token"] else {
            return signInPage(request, problem: "Enter an access token.", status: .badRequest)
        }
        let session: ConsoleSession
        do {
            session = try await console.services.identity.startSession(
                accessToken: token, lifetime: console.settings.sessionLifetime)
        } catch let error as RegistryError where error.kind == .unauthenticated {
            return signInPage(
                request,
                problem: "That access token is unknown, revoked or expired. Create one with "
                    + "`policyhub admin token create` and paste it here.",
                status: .unauthorized)
        }
        let secure = console.settings.secureCookies
        return PageRenderer.redirect(
            to: Self.safeReturn(form["next"]) ?? "/",
            cookies: [
                SessionCookie.header(
                    name: SessionCookie.session, value: session.token, lifetime: console.settings.sessionLifetime,
                    secure: secure),
                SessionCookie.header(name: SessionCookie.signIn, value: "", lifetime: 0, secure: secure),
            ])
    }

    private func signOut(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let visitor = try await console.visitor(request)
        try visitor.checkForm(try await FormData.read(request, context: context))
        try await console.services.identity.endSession(visitor.principal)
        return PageRenderer.redirect(
            to: "/sign-in",
            cookies: [
                SessionCookie.header(
                    name: SessionCookie.session, value: "", lifetime: 0, secure: console.settings.secureCookies)
            ])
    }

    /// A place on this site to go back to after signing in; anything else (another site, `//host`, a scheme) is
    /// dropped, so the sign-in page cannot be used to send people elsewhere.
    static func safeReturn(_ path: String?) -> String? {
        guard let path, path.hasPrefix("/"), !path.hasPrefix("//"), !path.hasPrefix("/\\"),
            !path.unicodeScalars.contains(where: { $0.value < 0x20 || $0 == "\\" })
        else { return nil }
        return path
    }
}
