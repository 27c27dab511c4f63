import PolicyHubCore

/// What the edge of the server learned about the current request, handed to handlers in a task-local
/// (the generated OpenAPI handlers have no request context of their own).
struct RequestInfo: Sendable {
    var principal: Principal?
    var queryNames: [String]

    @TaskLocal static var current = RequestInfo(principal: nil, queryNames: [])

    /// The authenticated caller, or 401.
    static func caller() throws(RegistryError) -> Principal {
        guard let principal = current.principal else { throw RegistryError.unauthenticated }
        return principal
    }

    /// Rejects query parameters an operation does not define, so typos do not silently widen a result.
    static func allowQuery(_ names: Set<String>) throws(RegistryError) {
        if let unknown = current.queryNames.first(where: { !names.contains($0) }) {
            throw RegistryError.invalid(
                "Unknown query parameter '\(unknown)'.",
                details: [.init(resource: "request", attribute: unknown, errorType: .invalid)])
        }
    }
}
