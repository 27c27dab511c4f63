import HTTPTypes
import OpenAPIRuntime
import PolicyHubCore

/// Buffers the (small) JSON bodies of API requests with a size limit, and treats an empty body as no body:
/// Pulumi's CLI sends `Content-Type: application/json` on every request, bodiless POSTs included, and the
/// transport always hands the generated code a body, which would otherwise be decoded as JSON and fail.
///
/// It also refuses the NUL character (U+0000) in parameters and body strings: no name or text may hold one,
/// and PostgreSQL's text type cannot store it, so it used to surface as a 500 from the database.
struct JSONBodyMiddleware: ServerMiddleware {
    /// A policy results report, larger, never comes here: `PolicyResultsReportRoute` reads it with its own limit.
    let maxBytes: Int

    func intercept(
        _ request: HTTPRequest, body: HTTPBody?, metadata: ServerRequestMetadata, operationID: String,
        next: (HTTPRequest, HTTPBody?, ServerRequestMetadata) async throws -> (HTTPResponse, HTTPBody?)
    ) async throws -> (HTTPResponse, HTTPBody?) {
        // A raw NUL cannot reach the request line; only its percent-encoding can.
        if request.path?.contains("%00") == true {
            throw RegistryError.invalid("The request's path or query contains a NUL character (%00).")
        }
        guard let body else { return try await next(request, nil, metadata) }
        let bytes: ArraySlice<UInt8>
        do {
            bytes = try await ArraySlice(collecting: body, upTo: maxBytes)
        } catch {
            throw RegistryError(.tooLarge, "The request body is larger than the limit of \(maxBytes) bytes.")
        }
        if Self.containsNULEscape(bytes) {
            throw RegistryError.invalid("The request body contains a NUL character (\\u0000) in a string.")
        }
        return try await next(request, bytes.isEmpty ? nil : HTTPBody(bytes), metadata)
    }

    /// Whether JSON text has the escape `\u0000`. A raw NUL byte is not valid JSON and fails decoding anyway.
    /// Each escape is skipped whole, so an escaped backslash followed by the text `u0000` is no match.
    static func containsNULEscape(_ bytes: ArraySlice<UInt8>) -> Bool {
        let backslash = UInt8(ascii: "\\")
        let zero = UInt8(ascii: "0")
        var index = bytes.startIndex
        while index < bytes.endIndex {
            guard bytes[index] == backslash, index + 1 < bytes.endIndex else {
                index += 1
                continue
            }
            if bytes[index + 1] == UInt8(ascii: "u"), index + 5 < bytes.endIndex,
                bytes[(index + 2)...(index + 5)].allSatisfy({ $0 == zero })
            {
                return true
            }
            index += 2
        }
        return false
    }
}
