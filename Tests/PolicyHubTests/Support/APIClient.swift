import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import PolicyHubCore

/// A response with its body parsed as JSON when it is JSON.
struct APIResponse {
    let status: HTTPResponse.Status
    let headers: HTTPFields
    let body: ByteBuffer

    var text: String { String(buffer: body) }
    var json: JSONValue { (try? JSONValue(jsonText: text)) ?? .null }
    var message: String? { json["message"]?.stringValue }
    var code: Int64? {
        if case .int(let code)? = json["code"] { return code }
        return nil
    }
}

/// Sends requests the way the Pulumi CLI does: `Authorization: token ...`, `Accept: application/vnd.pulumi+9`,
/// and `Content-Type: application/json` on every request, with or without a body.
struct APIClient: Sendable {
    typealias Transport = @Sendable (String, HTTPRequest.Method, HTTPFields, ByteBuffer?) async throws -> APIResponse

    let transport: Transport
    /// The server's port on loopback, for tests that need connections of their own.
    var port: Int?

    /// Through HummingbirdTesting's client of an in-process application.
    init(client: any TestClientProtocol) {
        port = client.port
        transport = { uri, method, headers, body in
            let response = try await client.execute(uri: uri, method: method, headers: headers, body: body)
            return APIResponse(status: response.status, headers: response.headers, body: response.body)
        }
    }

    /// Through a plain HTTP/1.1 connection to a server in another process.
    init(client: TestClient) {
        transport = { uri, method, headers, body in
            let response = try await client.execute(
                .init(uri, method: method, authority: "127.0.0.1", headers: headers, body: body))
            return APIResponse(status: response.status, headers: response.headers, body: response.body ?? ByteBuffer())
        }
    }

    static let cliHeaders: HTTPFields = [
        .accept: "application/vnd.pulumi+9", .contentType: "application/json", .acceptEncoding: "gzip",
        .userAgent: "pulumi-cli/1 (v3.259.0; linux; cmd=policy-publish)",
    ]

    func send(
        _ method: HTTPRequest.Method, _ path: String, token: String?, json: JSONValue? = nil,
        headers extra: HTTPFields = [:]
    ) async throws -> APIResponse {
        var headers = Self.cliHeaders
        if let token { headers[.authorization] = "token \(token)" }
        for field in extra { headers[field.name] = field.value }
        let body = try json.map { ByteBuffer(string: try $0.encoded()) }
        return try await raw(method, path, headers: headers, body: body)
    }

    func raw(_ method: HTTPRequest.Method, _ path: String, headers: HTTPFields, body: ByteBuffer?) async throws
        -> APIResponse
    {
        var headers = headers
        // Go's HTTP client, like the CLI, always states the length of a POST, PUT or PATCH body.
        if [.post, .put, .patch].contains(method) && headers[.contentLength] == nil {
            headers[.contentLength] = String(body?.readableBytes ?? 0)
        }
        return try await transport(path, method, headers, body)
    }

    /// The CLI's upload: a PUT to the upload URI with the required headers and no Authorization.
    func upload(_ uploadURI: String, _ archive: [UInt8], headers required: [String: String] = [:]) async throws
        -> APIResponse
    {
        guard let url = URLComponents(string: uploadURI) else { throw TestFailure("bad upload URI \(uploadURI)") }
        var headers: HTTPFields = [.userAgent: "pulumi-cli/1 (v3.259.0; linux; cmd=policy-publish)"]
        for (name, value) in required {
            if let field = HTTPField.Name(name) { headers[field] = value }
        }
        return try await raw(.put, url.percentEncodedPath, headers: headers, body: ByteBuffer(bytes: archive))
    }

    /// The CLI's download of a `packLocation`: no Authorization header, only a User-Agent and Go's
    /// automatic `Accept-Encoding: gzip`.
    func download(_ location: String, method: HTTPRequest.Method = .get, headers extra: HTTPFields = [:])
        async throws -> APIResponse
    {
        guard let url = URLComponents(string: location) else { throw TestFailure("bad pack location \(location)") }
        var headers: HTTPFields = [.userAgent: "pulumi-cli/1 (v3.259.0; linux)", .acceptEncoding: "gzip"]
        for field in extra { headers[field.name] = field.value }
        return try await raw(method, url.percentEncodedPath, headers: headers, body: nil)
    }

    /// Create, upload and complete one version; returns the version number.
    @discardableResult
    func publish(
        _ organization: String, _ name: String, tag: String?, token: String,
        policies: [JSONValue] = [Fixtures.policy("rule")], archive: [UInt8]? = nil
    ) async throws -> Int {
        let created = try await send(
            .post, "/api/orgs/\(organization)/policypacks", token: token,
            json: Fixtures.createBody(name, tag: tag, policies: policies))
        guard created.status == .created, case .int(let version)? = created.json["version"],
            let uploadURI = created.json["uploadURI"]?.stringValue
        else { throw TestFailure("create failed: \(created.status) \(created.text)") }
        let uploaded = try await upload(uploadURI, archive ?? Fixtures.packArchive())
        guard uploaded.status == .ok else { throw TestFailure("upload failed: \(uploaded.status) \(uploaded.text)") }
        let completed = try await send(
            .post, "/api/orgs/\(organization)/policypacks/\(name)/versions/\(tag ?? String(version))/complete",
            token: token)
        guard completed.status == .noContent else {
            throw TestFailure("complete failed: \(completed.status) \(completed.text)")
        }
        return Int(version)
    }
}
