import ArgumentParser
import Foundation
import MetadataStoreSQL
import PolicyHubCore

/// `policyhub admin audit`: the audit trail, newest first, for operators.
struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit", abstract: "Print the audit trail, newest first (tab-separated).")

    @OptionGroup var store: StoreOptions
    @Option(help: "Only this organization's events; without it, every event, token changes included.") var org: String?
    @Option(help: "Only events of this action, e.g. policypack.version.complete.") var action: String?
    @Option(help: "At most this many events.") var limit: Int = 100

    func run() async throws {
        if let org {
            do { try NameRule.validate(org, field: "organization name") } catch { throw fail(error) }
        }
        let events = try await store.withMetadataStore {
            try await $0.auditEvents(AuditQuery(organization: org, action: action, limit: max(1, limit)), after: nil)
        }
        print(["TIME", "ORG", "ACTOR", "ACTION", "TARGET", "CLIENT", "USER AGENT"].joined(separator: "\t"))
        for event in events {
            let fields = [
                event.time.formatted(.iso8601), event.organization ?? "-", event.actor, event.action, event.target,
                event.clientAddress ?? "-", event.userAgent ?? "-",
            ]
            print(fields.joined(separator: "\t"))
        }
    }
}
