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

    /// An archive upload as the CLI makes it: a PUT of the bytes to the upload link (this server's, or a presigned
    /// object-store URL) with no Authorization. Returns the status; the body is read and dropped.
    func put(
        _ url: String, _ bytes: [UInt8], headers: [String: String] = [:], timeout: TimeAmount = .seconds(30)
    ) async throws -> UInt {
        var request = HTTPClientRequest(url: url)
        request.method = .PUT
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        request.body = .bytes(ByteBuffer(bytes: bytes))
        let response = try await execute(request, timeout: timeout)
        _ = try await response.body.collect(upTo: 1 << 20)
        return response.status.code
    }
}
