import Foundation
import HTTPTypes
import PolicyHubCore
import Testing

/// Signing in and out of the console, its cookies, and the headers that keep its pages safe: over real HTTP.
@Suite("Console: sessions and page safety")
struct ConsoleSessionTests {
    @Test func signInSetsAStrictSessionCookieAndSignOutEndsTheSessionEverywhere() async throws {
        try await TestServer.with { server, api in
            let browser = ConsoleBrowser(api)
            let start = try await browser.get("/")
            #expect(start.status == .seeOther && start.location == "/sign-in")

            let form = try await browser.get("/sign-in")
            #expect(form.status == .ok)
            #expect(form.headers[.contentType] == "text/html; charset=utf-8")
            let signInCookie = form.headers[.setCookie] ?? ""
            #expect(signInCookie.contains("HttpOnly") && signInCookie.contains("SameSite=Strict"), "\(signInCookie)")
            #expect(!signInCookie.contains("Secure"), "the test server's public URL is http")

            let signedIn = try await browser.signIn(server.adminToken)
            #expect(signedIn.status == .seeOther, "\(signedIn.text)")
            #expect(signedIn.location == "/", "no next: the start page")
            let session = signedIn.headers[values: .setCookie].first { $0.hasPrefix("policyhub_session=") } ?? ""
            #expect(session.contains("HttpOnly") && session.contains("SameSite=Strict"), "\(session)")
            #expect(session.contains("Max-Age=43200"), "a sign-in lasts 12 hours: \(session)")
            let sessionToken = try #require(browser.cookies["policyhub_session"])
            #expect(sessionToken != server.adminToken, "the access token itself is never the cookie")
            #expect(browser.cookies["policyhub_signin"] == nil, "the sign-in form's cookie is spent")

            // The admin belongs to one shared organization: the start page goes straight to it.
            let home = try await browser.get("/")
            #expect(home.status == .seeOther && home.location == "/orgs/default")
            let overview = try await browser.get("/orgs/default")
            #expect(overview.status == .ok && overview.text.contains("<h1>default</h1>"), "\(overview.text)")
            #expect(overview.headers[.cacheControl] == "no-store")

            // The session is a token of its own, listed with the user's tokens, stored hashed.
            let tokens = try await server.identity.listTokens(login: "admin")
            #expect(tokens.contains { $0.description == ConsoleSession.description })

            // Signing out needs the page's CSRF token.
            let refused = try await browser.post("/sign-out", [("csrf", "forged")])
            #expect(refused.status == .forbidden && refused.text.contains("did not come from this console"))
            let out = try await browser.post("/sign-out", [("csrf", try ConsoleBrowser.csrf(overview))])
            #expect(out.status == .seeOther && out.location == "/sign-in")
            #expect(browser.cookies["policyhub_session"] == nil, "the cookie is cleared")

            // A copy of the old cookie (another tab, a stolen cookie) no longer works either.
            browser.setCookie("policyhub_session", sessionToken)
            let after = try await browser.get("/orgs/default")
            #expect(after.status == .seeOther && after.location == "/sign-in?next=/orgs/default")
        }
    }

    @Test func aSessionExpiresAndTheSignInFormRefusesWhatItShould() async throws {
        try await TestServer.with { server, api in
            let browser = ConsoleBrowser(api)
            // A form posted without the value its page set (another site's form) is refused.
            let forged = try await browser.post("/sign-in", [("csrf", "x"), ("token", server.adminToken)])
            #expect(forged.status == .forbidden && forged.text.contains("expired"), "\(forged.text)")
            #expect(browser.cookies["policyhub_session"] == nil)

            let unknown = try await browser.signIn("pul-" + String(repeating: "0", count: 40))
            #expect(unknown.status == .unauthorized && unknown.text.contains("unknown, revoked or expired"))
            let empty = try await browser.signIn("")
            #expect(empty.status == .badRequest && empty.text.contains("Enter an access token"))

            // `next` brings the user back, but only to a page of this site.
            let back = try await browser.signIn(server.adminToken, next: "/orgs/default/compliance")
            #expect(back.location == "/orgs/default/compliance")
            for hostile in ["//evil.example/x", "https://evil.example", "/\\evil.example", "javascript:alert(1)"] {
                let other = ConsoleBrowser(api)
                let answer = try await other.signIn(server.adminToken, next: hostile)
                #expect(answer.location == "/", "\(hostile) -> \(answer.location ?? "")")
            }

            server.clock.advance(by: 12 * 3600 + 1)
            let expired = try await browser.get("/orgs/default")
            #expect(expired.status == .seeOther && expired.location?.hasPrefix("/sign-in") == true)
        }
    }

    @Test func signInAttemptsCountAgainstTheAddressLikeRefusedTokens() async throws {
        let clock = TestClock()
        try await TestServer.with(httpLimits: RateLimitTests.limits(perAddress: 3, clock: clock)) { server, api in
            let browser = ConsoleBrowser(api)
            for _ in 0..<3 {
                let guess = try await browser.signIn("pul-" + String(repeating: "1", count: 40))
                #expect(guess.status == .unauthorized)
            }
            let limited = try await browser.signIn(server.adminToken)
            #expect(limited.status == .tooManyRequests && limited.headers[.retryAfter] == "20", "\(limited.text)")
            #expect(browser.cookies["policyhub_session"] == nil)
            clock.advance(by: 20)
            #expect(try await browser.signIn(server.adminToken).status == .seeOther)
        }
    }

    @Test func everyPageForbidsFramingScriptsAndSniffingAndErrorsArePages() async throws {
        try await TestServer.with { server, api in
            let browser = ConsoleBrowser(api)
            try await browser.signIn(server.adminToken)
            for path in ["/sign-in", "/orgs/default", "/no/such/page", "/orgs/default/packs/missing", "/console.css"] {
                let page = try await browser.get(path)
                let policy = page.headers[.contentSecurityPolicy] ?? ""
                #expect(policy.contains("default-src 'none'") && policy.contains("frame-ancestors 'none'"), "\(path)")
                #expect(!policy.contains("script-src"), "no script runs on any page: \(policy)")
                #expect(page.headers[HTTPField.Name("X-Frame-Options")!] == "DENY", "\(path)")
                #expect(page.headers[HTTPField.Name("Referrer-Policy")!] == "same-origin", "\(path)")
                #expect(page.headers[HTTPField.Name("X-Content-Type-Options")!] == "nosniff", "\(path)")
            }
            let missing = try await browser.get("/no/such/page")
            #expect(missing.status == .notFound && missing.text.contains("There is no page at /no/such/page"))
            let pack = try await browser.get("/orgs/default/packs/missing")
            #expect(pack.status == .notFound && pack.text.contains("<h1"), "an error is a page: \(pack.text)")

            let css = try await browser.get("/console.css")
            #expect(css.status == .ok && css.headers[.contentType] == "text/css; charset=utf-8")
            let tag = try #require(css.headers[.eTag])
            let again = try await api.raw(.get, "/console.css", headers: [.ifNoneMatch: tag], body: nil)
            #expect(again.status == .notModified)

            // The API keeps its JSON errors and its own paths.
            let apiMissing = try await api.send(.get, "/api/nothing-here", token: server.adminToken)
            #expect(apiMissing.status == .notFound && apiMissing.code == 404)
        }
    }
}
