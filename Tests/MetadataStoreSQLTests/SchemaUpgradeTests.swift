import Foundation
import PolicyHubCore
import PolicyHubTestSupport
import SQLKit
import Testing

@testable import MetadataStoreSQL

/// Stores written by an earlier release keep everything when a later one migrates them.
@Suite("Schema upgrades")
struct SchemaUpgradeTests {
    /// Rows as a store at schema 8 held them: each issue's last sighting in its own row, and each violation of each
    /// report a row, those of each stack's newest report flagged `current`.
    static let schema8Rows = [
        "INSERT INTO organizations (id, login, personal_user_id, created_at) VALUES ('o1', 'acme', NULL, 0)",
        """
        INSERT INTO policy_reports (id, organization_id, project, stack, update_version, claim_id, succeeded, digest,
            violation_count, resource_count, unknown_packs, reporter, reported_at)
        VALUES ('r1', 'o1', 'web', 'prod', 1, NULL, 1, 'd1', 1, 1, '[]', 'ci', 1000),
               ('r2', 'o1', 'web', 'prod', 2, NULL, 1, 'd2', 1, 1, '[]', 'ci', 2000)
        """,
        """
        INSERT INTO policy_stacks (organization_id, project, stack, report_id, update_version, evaluated_at,
            resource_count, packs_run, open_issues, closed_issues, open_issue_resources)
        VALUES ('o1', 'web', 'prod', 'r2', 2, 2000, 1, '{}', 1, 1, 1)
        """,
        """
        INSERT INTO policy_issues (id, organization_id, project, stack, resource_urn, pack_name, policy_name,
            stack_version, pack_version, resource_type, resource_name, resource_provider, message, level, severity,
            status, closed, kind, priority, assigned_to, group_name, group_mode, first_observed_at, observed_at,
            last_modified, unknown_pack)
        VALUES ('i-open', 'o1', 'web', 'prod', 'urn:pulumi:prod::web::aws:s3/bucket:Bucket::logs', 'security',
                'no-public-buckets', 2, '1.0.0', 'aws:s3/bucket:Bucket', 'logs', 'aws', 'public', 'mandatory',
                'high', 'in_progress', 0, 'preventative', 'p1', '', 'default', 'preventative', 1000, 2000, 1500, 0),
               ('i-fixed', 'o1', 'web', 'prod', 'urn:pulumi:prod::web::aws:s3/bucket:Bucket::data', 'security',
                'no-public-buckets', 1, '1.0.0', 'aws:s3/bucket:Bucket', 'data', 'aws', 'public', 'mandatory',
                'high', 'fixed', 1, 'preventative', '', '', 'default', 'preventative', 1000, 1000, 2000, 0)
        """,
        """
        INSERT INTO policy_report_violations (id, report_id, organization_id, current, observed_at, resource_urn,
            pack_name, pack_version, policy_name, level, kind, message, resource_type, resource_name)
        VALUES ('v1', 'r1', 'o1', 0, 1000, 'urn:pulumi:prod::web::aws:s3/bucket:Bucket::data', 'security', '1.0.0',
                'no-public-buckets', 'mandatory', 'preventative', 'public', 'aws:s3/bucket:Bucket', 'data'),
               ('v2', 'r2', 'o1', 1, 2000, 'urn:pulumi:prod::web::aws:s3/bucket:Bucket::logs', 'security', '1.0.0',
                'no-public-buckets', 'mandatory', 'preventative', 'public', 'aws:s3/bucket:Bucket', 'logs')
        """,
    ]

    @Test(arguments: MetadataBackend.available)
    func issueSightingsAndReportViolationsSurviveTheUpgradeToSchema9(backend: MetadataBackend) async throws {
        try await backend.withUnmigratedBackend { database in
            try await Migrations.run(on: database, through: 8)
            try await database.transaction { connection in
                for statement in Self.schema8Rows { try await connection.raw("\(unsafeRaw: statement)").run() }
            }
            let store = try await SQLMetadataStore.open(database)
            do {
                let open = try await store.issues(organization: "acme", scope: .open, query: GridQuery())
                #expect(open.issues.map(\.id) == ["i-open"])
                #expect(open.issues.first?.stackVersion == 2)
                #expect(open.issues.first?.observedAt == Date(milliseconds: 2000))
                #expect(open.issues.first?.status == .inProgress)
                #expect(open.issues.first?.priority == .p1)

                let closed = try await store.issues(organization: "acme", scope: .closed, query: GridQuery())
                #expect(closed.issues.map(\.id) == ["i-fixed"])
                #expect(closed.issues.first?.stackVersion == 1)
                #expect(closed.issues.first?.observedAt == Date(milliseconds: 1000))

                // Filtering and sorting by the moved columns reads them from their new table.
                let seenEarly = try await store.issues(
                    organization: "acme", scope: .all,
                    query: GridQuery(filter: .condition(.observedAt, .lessThan, .number(1500))))
                #expect(seenEarly.issues.map(\.id) == ["i-fixed"])
                #expect(seenEarly.rowCount == 1)
                let newestFirst = try await store.issues(
                    organization: "acme", scope: .all,
                    query: GridQuery(sort: [GridSort(.stackVersion, ascending: false)]))
                #expect(newestFirst.issues.map(\.id) == ["i-open", "i-fixed"])

                // Only the newest report's violations are current, as the flag said; each report keeps its own.
                let current = try await store.currentViolations(organization: "acme", after: nil, limit: 10)
                #expect(current.map(\.id) == ["r2-0"])
                #expect(current.first?.violation.resourceURN == "urn:pulumi:prod::web::aws:s3/bucket:Bucket::logs")
                #expect(current.first?.resource.name == "logs")
                #expect(current.first?.updateVersion == 2)
                #expect(current.first?.observedAt == Date(milliseconds: 2000))
                let documents = try await database.withConnection { connection in
                    try await connection.raw("SELECT id, violations FROM policy_reports ORDER BY id").all().map {
                        (
                            try $0.decode(column: "id", as: String.self),
                            try $0.decode(column: "violations", as: String.self)
                        )
                    }
                }
                #expect(documents.map(\.0) == ["r1", "r2"])
                #expect(documents.first?.1.contains("Bucket::data") == true)
                #expect(documents.first?.1.contains("\"enforcementLevel\":\"mandatory\"") == true)
                try await store.shutdown()
            } catch {
                try? await store.shutdown()
                throw error
            }
        }
    }
}
