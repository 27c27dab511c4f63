import Crypto
import Foundation
import HTTPTypes
import Hummingbird

/// The console's cookies. The session cookie carries a session token (stored hashed, like every token); the
/// sign-in cookie carries the random value the sign-in form must echo, since there is no session to tie it to yet.
enum SessionCookie {
    static let session = "policyhub_session"
    static let signIn = "policyhub_signin"

    static func value(in request: Request, named name: String = session) -> String? {
        for header in request.headers[values: .cookie] {
            for pair in header.split(separator: ";") {
                let parts = pair.split(separator: "=", maxSplits: 1)
                guard parts.count == 2, parts[0].trimmingCharacters(in: .whitespaces) == name else { continue }
                let value = parts[1].trimmingCharacters(in: .whitespaces)
                return value.isEmpty ? nil : value
            }
        }
        return nil
    }

    /// `Set-Cookie` for `value`, readable by no script, sent on no cross-site request, for `lifetime` seconds
    /// (nil: until the browser closes; 0: deleted now).
    static func header(name: String, value: String, lifetime: TimeInterval?, secure: Bool) -> String {
        var cookie = "\(name)=\(value); Path=/; HttpOnly; SameSite=Strict"
        if let lifetime { cookie += "; Max-Age=\(max(0, Int(lifetime)))" }
        if secure { cookie += "; Secure" }
        return cookie
    }

    /// The CSRF token of a session: derived from the session's secret, so it needs no storage, and useless
    /// without the cookie, which no other site can read or send.
    static func csrfToken(forSession token: String) -> String {
        Data(SHA256.hash(data: Data("policyhub-console-csrf:\(token)".utf8))).base64URLEncoded
    }

    /// A random value for the sign-in form.
    static func randomValue() -> String {
        var generator = SystemRandomNumberGenerator()
        return Data((0..<24).map { _ in UInt8.random(in: .min ... .max, using: &generator) }).base64URLEncoded
    }

    /// Compares secrets in time that does not depend on where they differ.
    static func constantTimeEqual(_ lhs: String, _ rhs: String) -> Bool {
        let (a, b) = (Array(lhs.utf8), Array(rhs.utf8))
        guard a.count == b.count else { return false }
        return zip(a, b).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
    }
}

extension Data {
    var base64URLEncoded: String {
        base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}

/// A submitted `application/x-www-form-urlencoded` form.
struct FormData: Sendable {
    static let maxBytes = 256 << 10

    private var fields: [(name: String, value: String)]

    init(fields: [(name: String, value: String)]) { self.fields = fields }

    /// Reads the form of `request`; anything but a form, or a form over `maxBytes`, is refused.
    static func read(_ request: Request, context: some RequestContext) async throws -> FormData {
        let type = request.headers[.contentType]?.lowercased() ?? ""
        guard type.hasPrefix("application/x-www-form-urlencoded") else {
            throw HTTPError(.unsupportedMediaType, message: "Forms are sent as application/x-www-form-urlencoded.")
        }
        let body = try await request.body.collect(upTo: maxBytes)
        return FormData(encoded: String(buffer: body))
    }

    init(encoded: String) {
        fields = encoded.split(separator: "&").compactMap { pair in
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ text: Substring) -> String {
                String(text).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? ""
            }
            guard let name = parts.first.map(decode), !name.isEmpty else { return nil }
            return (name, parts.count > 1 ? decode(parts[1]) : "")
        }
    }

    /// The first value of `name`, trimmed; nil when absent or empty.
    subscript(name: String) -> String? {
        let value = fields.first { $0.name == name }?.value.trimmingCharacters(in: .whitespacesAndNewlines)
        return value?.isEmpty == false ? value : nil
    }

    /// Every field whose name starts with `prefix`, by the rest of its name, untrimmed.
    func fields(prefixed prefix: String) -> [(name: String, value: String)] {
        fields.filter { $0.name.hasPrefix(prefix) }.map { (String($0.name.dropFirst(prefix.count)), $0.value) }
    }
}
