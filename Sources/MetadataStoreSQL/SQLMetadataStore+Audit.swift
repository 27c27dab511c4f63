import Foundation
import PolicyHubCore
import SQLKit

extension SQLMetadataStore {
    /// Adds `event` in the caller's transaction, so the change and its record commit or roll back together.
    static func insert(_ event: AuditEvent?, _ database: any SQLDatabase) async throws {
        guard let event else { return }
        try await database.raw(
            """
            INSERT INTO audit_events
                (id, occurred_at, organization, actor, action, target, client_address, user_agent)
            VALUES (\(bind: event.id), \(bind: event.time.milliseconds), \(bind: event.organization),
                    \(bind: event.actor), \(bind: event.action), \(bind: event.target), \(bind: event.clientAddress),
                    \(bind: event.userAgent))
            """
        ).run()
    }

    public func recordAudit(_ event: AuditEvent) async throws {
        try await backend.transaction { database in try await Self.insert(event, database) }
    }

    public func auditEvents(_ query: AuditQuery, after cursor: AuditCursor?) async throws -> [AuditEvent] {
        var filters: SQLQueryString = query.organization.map { "organization = \(bind: $0)" } ?? "1 = 1"
        if let from = query.from { filters = "\(filters) AND occurred_at >= \(bind: from.milliseconds)" }
        if let to = query.to { filters = "\(filters) AND occurred_at < \(bind: to.milliseconds)" }
        if let action = query.action { filters = "\(filters) AND action = \(bind: action)" }
        if let cursor {
            filters =
                "\(filters) AND (occurred_at < \(bind: cursor.time) OR (occurred_at = \(bind: cursor.time) AND id < \(bind: cursor.id)))"
        }
        let condition = filters
        return try await backend.withConnection { database in
            try await database.raw(
                """
                SELECT id, occurred_at, organization, actor, action, target, client_address, user_agent
                FROM audit_events WHERE \(condition)
                ORDER BY occurred_at DESC, id DESC
                LIMIT \(literal: query.limit)
                """
            ).all().map { row in
                AuditEvent(
                    id: try row.string("id"), time: Date(milliseconds: try row.int("occurred_at")),
                    organization: try row.optionalString("organization"), actor: try row.string("actor"),
                    action: try row.string("action"), target: try row.string("target"),
                    origin: RequestOrigin(
                        clientAddress: try row.optionalString("client_address"),
                        userAgent: try row.optionalString("user_agent")))
            }
        }
    }
}
