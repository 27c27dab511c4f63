import Foundation
import HTTPTypes
import Hummingbird
import Logging
import OpenAPIRuntime
import PolicyHubCore

/// The one place that turns errors into HTTP statuses and Pulumi's error body `{code, message, errors}`.
package enum ErrorMapping {
    package static func status(for kind: RegistryError.Kind) -> HTTPResponse.Status {
        switch kind {
        case .invalid: .badRequest
        case .unauthenticated: .unauthorized
        case .forbidden: .forbidden
        case .notFound: .notFound
        case .conflict: .conflict
        case .tooLarge: .contentTooLarge
        case .unavailable: .serviceUnavailable
        }
    }

    /// Classifies any error thrown while answering a request.
    package static func describe(_ error: any Error) -> (HTTPResponse.Status, String, [FieldProblem]) {
        switch error {
        case let error as RegistryError:
            return (status(for: error.kind), error.message, error.details)
        case let error as ServerError:
            return describe(error.underlyingError)
        case let error as DecodingError:
            return (.badRequest, "Invalid request body: \(describe(decoding: error))", [])
        case let error as any HTTPResponseConvertible:
            // OpenAPIRuntime's own request errors: missing body, wrong content type, bad parameter.
            return (error.httpStatus, "Invalid request: \(error)", [])
        case let error as HTTPError:
            return (error.status, error.body ?? error.status.reasonPhrase, [])
        case RoutingError.http(let error):
            return describe(error)
        default:
            return (.internalServerError, "Internal server error", [])
        }
    }

    /// What to log about an unexpected error: its cause, without the request that OpenAPIRuntime's `ServerError`
    /// describes in full, headers included, and so the caller's access token.
    package static func logDescription(_ error: any Error) -> String {
        switch error {
        case let error as ServerError: "\(error.operationID): \(logDescription(error.underlyingError))"
        default: String(reflecting: error)
        }
    }

    static func describe(decoding error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
            let keys = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }
            return keys.isEmpty ? "the body" : "'" + keys.joined(separator: ".") + "'"
        }
        switch error {
        case .dataCorrupted(let context):
            return context.codingPath.isEmpty ? "it is not valid JSON." : "\(path(context)) is malformed."
        case .keyNotFound(let key, let context):
            let parent = path(context)
            return "'\(key.stringValue)' is required" + (context.codingPath.isEmpty ? "." : " in \(parent).")
        case .typeMismatch(let type, let context):
            return "\(path(context)) must be of type \(type)."
        case .valueNotFound(let type, let context):
            return "\(path(context)) must be a \(type), not null."
        @unknown default:
            return "it could not be decoded."
        }
    }

    static func response(
        status: HTTPResponse.Status, message: String, details: [FieldProblem] = []
    ) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return Response(
            status: status, headers: headers,
            body: .init(byteBuffer: body(status: status, message: message, details: details)))
    }

    /// How Pulumi's error list names each kind of problem.
    static func pulumiErrorType(_ kind: FieldProblem.Kind) -> String {
        switch kind {
        case .notFound: "not_found"
        case .required: "required"
        case .invalid: "invalid"
        case .alreadyExists: "already_exists"
        case .custom: "custom"
        }
    }

    /// Pulumi's error body, `{"code": <status>, "message": ..., "errors": [...]}`.
    static func body(
        status: HTTPResponse.Status, message: String, details: [FieldProblem] = []
    ) -> ByteBuffer {
        var body: [String: JSONValue] = ["code": .int(Int64(status.code)), "message": .string(message)]
        if !details.isEmpty {
            body["errors"] = .array(
                details.map { detail in
                    var entry: [String: JSONValue] = [
                        "resource": .string(detail.resource), "errorType": .string(pulumiErrorType(detail.errorType)),
                    ]
                    if let attribute = detail.attribute { entry["attribute"] = .string(attribute) }
                    if let message = detail.customMessage { entry["customMessage"] = .string(message) }
                    return .object(entry)
                })
        }
        let text = (try? JSONValue.object(body).encoded()) ?? #"{"code":500,"message":"Internal server error"}"#
        return ByteBuffer(string: text)
    }
}
