import AsyncHTTPClient
import NIOCore
import NIOHTTP1
import PolicyHubCore

extension HTTPClient {
    /// An API call to any server URL, the way the CLI makes it; for tests that talk to several servers or to
    /// presigned object-store URLs, which the single-connection test client cannot reach.
    func api(
        _ method: NIOHTTP1.HTTPMethod, _ url: String, token: String, body: String? = nil,
        timeout: TimeAmount = .seconds(30)
    ) async throws -> (status: UInt, json: JSONValue) {
        var request = HTTPClientRequest(url: url)
        request.method = method
        request.headers.add(name: "Authorization", value: "token \(token)")
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(string: body ?? ""))
        let response = try await execute(request, timeout: timeout)
        let bytes = try await response.body.collect(upTo: 1 << 20)
        return (response.status.code, (try? JSONValue(jsonText: String(buffer: bytes))) ?? .null)
    }
}
