import Foundation
import HTTPTypes
import NIOCore
import PolicyHubCore

/// A browser's part in a console test: it keeps the cookies the server sets, sends forms as a browser does, and
/// reads the CSRF token a page's forms carry. Redirects are not followed, so tests see where they point.
final class ConsoleBrowser: @unchecked Sendable {
    let api: APIClient
    private(set) var cookies: [String: String] = [:]

    init(_ api: APIClient) { self.api = api }

    @discardableResult
    func get(_ path: String) async throws -> APIResponse {
        try await send(.get, path, body: nil)
    }

    @discardableResult
    func post(_ path: String, _ fields: [(String, String)]) async throws -> APIResponse {
        let encoded = fields.map { Self.escape($0.0) + "=" + Self.escape($0.1) }.joined(separator: "&")
        return try await send(.post, path, body: encoded)
    }

    /// Signs in with `token` through the sign-in form; returns the answer to the form.
    @discardableResult
    func signIn(_ token: String, next: String = "") async throws -> APIResponse {
        let form = try await get("/sign-in" + (next.isEmpty ? "" : "?next=" + Self.escape(next)))
        return try await post("/sign-in", [("csrf", try Self.csrf(form)), ("next", next), ("token", token)])
    }

    func send(_ method: HTTPRequest.Method, _ path: String, body: String?) async throws -> APIResponse {
        var headers: HTTPFields = [.accept: "text/html", .userAgent: "console-test"]
        if !cookies.isEmpty {
            headers[.cookie] = cookies.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
                .joined(separator: "; ")
        }
        if body != nil { headers[.contentType] = "application/x-www-form-urlencoded" }
        let response = try await api.raw(method, path, headers: headers, body: body.map { ByteBuffer(string: $0) })
        for cookie in response.headers[values: .setCookie] {
            let pair = cookie.split(separator: ";")[0].split(separator: "=", maxSplits: 1).map(String.init)
            guard let name = pair.first else { continue }
            let value = pair.count > 1 ? pair[1] : ""
            if value.isEmpty || cookie.contains("Max-Age=0") { cookies[name] = nil } else { cookies[name] = value }
        }
        return response
    }

    /// Forgets every cookie, or sets one by hand (as another browser, or an attacker, would).
    func setCookie(_ name: String, _ value: String?) { cookies[name] = value }

    /// The CSRF token of the first form on the page.
    static func csrf(_ page: APIResponse) throws -> String {
        guard let match = page.text.firstMatch(of: /name="csrf" value="([^"]+)"/) else {
            throw TestFailure("no CSRF token on the page: \(page.text.prefix(400))")
        }
        return String(match.1)
    }

    static func escape(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? ""
    }
}

extension APIResponse {
    var location: String? { headers[.location] }
}
