import AsyncHTTPClient
import BlobStoreS3
import NIOCore
import NIOHTTP1

/// A plain HTTP request, as a client holding only a presigned URL sends it: no credentials, only the headers given.
public enum PresignedRequest {
    public static func send(
        _ method: String, _ url: String, body: [UInt8]? = nil, headers: [String: String] = [:]
    ) async throws -> (status: Int, body: [UInt8]) {
        var request = HTTPClientRequest(url: url)
        request.method = .init(rawValue: method)
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body { request.body = .bytes(ByteBuffer(bytes: body)) }
        let response = try await S3Client.sharedHTTPClient.execute(request, timeout: .seconds(30))
        let collected = try await response.body.collect(upTo: 1 << 20)
        return (Int(response.status.code), Array(collected.readableBytesView))
    }
}
