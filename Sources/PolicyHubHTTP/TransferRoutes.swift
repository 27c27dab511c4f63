import Foundation
import HTTPTypes
import Hummingbird
import PolicyHubAPI
import PolicyHubCore

/// How links to the transfer routes are spelled, on the address clients reach this server at.
public struct TransferRouteLinks: TransferLinks {
    static let uploads = "/api/uploads/"
    static let downloads = "/api/downloads/"

    /// Absolute, without a trailing slash.
    let publicURL: String

    public init(publicURL: String) {
        var url = publicURL
        while url.hasSuffix("/") { url.removeLast() }
        self.publicURL = url
    }

    public func uploadURL(token: String) -> String { publicURL + Self.uploads + token }
    public func downloadURL(token: String) -> String { publicURL + Self.downloads + token }
}

/// Archive uploads and downloads through signed links. The CLI sends no Authorization header here: the
/// signed token in the path is the only credential. Bodies are streamed to and from storage, never held whole.
struct TransferRoutes {
    let packs: PolicyPackService

    func register(on router: Router<BasicRequestContext>) {
        router.put("\(TransferRouteLinks.uploads):token") { request, context -> Response in
            let token = try context.parameters.require("token")
            let length = request.headers[.contentLength].flatMap { Int64($0) }
            try await packs.receiveUpload(token: token, body: request.body, declaredLength: length)
            return Response(status: .ok)
        }
        router.get("\(TransferRouteLinks.downloads):token") { request, context -> Response in
            try await download(request, token: try context.parameters.require("token"), includeBody: true)
        }
        router.head("\(TransferRouteLinks.downloads):token") { request, context -> Response in
            try await download(request, token: try context.parameters.require("token"), includeBody: false)
        }
    }

    /// The archive exactly as uploaded: no Content-Encoding (the CLI would gunzip it twice), the SHA-256 as
    /// ETag, conditional and single-range requests.
    func download(_ request: Request, token: String, includeBody: Bool) async throws -> Response {
        let (_, archive) = try await packs.download(token: token)
        var headers: HTTPFields = [
            .contentType: "application/octet-stream", .eTag: "\"\(archive.sha256)\"", .acceptRanges: "bytes",
            .cacheControl: "private, max-age=31536000, immutable",
        ]
        if let match = request.headers[.ifNoneMatch], ByteRange.matches(match, etag: archive.sha256) {
            return Response(status: .notModified, headers: headers)
        }
        var status = HTTPResponse.Status.ok
        var range: ClosedRange<Int64>?
        if let header = request.headers[.range] {
            switch ByteRange.parse(header, size: archive.size) {
            case .whole: break
            case .unsatisfiable:
                var response = ErrorMapping.response(
                    status: .rangeNotSatisfiable, message: "The range \(header) is outside the archive.")
                response.headers[.contentRange] = "bytes */\(archive.size)"
                return response
            case .range(let bytes):
                status = .partialContent
                range = bytes
                headers[.contentRange] = "bytes \(bytes.lowerBound)-\(bytes.upperBound)/\(archive.size)"
            }
        }
        let length = range.map { $0.upperBound - $0.lowerBound + 1 } ?? archive.size
        headers[.contentLength] = String(length)
        guard includeBody else { return Response(status: status, headers: headers) }
        let requested = range
        let body = ResponseBody(contentLength: Int(length)) { writer in
            try await packs.readArchive(archive, range: requested) { try await writer.write($0) }
            try await writer.finish(nil)
        }
        return Response(status: status, headers: headers, body: body)
    }
}

/// Single byte ranges (RFC 9110 §14): `bytes=a-b`, `bytes=a-`, `bytes=-n`. Anything else serves the whole archive.
enum ByteRange: Equatable {
    case whole
    case range(ClosedRange<Int64>)
    case unsatisfiable

    static func parse(_ header: String, size: Int64) -> ByteRange {
        let trimmed = header.trimmingCharacters(in: .whitespaces)
        guard trimmed.hasPrefix("bytes="), !trimmed.contains(",") else { return .whole }
        let spec = trimmed.dropFirst("bytes=".count).split(separator: "-", omittingEmptySubsequences: false)
        guard spec.count == 2 else { return .whole }
        let first = Int64(spec[0].trimmingCharacters(in: .whitespaces))
        let last = Int64(spec[1].trimmingCharacters(in: .whitespaces))
        switch (first, last) {
        case (let start?, let end?) where start <= end:
            return start < size ? .range(start...min(end, size - 1)) : .unsatisfiable
        case (let start?, nil) where spec[1].isEmpty:
            return start < size ? .range(start...(size - 1)) : .unsatisfiable
        case (nil, let suffix?) where spec[0].isEmpty:
            return suffix > 0 && size > 0 ? .range(max(0, size - suffix)...(size - 1)) : .unsatisfiable
        default:
            return .whole
        }
    }

    /// Whether an If-None-Match header names the entity tag.
    static func matches(_ header: String, etag: String) -> Bool {
        header.split(separator: ",").contains { candidate in
            var tag = candidate.trimmingCharacters(in: .whitespaces)
            if tag == "*" { return true }
            if tag.hasPrefix("W/") { tag.removeFirst(2) }
            return tag.trimmingCharacters(in: CharacterSet(charactersIn: "\"")) == etag
        }
    }
}

/// Health and the API description.
struct OperationsRoutes {
    let health: HealthService

    func register(on router: Router<BasicRequestContext>) {
        // Liveness: 200 while the process serves, with each dependency's state.
        router.get("/healthz") { _, _ -> Response in
            let report = await health.check()
            return Self.json(report, status: .ok)
        }
        // Readiness: 503 while a dependency is away, so a load balancer sends traffic elsewhere.
        router.get("/readyz") { _, _ -> Response in
            let report = await health.check()
            return Self.json(report, status: report.isReady ? .ok : .serviceUnavailable)
        }
        router.get("/api/openapi.yaml") { _, _ -> Response in
            Self.text(OpenAPIDocument.yaml, contentType: "application/yaml")
        }
    }

    static func json(_ report: HealthReport, status: HTTPResponse.Status) -> Response {
        let body: JSONValue = [
            "status": .string(report.isReady ? "ok" : "degraded"), "database": .string(report.database),
            "blobStore": .string(report.blobStore),
        ]
        var response = text((try? body.encoded()) ?? "{}", contentType: "application/json")
        response.status = status
        return response
    }

    static func text(_ text: String, contentType: String) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = contentType
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}
