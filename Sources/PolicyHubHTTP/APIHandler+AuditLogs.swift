import Foundation
import OpenAPIRuntime
import PolicyHubAPI
import PolicyHubCore

extension APIHandler {
    func listAuditLogEvents(
        _ input: Operations.ListAuditLogEvents.Input
    ) async throws -> Operations.ListAuditLogEvents.Output {
        let (events, next) = try await audit.events(
            organization: try PathName.organization(input.path.orgName),
            from: input.query.startTime.map { Date(timeIntervalSince1970: TimeInterval($0)) },
            to: input.query.endTime.map { Date(timeIntervalSince1970: TimeInterval($0)) },
            action: [input.query.event, input.query.eventFilter].compactMap { $0 }.first { !$0.isEmpty },
            continuationToken: input.query.continuationToken, caller: try RequestInfo.caller())
        let body = Components.Schemas.ListAuditLogEventsResponse(
            auditLogEvents: events.map { event in
                .init(
                    id: event.id, timestamp: Int(event.time.timeIntervalSince1970), event: event.action,
                    target: event.target, description: "\(event.actor): \(event.action) \(event.target)",
                    actor: event.actor, user: .init(name: event.actor, githubLogin: event.actor, avatarUrl: ""),
                    sourceIP: event.clientAddress, userAgent: event.userAgent)
            },
            continuationToken: next)
        return .ok(.init(body: .json(body)))
    }
}
