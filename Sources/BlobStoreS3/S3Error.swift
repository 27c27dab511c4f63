/// A failed S3 request. Descriptions name the operation, the object key and what the server said, never a
/// signature or a credential.
public enum S3Error: Error, Sendable, CustomStringConvertible {
    /// The server answered with an error: its HTTP status and, from the XML body, S3's code and message.
    case service(S3ServiceError)
    /// No answer: the endpoint refused, timed out, or the connection broke.
    case unreachable(endpoint: String, operation: String, reason: String)
    /// The server answered something this client cannot read.
    case invalidResponse(operation: String, reason: String)

    public var description: String {
        switch self {
        case .service(let error): error.description
        case .unreachable(let endpoint, let operation, let reason):
            "The S3 endpoint \(endpoint) cannot be reached (\(operation)): \(reason)"
        case .invalidResponse(let operation, let reason): "Unexpected S3 response to \(operation): \(reason)"
        }
    }

    /// The S3 error code (`NoSuchKey`, `SignatureDoesNotMatch`, ...), when the server gave one.
    public var code: String? {
        if case .service(let error) = self { return error.code }
        return nil
    }

    /// No answer, or a 5xx one (`InternalError`, `SlowDown`, a proxy's 502): the store is failing, not the request.
    public var isOutage: Bool {
        switch self {
        case .unreachable: true
        case .service(let error): error.status >= 500
        case .invalidResponse: false
        }
    }

    /// The HTTP status, when the server answered.
    public var status: Int? {
        if case .service(let error) = self { return error.status }
        return nil
    }
}

/// An S3 error response, e.g. `<Error><Code>NoSuchKey</Code><Message>...</Message></Error>`.
public struct S3ServiceError: Sendable, Equatable, CustomStringConvertible {
    public var status: Int
    public var code: String
    public var message: String
    public var requestID: String?
    /// What was asked: `GET key`, `PUT key`, `LIST prefix`.
    public var operation: String

    public init(status: Int, code: String, message: String, requestID: String? = nil, operation: String) {
        self.status = status
        self.code = code
        self.message = message
        self.requestID = requestID
        self.operation = operation
    }

    public var description: String {
        "S3 \(operation) failed with \(code) (HTTP \(status))" + (message.isEmpty ? "" : ": \(message)")
            + (requestID.map { " [request \($0)]" } ?? "")
    }
}
