import Foundation
import PolicyHubCore
import SQLKit

/// Copies every row of one store into another, empty one, table by table in dependency order, so a
/// deployment can move between SQLite and PostgreSQL with its whole history.
public enum SQLStoreCopy {
    enum Kind { case text, integer }

    struct Table {
        let name: String
        let columns: [(name: String, kind: Kind)]
        /// A stable order for paging and comparing.
        let orderBy: String
        /// Rows read at a time: fewer for a table whose rows can be large.
        var pageSize = 500
    }

    /// Every table of the schema, parents before children. Keep in step with `Migrations`.
    static let tables: [Table] = [
        Table(
            name: "users",
            columns: [("id", .text), ("login", .text), ("display_name", .text), ("created_at", .integer)],
            orderBy: "id"),
        Table(
            name: "organizations",
            columns: [("id", .text), ("login", .text), ("personal_user_id", .text), ("created_at", .integer)],
            orderBy: "id"),
        Table(
            name: "memberships", columns: [("organization_id", .text), ("user_id", .text), ("role", .text)],
            orderBy: "organization_id, user_id"),
        Table(
            name: "access_tokens",
            columns: [
                ("id", .text), ("user_id", .text), ("token_hash", .text), ("description", .text),
                ("created_at", .integer), ("expires_at", .integer), ("last_used_at", .integer),
                ("revoked_at", .integer),
            ], orderBy: "id"),
        Table(name: "settings", columns: [("name", .text), ("value", .text)], orderBy: "name"),
        Table(
            name: "policy_packs",
            columns: [
                ("id", .text), ("organization_id", .text), ("name", .text), ("next_version", .integer),
                ("created_at", .integer),
            ], orderBy: "id"),
        Table(
            name: "policy_pack_versions",
            columns: [
                ("id", .text), ("pack_id", .text), ("version", .integer), ("version_tag", .text), ("status", .text),
                ("display_name", .text), ("draft", .text), ("archive_key", .text), ("archive_size", .integer),
                ("archive_sha256", .text), ("created_at", .integer), ("uploaded_at", .integer),
                ("completed_at", .integer), ("published_by", .text),
            ], orderBy: "id"),
        Table(
            name: "policy_groups",
            columns: [
                ("id", .text), ("organization_id", .text), ("name", .text), ("is_org_default", .integer),
                ("mode", .text), ("agent_pool_id", .text), ("created_at", .integer),
            ], orderBy: "id"),
        Table(
            name: "policy_group_stacks", columns: [("group_id", .text), ("project", .text), ("stack", .text)],
            orderBy: "group_id, project, stack"),
        Table(
            name: "policy_group_packs",
            columns: [("group_id", .text), ("pack_id", .text), ("version_id", .text), ("config", .text)],
            orderBy: "group_id, pack_id"),
        Table(
            name: "audit_events",
            columns: [
                ("id", .text), ("occurred_at", .integer), ("organization", .text), ("actor", .text), ("action", .text),
                ("target", .text), ("client_address", .text), ("user_agent", .text),
            ], orderBy: "id"),
        Table(
            name: "policy_reports",
            columns: [
                ("id", .text), ("organization_id", .text), ("project", .text), ("stack", .text),
                ("update_version", .integer), ("claim_id", .text), ("succeeded", .integer), ("digest", .text),
                ("violation_count", .integer), ("resource_count", .integer), ("unknown_packs", .text),
                ("reporter", .text), ("reported_at", .integer), ("violations", .text),
            ],
            // A report's violations document is up to the size of its body (32 MiB by default).
            orderBy: "id", pageSize: 8),
        Table(
            name: "policy_stacks",
            columns: [
                ("organization_id", .text), ("project", .text), ("stack", .text), ("report_id", .text),
                ("update_version", .integer), ("evaluated_at", .integer), ("resource_count", .integer),
                ("packs_run", .text), ("open_issues", .integer), ("closed_issues", .integer),
                ("open_issue_resources", .integer),
            ], orderBy: "organization_id, project, stack"),
        Table(
            name: "policy_stack_tallies",
            columns: [
                ("organization_id", .text), ("project", .text), ("stack", .text), ("pack_name", .text),
                ("policy_name", .text), ("pack_version", .text), ("severity", .text), ("group_name", .text),
                ("group_mode", .text), ("governed", .integer), ("failing", .integer),
            ], orderBy: "organization_id, project, stack, pack_name, policy_name"),
        Table(
            name: "policy_compliance_totals",
            columns: [
                ("organization_id", .text), ("group_name", .text), ("pack_name", .text), ("policy_name", .text),
                ("severity", .text), ("group_mode", .text), ("governed", .integer), ("failing", .integer),
                ("stacks", .integer),
            ], orderBy: "organization_id, group_name, pack_name, policy_name"),
        Table(
            name: "policy_issues",
            columns: [
                ("id", .text), ("organization_id", .text), ("project", .text), ("stack", .text),
                ("resource_urn", .text), ("pack_name", .text), ("policy_name", .text), ("pack_version", .text),
                ("resource_type", .text), ("resource_name", .text),
                ("resource_provider", .text), ("message", .text), ("level", .text), ("severity", .text),
                ("status", .text), ("closed", .integer), ("kind", .text), ("priority", .text),
                ("assigned_to", .text), ("group_name", .text), ("group_mode", .text),
                ("first_observed_at", .integer), ("last_modified", .integer), ("unknown_pack", .integer),
            ], orderBy: "id"),
        Table(
            name: "policy_issue_sightings",
            columns: [
                ("issue_id", .text), ("organization_id", .text), ("closed", .integer), ("observed_at", .integer),
                ("stack_version", .integer),
            ], orderBy: "issue_id"),
        Table(
            name: "policy_issue_facets",
            columns: [
                ("organization_id", .text), ("field", .text), ("closed", .integer), ("value", .text),
                ("issues", .integer),
            ], orderBy: "organization_id, field, closed, value"),
    ]

