import HTTPTypes
import OpenAPIRuntime
import PolicyHubCore

/// Buffers the (small) JSON bodies of API requests with a size limit, and treats an empty body as no body:
/// Pulumi's CLI sends `Content-Type: application/json` on every request, bodiless POSTs included, and the
/// transport always hands the generated code a body, which would otherwise be decoded as JSON and fail.
struct JSONBodyMiddleware: ServerMiddleware {
    let maxBytes: Int

    func intercept(
        _ request: HTTPRequest, body: HTTPBody?, metadata: ServerRequestMetadata, operationID: String,
        next: (HTTPRequest, HTTPBody?, ServerRequestMetadata) async throws -> (HTTPResponse, HTTPBody?)
    ) async throws -> (HTTPResponse, HTTPBody?) {
        guard let body else { return try await next(request, nil, metadata) }
        let bytes: ArraySlice<UInt8>
        do {
            bytes = try await ArraySlice(collecting: body, upTo: maxBytes)
        } catch {
            throw RegistryError(.tooLarge, "The request body is larger than the limit of \(maxBytes) bytes.")
        }
        return try await next(request, bytes.isEmpty ? nil : HTTPBody(bytes), metadata)
    }
}
