import Foundation

/// Where a request came from, for the audit trail. The HTTP edge sets it for the task serving the request.
public struct RequestOrigin: Hashable, Sendable {
    public var clientAddress: String?
    public var userAgent: String?

    public init(clientAddress: String?, userAgent: String?) {
        self.clientAddress = clientAddress
        self.userAgent = userAgent
    }

    @TaskLocal public static var current = RequestOrigin(clientAddress: nil, userAgent: nil)
}

/// One change, or one refused attempt at a change: who, what, where, when. Events are only ever added.
public struct AuditEvent: Hashable, Sendable {
    public var id: String
    public var time: Date
    public var organization: String?
    /// The acting user's login, or `anonymous`.
    public var actor: String
    /// Dotted and stable, e.g. `policypack.version.complete`; see `AuditAction`.
    public var action: String
    /// What the action was on, e.g. `aws-guardrails@1.4.0`.
    public var target: String
    public var clientAddress: String?
    public var userAgent: String?

    public init(
        id: String = UUID().uuidString.lowercased(), time: Date, organization: String?, actor: String, action: String,
        target: String, origin: RequestOrigin = RequestOrigin.current
    ) {
        self.id = id
        self.time = time
        self.organization = organization
        self.actor = actor
        self.action = action
        self.target = target
        self.clientAddress = origin.clientAddress
        self.userAgent = origin.userAgent
    }
}

/// The actions the audit trail records.
public enum AuditAction {
    public static let versionCreated = "policypack.version.create"
    public static let versionCompleted = "policypack.version.complete"
    public static let versionDeleted = "policypack.version.delete"
    public static let packDeleted = "policypack.delete"
    public static let groupCreated = "policygroup.create"
    public static let groupUpdated = "policygroup.update"
    public static let groupDeleted = "policygroup.delete"
    public static let tokenCreated = "token.create"
    public static let tokenRevoked = "token.revoke"
    public static let sessionStarted = "session.start"
    public static let sessionEnded = "session.end"
    public static let authorizationDenied = "authorization.denied"
    public static let issueUpdated = "policyissue.update"
}

/// A page of audit events, newest first.
public struct AuditQuery: Hashable, Sendable {
    /// Nil: every organization, and events of none (token changes), for operators.
    public var organization: String?
    public var from: Date?
    public var to: Date?
    public var action: String?
    public var limit: Int

    public init(organization: String?, from: Date? = nil, to: Date? = nil, action: String? = nil, limit: Int = 100) {
        self.organization = organization
        self.from = from
        self.to = to
        self.action = action
        self.limit = limit
    }
}

/// Where to resume reading audit events: just after (older than) this one.
public struct AuditCursor: PageCursor, Hashable, Sendable {
    public var time: Int64
    public var id: String

    public init(time: Int64, id: String) {
        self.time = time
        self.id = id
    }
}

extension Principal {
    /// An event this caller causes now.
    func event(_ action: String, in organization: String?, target: String, at time: Date) -> AuditEvent {
        AuditEvent(time: time, organization: organization, actor: login, action: action, target: target)
    }
}

/// Reading the audit trail: organization admins only.
public struct AuditService: Sendable {
    public static let pageSize = 100
    /// The widest time bound accepted, in seconds from 1970 (about 31 million years), far inside Int64 milliseconds.
    public static let maxBoundSeconds: TimeInterval = 1e15

    let store: any AuditStore
    let authorizer: Authorizer

    public init(store: any AuditStore, authorizer: Authorizer) {
        self.store = store
        self.authorizer = authorizer
    }

    public func events(
        organization: Name, from: Date?, to: Date?, action: String?, continuationToken: String?, caller: Principal
    ) async throws -> (events: [AuditEvent], continuationToken: String?) {
        let organization = organization.text
        try await authorizer.require(.readAuditLog, in: organization, target: "audit log", caller: caller)
        // Stores keep times as Int64 milliseconds: a bound past that range trapped and took the server down.
        for (field, bound) in [("startTime", from), ("endTime", to)] {
            if let bound, abs(bound.timeIntervalSince1970) > Self.maxBoundSeconds {
                throw RegistryError.invalid(
                    "\(field) must be Unix seconds within ±\(Int64(Self.maxBoundSeconds)).",
                    details: [.init(resource: "request", attribute: field, errorType: .invalid)])
            }
        }
        let cursor = try continuationToken.flatMap { token throws(RegistryError) in
            token.isEmpty ? nil : try AuditCursor(token: token)
        }
        let query = AuditQuery(organization: organization, from: from, to: to, action: action, limit: Self.pageSize + 1)
        let events = try await store.auditEvents(query, after: cursor)
        let page = Array(events.prefix(Self.pageSize))
        let next =
            events.count > Self.pageSize
            ? page.last.map {
                AuditCursor(time: $0.time.milliseconds, id: $0.id).token
            }
            : nil
        return (page, next)
    }
}

/// Times as integer milliseconds since 1970: how the stores keep them, and so what audit cursors carry.
extension Date {
    public var milliseconds: Int64 { Int64((timeIntervalSince1970 * 1000).rounded()) }

    public init(milliseconds: Int64) { self.init(timeIntervalSince1970: Double(milliseconds) / 1000) }
}