    public static var tableNames: [String] { tables.map(\.name) }

    /// Copies everything from `source` into `target`, which must hold no user yet (its own first-start
    /// defaults are replaced). Returns the number of rows copied per table.
    public static func copy(from source: SQLMetadataStore, to target: SQLMetadataStore) async throws -> [String: Int] {
        try await target.backend.transaction { database in
            let users = try await database.raw("SELECT COUNT(*) AS count FROM users").first()?.int("count") ?? 0
            guard users == 0 else {
                throw RegistryError(.conflict, "The target store is not empty: migrate into a new database.")
            }
            // A fresh store has its signing key and nothing else; the source's replace it.
            for table in tables.reversed() { try await database.raw("DELETE FROM \(unsafeRaw: table.name)").run() }
        }
        var counts: [String: Int] = [:]
        for table in tables {
            counts[table.name] = try await forEachPage(of: table, from: source) { rows in
                try await target.backend.transaction { database in
                    for row in rows { try await insert(row, into: table, database) }
                }
            }
        }
        return counts
    }

    /// Every row of every table in a canonical text form: equal dumps mean equal stores.
    public static func dump(_ store: SQLMetadataStore) async throws -> [String: [String]] {
        var dump: [String: [String]] = [:]
        for table in tables {
            var lines: [String] = []
            try await forEachPage(of: table, from: store) { rows in
                lines += rows.map { $0.map { $0.map(String.init(describing:)) ?? "NULL" }.joined(separator: "|") }
            }
            dump[table.name] = lines
        }
        return dump
    }

    typealias Row = [(any Encodable & Sendable)?]

    /// Hands `body` the table's rows a page at a time, in the table's order; returns how many there were.
    @discardableResult
    private static func forEachPage(
        of table: Table, from store: SQLMetadataStore, _ body: ([Row]) async throws -> Void
    ) async throws -> Int {
        var offset = 0
        while true {
            let rows = try await page(of: table, from: store, offset: offset)
            if rows.isEmpty { return offset }
            try await body(rows)
            offset += rows.count
        }
    }

    private static func page(of table: Table, from store: SQLMetadataStore, offset: Int) async throws -> [Row] {
        try await store.backend.withConnection { database in
            let columns = table.columns.map(\.name).joined(separator: ", ")
            return try await database.raw(
                """
                SELECT \(unsafeRaw: columns) FROM \(unsafeRaw: table.name) ORDER BY \(unsafeRaw: table.orderBy)
                LIMIT \(literal: table.pageSize) OFFSET \(literal: offset)
                """
            ).all().map { row in
                try table.columns.map { column -> (any Encodable & Sendable)? in
                    switch column.kind {
                    case .text: try row.optionalString(column.name)
                    case .integer: try row.optionalInt(column.name)
                    }
                }
            }
        }
    }

    private static func insert(_ row: Row, into table: Table, _ database: any SQLDatabase) async throws {
        var query = SQLQueryString("INSERT INTO \(unsafeRaw: table.name) (")
        query.appendLiteral(table.columns.map(\.name).joined(separator: ", ") + ") VALUES (")
        for (index, value) in row.enumerated() {
            if index > 0 { query.appendLiteral(", ") }
            if let value { query.appendInterpolation(bind: value) } else { query.appendLiteral("NULL") }
        }
        query.appendLiteral(")")
        try await database.raw(query).run()
    }
}

extension SQLMetadataStore {
    /// The archive of every version, for copying and checking blob stores.
    public func archiveReferences() async throws -> [(version: PackVersion, archive: StoredBlob)] {
        try await backend.withConnection { database in
            try await database.raw(
                """
                SELECT \(unsafeRaw: Self.versionColumns) FROM \(unsafeRaw: Self.versionSource)
                WHERE v.archive_key IS NOT NULL ORDER BY v.id
                """
            ).all().compactMap { row in
                let version = try Self.decodeVersion(row)
                return version.archive.map { (version, $0) }
            }
        }
    }
}
