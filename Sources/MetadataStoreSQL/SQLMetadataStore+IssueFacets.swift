import PolicyHubCore
import SQLKit

/// How many open and closed issues have each value of each low-cardinality field, kept in
/// `policy_issue_facets` so that a filter menu reads a few rows instead of counting a million issues. Every write
/// of `policy_issues` moves these counts by the difference it makes, in sorted order (so that concurrent reports
/// lock the same rows in the same order).
struct IssueFacets: Hashable {
    /// The fields counted, as the grid names them, and their columns. M0007 filled the table from these.
    static let fields: [(column: IssueColumn, sql: String)] = [
        (.entityProject, "project"), (.entityId, "stack"), (.policyPack, "pack_name"),
        (.policyPackTag, "pack_version"), (.policyName, "policy_name"), (.resourceProvider, "resource_provider"),
        (.resourceType, "resource_type"), (.level, "level"), (.severity, "severity"), (.status, "status"),
        (.kind, "kind"), (.priority, "priority"), (.assignedTo, "assigned_to"), (.policyGroupName, "group_name"),
        (.policyGroupType, "group_mode"),
    ]
    static let counted = Set(fields.map(\.column))
    /// The columns to select for `init(row:)`.
    static let selection = fields.map { "COALESCE(\($0.sql), '') AS facet_\($0.sql)" }.joined(separator: ", ")

    var closed: Bool
    /// In the order of `fields`.
    var values: [String]

    init(closed: Bool, values: [String]) {
        self.closed = closed
        self.values = values
    }

    /// An issue row selected with `selection` and its `closed` column.
    init(row: any SQLRow) throws {
        self.closed = try row.int("closed") != 0
        self.values = try Self.fields.map { try row.optionalString("facet_\($0.sql)") ?? "" }
    }

    subscript(column: IssueColumn) -> String {
        get { values[Self.fields.firstIndex { $0.column == column }!] }
        set { values[Self.fields.firstIndex { $0.column == column }!] = newValue }
    }
}

/// Changes to the facet counts, gathered over one transaction's writes.
struct FacetDeltas {
    struct Key: Hashable, Comparable {
        var field: String
        var closed: Bool
        var value: String

        static func < (lhs: Key, rhs: Key) -> Bool {
            (lhs.field, lhs.closed ? 1 : 0, lhs.value) < (rhs.field, rhs.closed ? 1 : 0, rhs.value)
        }
    }

    private(set) var changes: [Key: Int] = [:]

    mutating func add(_ facets: IssueFacets, _ sign: Int) {
        for (index, field) in IssueFacets.fields.enumerated() {
            changes[
                Key(field: field.column.rawValue, closed: facets.closed, value: facets.values[index]), default: 0] +=
                sign
        }
    }

    /// An issue that was `old` and is now `new` (nil: it did not exist).
    mutating func move(from old: IssueFacets?, to new: IssueFacets) {
        guard old != new else { return }
        if let old { add(old, -1) }
        add(new, 1)
    }

    func apply(_ database: any SQLDatabase, orgID: String) async throws {
        let moved = changes.filter { $0.value != 0 }.keys.sorted()
        for batch in moved.chunked(SQLMetadataStore.batchRows) {
            let rows = batch.map { key -> SQLQueryString in
                """
                (\(bind: orgID), \(bind: key.field), \(bind: key.closed ? 1 : 0), \(bind: key.value), \
                \(bind: changes[key] ?? 0))
                """
            }
            try await database.raw(
                """
                INSERT INTO policy_issue_facets (organization_id, field, closed, value, issues)
                VALUES \(rows.joined(separator: ", "))
                ON CONFLICT (organization_id, field, closed, value) DO UPDATE SET
                    issues = policy_issue_facets.issues + excluded.issues
                """
            ).run()
        }
    }
}

extension SQLMetadataStore {
    /// A filter menu without other filters, from the facet counts. Values no issue has any more keep a row at
    /// zero, which is not shown.
    static func facetValues(
        _ database: any SQLDatabase, orgID: String, scope: IssueScope, column: IssueColumn, limit: Int
    ) async throws -> [GroupCount] {
        let closed =
            switch scope {
            case .open: "AND closed = 0"
            case .closed: "AND closed = 1"
            case .all: ""
            }
        return try await database.raw(
            """
            SELECT value, CAST(SUM(issues) AS BIGINT) AS n FROM policy_issue_facets
            WHERE organization_id = \(bind: orgID) AND field = \(bind: column.rawValue) \(unsafeRaw: closed)
            GROUP BY value HAVING SUM(issues) > 0 ORDER BY n DESC, value LIMIT \(bind: limit)
            """
        ).all().map { GroupCount(value: try $0.string("value"), count: Int(try $0.int("n"))) }
    }
}
