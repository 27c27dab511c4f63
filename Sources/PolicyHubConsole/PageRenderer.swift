import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Mustache
import PolicyHubHTTP

/// Renders pages from the module's Mustache templates inside the common layout, and the stylesheet. Every value a
/// template shows with `{{name}}` is HTML-escaped; only HTML this module produced (the layout's content, sanitised
/// Markdown) is inserted with `{{{name}}}`.
struct PageRenderer: Sendable {
    let library: MustacheLibrary
    let stylesheet: Asset
    let icon: Asset

    init() throws {
        guard let templates = Bundle.module.url(forResource: "Templates", withExtension: nil),
            let assets = Bundle.module.url(forResource: "Assets", withExtension: nil)
        else { throw ConsoleSetupError("the console's templates are missing from the installation") }
        var parsed: [String: MustacheTemplate] = [:]
        for file in try FileManager.default.contentsOfDirectory(atPath: templates.path)
        where file.hasSuffix(".mustache") {
            let text = try String(contentsOf: templates.appendingPathComponent(file), encoding: .utf8)
            parsed[String(file.dropLast(".mustache".count))] = try MustacheTemplate(string: text)
        }
        library = MustacheLibrary(templates: parsed)
        stylesheet = try Asset(assets.appendingPathComponent("console.css"), type: "text/css; charset=utf-8")
        icon = try Asset(assets.appendingPathComponent("favicon.svg"), type: "image/svg+xml")
    }

    /// `template` rendered with `values` inside the layout, whose frame (title, visitor, navigation) `frame` gives.
    func page(
        _ template: String, _ values: [String: Any], frame: [String: Any], status: HTTPResponse.Status = .ok
    ) -> Response {
        let page = Self.prepared(values.merging(frame) { own, _ in own })
        var layout = Self.prepared(frame)
        layout["content"] = PageText(library.render(page, withTemplate: template) ?? "")
        return html(library.render(layout, withTemplate: "layout") ?? "", status: status)
    }

    /// `values` with every string as `PageText`, so that an empty one counts as absent in a section.
    static func prepared(_ values: [String: Any]) -> [String: Any] {
        values.mapValues(prepared)
    }

    static func prepared(_ value: Any) -> Any {
        switch value {
        case let text as String: PageText(text)
        case let values as [String: Any]: prepared(values)
        case let items as [Any]: items.map(prepared)
        default: value
        }
    }

    func html(_ text: String, status: HTTPResponse.Status = .ok) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "text/html; charset=utf-8"
        // Pages show an organization's private data: no cache keeps them.
        headers[.cacheControl] = "no-store"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    static func redirect(to location: String, cookies: [String] = []) -> Response {
        var headers = HTTPFields()
        headers[.location] = location
        headers[.cacheControl] = "no-store"
        for cookie in cookies { headers.append(HTTPField(name: .setCookie, value: cookie)) }
        return Response(status: .seeOther, headers: headers)
    }

}

/// A file served as it is, with an ETag, so a browser revalidates it instead of fetching it again.
struct Asset: Sendable {
    let bytes: ByteBuffer
    let tag: String
    let type: String

    init(_ url: URL, type: String) throws {
        let data = try Data(contentsOf: url)
        bytes = ByteBuffer(bytes: data)
        tag = "\"" + SHA256.hash(data: data).prefix(8).map { String(format: "%02x", $0) }.joined() + "\""
        self.type = type
    }

    func response(_ request: Request) -> Response {
        var headers = HTTPFields()
        headers[.eTag] = tag
        headers[.cacheControl] = "public, max-age=300"
        if request.headers[.ifNoneMatch] == tag { return Response(status: .notModified, headers: headers) }
        headers[.contentType] = type
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: bytes))
    }
}

/// A string in a template: rendered as itself (escaped by `{{name}}`), and false in a section when empty, which
/// a plain string is not.
struct PageText: MustacheCustomRenderable {
    let text: String

    init(_ text: String) { self.text = text }

    var renderText: String { text }
    var isNull: Bool { text.isEmpty }
}

struct ConsoleSetupError: Error, CustomStringConvertible {
    let description: String

    init(_ description: String) { self.description = description }
}

/// On every console response: the headers that keep pages from being framed, sniffed, leaking their address or
/// running any script; and errors as pages, a missing session as a way back through the sign-in page.
struct PageSafetyMiddleware: RouterMiddleware {
    typealias Context = BasicRequestContext

    static let contentSecurityPolicy =
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; "
        + "base-uri 'none'"

    let pages: PageRenderer
    let logger: Logger

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        var response: Response
        do {
            response = try await next(request, context)
        } catch let signIn as SignInRequired {
            let back = signIn.returnTo.string
            response = PageRenderer.redirect(
                to: "/sign-in" + (back == "/" ? "" : "?next=" + Links.queryEscaped(back)))
        } catch {
            response = errorPage(error, request: request)
        }
        response.headers[.contentSecurityPolicy] = Self.contentSecurityPolicy
        response.headers[.xFrameOptions] = "DENY"
        response.headers[.referrerPolicy] = "same-origin"
        response.headers[.xContentTypeOptions] = "nosniff"
        return response
    }

    private func errorPage(_ error: any Error, request: Request) -> Response {
        var (status, message, details) = ErrorMapping.describe(error)
        if status == .notFound, error is HTTPError {
            message = "There is no page at \(request.uri.path)."
        }
        if status == .internalServerError {
            logger.error(
                "console page failed",
                metadata: ["path": "\(request.uri.path)", "error": "\(ErrorMapping.logDescription(error))"])
        }
        let values: [String: Any] = [
            "status": Int(status.code), "reason": status.reasonPhrase, "message": message,
            "details": details.compactMap(\.customMessage),
            "signIn": status == .unauthorized,
        ]
        return pages.page("error", values, frame: ["title": status.reasonPhrase], status: status)
    }
}

extension HTTPField.Name {
    static let xFrameOptions = Self("X-Frame-Options")!
    static let referrerPolicy = Self("Referrer-Policy")!
    static let xContentTypeOptions = Self("X-Content-Type-Options")!
}
