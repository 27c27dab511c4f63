import Foundation
import PolicyHubCore
import SQLKit

/// The read side of policy results: issues, compliance, totals and current violations.
extension SQLMetadataStore {
    static let issueGrid = SQLGrid<IssueColumn> { column in
        switch column {
        case .id: "i.id"
        case .entityProject: "i.project"
        case .entityId: "i.stack"
        case .stackVersion: "o.stack_version"
        case .policyPack: "i.pack_name"
        case .policyPackTag: "i.pack_version"
        case .policyName: "i.policy_name"
        case .resourceURN: "i.resource_urn"
        case .resourceProvider: "i.resource_provider"
        case .resourceType: "i.resource_type"
        case .resourceName: "i.resource_name"
        case .message: "i.message"
        case .observedAt: "o.observed_at"
        case .lastModified: "i.last_modified"
        case .firstObservedAt: "i.first_observed_at"
        case .level: "i.level"
        case .severity: "i.severity"
        case .status: "i.status"
        case .kind: "i.kind"
        case .priority: "i.priority"
        case .assignedTo: "i.assigned_to"
        case .policyGroupName: "i.group_name"
        case .policyGroupType: "i.group_mode"
        }
    }

    static let complianceGrid = SQLGrid<PolicyComplianceColumn> { column in
        switch column {
        case .policyName: "t.policy_name"
        case .policyPack: "t.pack_name"
        case .severity: "t.severity"
        case .failingResources: "t.failing"
        case .governedResources: "t.governed"
        case .percentCompliant:
            "(CASE WHEN t.governed <= 0 THEN 100 ELSE ((t.governed - t.failing) * 100) / t.governed END)"
        case .policyGroupName: "t.group_name"
        case .policyGroupType: "t.group_mode"
        }
    }

    static let issueColumns = """
        i.id AS id, i.project AS project, i.stack AS stack, i.resource_urn AS resource_urn,
        i.pack_name AS pack_name, i.policy_name AS policy_name, o.stack_version AS stack_version,
        i.pack_version AS pack_version, i.resource_type AS resource_type, i.resource_name AS resource_name,
        i.resource_provider AS resource_provider, i.message AS message, i.level AS level, i.severity AS severity,
        i.status AS status, i.kind AS kind, i.priority AS priority, i.assigned_to AS assigned_to,
        u.display_name AS assignee_name, i.group_name AS group_name, i.group_mode AS group_mode,
        i.first_observed_at AS first_observed_at, o.observed_at AS observed_at, i.last_modified AS last_modified,
        i.unknown_pack AS unknown_pack
        """

    static let issueJoins = "LEFT JOIN users u ON u.login = i.assigned_to"

    /// The grid's columns kept in an issue's sighting (`o`) rather than its row (`i`).
    static let sightingColumns: Set<IssueColumn> = [.observedAt, .stackVersion]

    /// FROM and WHERE for the organization's issues in `scope`: `policy_issues i`, joined to its sightings as `o`
    /// when `sightings` (a query reads one of `sightingColumns`). The organization and `closed` are given for both
    /// tables, so that either table's index can lead.
    static func issueScope(orgID: String, scope: IssueScope, sightings: Bool) -> (
        tables: String, condition: SQLQueryString
    ) {
        let closed: String? =
            switch scope {
            case .open: "0"
            case .closed: "1"
            case .all: nil
            }
        guard sightings else {
            return (
                "policy_issues i",
                "i.organization_id = \(bind: orgID)\(unsafeRaw: closed.map { " AND i.closed = \($0)" } ?? "")"
            )
        }
        return (
            "policy_issues i JOIN policy_issue_sightings o ON o.issue_id = i.id",
            """
            i.organization_id = \(bind: orgID) AND o.organization_id = \(bind: orgID)\
            \(unsafeRaw: closed.map { " AND i.closed = \($0) AND o.closed = \($0)" } ?? "")
            """
        )
    }

    /// Whether a query reading `columns` needs the sightings.
    static func readsSightings(_ columns: Set<IssueColumn>) -> Bool { !columns.isDisjoint(with: sightingColumns) }

    static func decodeIssue(_ row: any SQLRow) throws -> PolicyIssueRecord {
        func nonEmpty(_ column: String) throws -> String? {
            let value = try row.optionalString(column) ?? ""
            return value.isEmpty ? nil : value
        }
        let assignee = try nonEmpty("assigned_to").map { login in
            PolicyIssueRecord.Assignee(login: login, displayName: try row.optionalString("assignee_name") ?? login)
        }
        return PolicyIssueRecord(
            id: try row.string("id"),
            stack: StackReference(project: try row.string("project"), name: try row.string("stack")),
            key: IssueKey(
                resourceURN: try row.string("resource_urn"), packName: try row.string("pack_name"),
                policyName: try row.string("policy_name")),
            stackVersion: try row.int("stack_version"), packVersion: try row.string("pack_version"),
            resource: ResourceParts(
                type: try row.string("resource_type"), name: try row.string("resource_name"),
                provider: try row.string("resource_provider")),
            message: try row.string("message"),
            level: EnforcementLevel(rawValue: try row.string("level")) ?? .advisory,
            severity: PolicySeverity(rawValue: try row.string("severity")),
            status: IssueStatus(rawValue: try row.string("status")) ?? .open,
            kind: IssueKind(rawValue: try row.string("kind")) ?? .preventative,
            priority: try nonEmpty("priority").flatMap(IssuePriority.init(rawValue:)), assignee: assignee,
            groupName: try nonEmpty("group_name"),
            groupMode: try nonEmpty("group_mode").flatMap(PolicyGroupMode.init(rawValue:)),
            firstObservedAt: Date(milliseconds: try row.int("first_observed_at")),
            observedAt: Date(milliseconds: try row.int("observed_at")),
            lastModified: Date(milliseconds: try row.int("last_modified")),
            unknownPack: try row.int("unknown_pack") != 0)
    }

    static func issue(_ database: any SQLDatabase, orgID: String, id: String) async throws -> PolicyIssueRecord? {
        try await database.raw(
            """
            SELECT \(unsafeRaw: issueColumns)
            FROM policy_issues i JOIN policy_issue_sightings o ON o.issue_id = i.id \(unsafeRaw: issueJoins)
            WHERE i.id = \(bind: id) AND i.organization_id = \(bind: orgID)
            """
        ).first().map(decodeIssue)
    }

    public func issue(organization: String, id: String) async throws -> PolicyIssueRecord? {
        try await backend.withConnection { database in
            try await Self.issue(database, orgID: try await Self.organizationID(database, organization), id: id)
        }
    }

    public func issues(organization: String, scope: IssueScope, query: GridQuery<IssueColumn>) async throws
        -> IssuePage
    {
        try await backend.withConnection { database in
            let orgID = try await Self.organizationID(database, organization)
            let filter = Self.issueGrid.condition(query.effectiveFilter)
            let filtered = query.effectiveFilter?.columns ?? []
            if let column = query.groupingColumn {
                let (tables, scoped) = Self.issueScope(
                    orgID: orgID, scope: scope, sightings: Self.readsSightings(filtered.union([column])))
                let value = Self.issueGrid.textExpression(column)
                let groups = try await database.raw(
                    """
                    SELECT \(unsafeRaw: value) AS value, COUNT(*) AS n FROM \(unsafeRaw: tables)
                    WHERE \(scoped) AND \(filter)
                    GROUP BY \(unsafeRaw: value) ORDER BY value
                    LIMIT \(bind: query.limit) OFFSET \(bind: query.startRow)
                    """
                ).all().map { GroupCount(value: try $0.optionalString("value") ?? "", count: Int(try $0.int("n"))) }
                let total = try await database.raw(
                    """
                    SELECT COUNT(*) AS n FROM (SELECT \(unsafeRaw: value) AS value FROM \(unsafeRaw: tables)
                    WHERE \(scoped) AND \(filter) GROUP BY \(unsafeRaw: value)) grouped
                    """
                ).first()?.int("n")
                return IssuePage(issues: [], groups: groups, rowCount: Int(total ?? 0))
            }
            // The tie-break runs the way the first sort does, so the default order (newest sighting first) can walk
            // the sightings' time index backwards.
            let tieBreak = query.sort.first?.ascending == false ? "o.issue_id DESC" : "o.issue_id ASC"
            let (tables, scoped) = Self.issueScope(orgID: orgID, scope: scope, sightings: true)
            let issues = try await database.raw(
                """
                SELECT \(unsafeRaw: Self.issueColumns) FROM \(unsafeRaw: tables) \(unsafeRaw: Self.issueJoins)
                WHERE \(scoped) AND \(filter)
                ORDER BY \(unsafeRaw: Self.issueGrid.order(query.sort, tieBreak: tieBreak))
                LIMIT \(bind: query.limit) OFFSET \(bind: query.startRow)
                """
            ).all().map(Self.decodeIssue)
            let total: Int64?
            if query.effectiveFilter == nil {
                // Unfiltered: the stacks' counts, not a scan of every issue.
                let counted =
                    switch scope {
                    case .open: "open_issues"
                    case .closed: "closed_issues"
                    case .all: "open_issues + closed_issues"
                    }
                total = try await database.raw(
                    """
                    SELECT CAST(SUM(\(unsafeRaw: counted)) AS BIGINT) AS n FROM policy_stacks
                    WHERE organization_id = \(bind: orgID)
                    """
                ).first()?.optionalInt("n")
            } else {
                let (tables, scoped) = Self.issueScope(
                    orgID: orgID, scope: scope, sightings: Self.readsSightings(filtered))
                total = try await database.raw(
                    "SELECT COUNT(*) AS n FROM \(unsafeRaw: tables) WHERE \(scoped) AND \(filter)"
                ).first()?.int("n")
            }
            return IssuePage(issues: issues, groups: [], rowCount: Int(total ?? 0))
        }
    }

    public func issueValues(
        organization: String, scope: IssueScope, column: IssueColumn, filter: GridFilter<IssueColumn>?, limit: Int
    ) async throws -> [GroupCount] {
        try await backend.withConnection { database in
            let orgID = try await Self.organizationID(database, organization)
            if filter == nil && IssueFacets.counted.contains(column) {
                return try await Self.facetValues(
                    database, orgID: orgID, scope: scope, column: column, limit: limit)
            }
            let value = Self.issueGrid.textExpression(column)
            let (tables, scoped) = Self.issueScope(
                orgID: orgID, scope: scope, sightings: Self.readsSightings((filter?.columns ?? []).union([column])))
            return try await database.raw(
                """
                SELECT \(unsafeRaw: value) AS value, COUNT(*) AS n FROM \(unsafeRaw: tables)
                WHERE \(scoped) AND \(Self.issueGrid.condition(filter))
                GROUP BY \(unsafeRaw: value) ORDER BY n DESC, value LIMIT \(bind: limit)
                """
            ).all().map { GroupCount(value: try $0.optionalString("value") ?? "", count: Int(try $0.int("n"))) }
        }
    }

    public func policyCompliance(organization: String, query: GridQuery<PolicyComplianceColumn>) async throws -> (
        rows: [PolicyComplianceRecord], total: Int
    ) {
        try await backend.withConnection { database in
            let orgID = try await Self.organizationID(database, organization)
            let condition: SQLQueryString = """
                t.organization_id = \(bind: orgID) AND \(Self.complianceGrid.condition(query.filter))
                """
            let rows = try await database.raw(
                """
                SELECT t.pack_name AS pack_name, t.policy_name AS policy_name, t.severity AS severity,
                    t.group_name AS group_name, t.group_mode AS group_mode, t.governed AS governed,
                    t.failing AS failing
                FROM policy_compliance_totals t WHERE \(condition)
                ORDER BY \(unsafeRaw: Self.complianceGrid.order(query.sort, tieBreak: "t.pack_name, t.policy_name, t.group_name"))
                LIMIT \(bind: query.limit) OFFSET \(bind: query.startRow)
                """
            ).all().map { row in
                PolicyComplianceRecord(
                    packName: try row.string("pack_name"), policyName: try row.string("policy_name"),
                    severity: PolicySeverity(rawValue: try row.string("severity")),
                    groupName: try row.string("group_name"),
                    groupMode: PolicyGroupMode(rawValue: try row.optionalString("group_mode") ?? ""),
                    governed: Int(try row.int("governed")), failing: Int(try row.int("failing")))
            }
            let total = try await database.raw(
                "SELECT COUNT(*) AS n FROM policy_compliance_totals t WHERE \(condition)"
            ).first()?.int("n")
            return (rows, Int(total ?? 0))
        }
    }

    public func stackEvaluations(organization: String, after: StackReference?, limit: Int) async throws
        -> [StackEvaluationSummary]
    {
        let afterProject = after?.project ?? ""
        let afterStack = after?.name ?? ""
        return try await stackEvaluations(
            organization: organization,
            where: """
                k.project > \(bind: afterProject) OR (k.project = \(bind: afterProject) AND k.stack > \(bind: afterStack))
                """, limit: limit)
    }

    public func stackEvaluation(organization: String, stack: StackReference) async throws -> StackEvaluationSummary? {
        try await stackEvaluations(
            organization: organization,
            where: "k.project = \(bind: stack.project) AND k.stack = \(bind: stack.name)", limit: 1
        ).first
    }

    /// The stacks that reported or that a group lists, in (project, stack) order: each side is read only as far as
    /// the page, so a page costs the same on the first stack as on the last.
    private func stackEvaluations(organization: String, where condition: SQLQueryString, limit: Int) async throws
        -> [StackEvaluationSummary]
    {
        try await backend.withConnection { database in
            let orgID = try await Self.organizationID(database, organization)
            let stacks = try await database.raw(
                """
                SELECT k.project AS project, k.stack AS stack, s.update_version AS update_version,
                    s.evaluated_at AS evaluated_at, s.packs_run AS packs_run
                FROM (SELECT * FROM (SELECT k.project AS project, k.stack AS stack FROM policy_stacks k
                                     WHERE k.organization_id = \(bind: orgID) AND (\(condition))
                                     ORDER BY k.project, k.stack LIMIT \(bind: limit)) evaluated
                      UNION
                      SELECT * FROM (SELECT k.project AS project, k.stack AS stack
                                     FROM policy_group_stacks k JOIN policy_groups g ON g.id = k.group_id
                                     WHERE g.organization_id = \(bind: orgID) AND k.project <> '' AND (\(condition))
                                     ORDER BY k.project, k.stack LIMIT \(bind: limit)) listed) k
                LEFT JOIN policy_stacks s
                  ON s.organization_id = \(bind: orgID) AND s.project = k.project AND s.stack = k.stack
                ORDER BY k.project, k.stack LIMIT \(bind: limit)
                """
            ).all()
            guard let first = stacks.first, let last = stacks.last else { return [] }
            let (firstProject, firstStack) = (try first.string("project"), try first.string("stack"))
            let (lastProject, lastStack) = (try last.string("project"), try last.string("stack"))
            var totals: [StackReference: [String: PairCount]] = [:]
            for row in try await database.raw(
                """
                SELECT project, stack, pack_name, CAST(SUM(governed) AS BIGINT) AS governed, CAST(SUM(failing) AS BIGINT) AS failing
                FROM policy_stack_tallies
                WHERE organization_id = \(bind: orgID)
                  AND project BETWEEN \(bind: firstProject) AND \(bind: lastProject)
                  AND (project > \(bind: firstProject) OR (project = \(bind: firstProject) AND stack >= \(bind: firstStack)))
                  AND (project < \(bind: lastProject) OR (project = \(bind: lastProject) AND stack <= \(bind: lastStack)))
                GROUP BY project, stack, pack_name
                """
            ).all() {
                let stack = StackReference(project: try row.string("project"), name: try row.string("stack"))
                totals[stack, default: [:]][try row.string("pack_name")] = PairCount(
                    governed: Int(try row.int("governed")), failing: Int(try row.int("failing")))
            }
            return try stacks.map { row in
                let stack = StackReference(project: try row.string("project"), name: try row.string("stack"))
                let packsRun = try row.optionalString("packs_run").flatMap {
                    try? JSONDecoder().decode([String: String].self, from: Data($0.utf8))
                }
                return StackEvaluationSummary(
                    stack: stack, updateVersion: try row.optionalInt("update_version"),
                    evaluatedAt: try row.optionalInt("evaluated_at").map(Date.init(milliseconds:)),
                    packsRun: packsRun ?? [:], packTotals: totals[stack] ?? [:])
            }
        }
    }

    public func packSeverityTotals(organization: String) async throws -> [String: [PolicySeverity?: PairCount]] {
        try await backend.withConnection { database in
            let orgID = try await Self.organizationID(database, organization)
            var totals: [String: [PolicySeverity?: PairCount]] = [:]
            for row in try await database.raw(
                """
                SELECT pack_name, severity, CAST(SUM(governed) AS BIGINT) AS governed, CAST(SUM(failing) AS BIGINT) AS failing
                FROM policy_compliance_totals WHERE organization_id = \(bind: orgID)
                GROUP BY pack_name, severity
                """
            ).all() {
                totals[try row.string("pack_name"), default: [:]][
                    PolicySeverity(rawValue: try row.string("severity"))] =
                    PairCount(governed: Int(try row.int("governed")), failing: Int(try row.int("failing")))
            }
            return totals
        }
    }

    public func evaluatedPacks(organization: String) async throws -> [String] {
        try await backend.withConnection { database in
            let orgID = try await Self.organizationID(database, organization)
            return try await database.raw(
                """
                SELECT DISTINCT pack_name FROM policy_compliance_totals WHERE organization_id = \(bind: orgID)
                ORDER BY pack_name
                """
            ).all().map { try $0.string("pack_name") }
        }
    }

    public func resultsTotals(organization: String) async throws -> ResultsTotals {
        try await backend.withConnection { database in
            let orgID = try await Self.organizationID(database, organization)
            func count(_ query: SQLQueryString) async throws -> Int {
                Int(try await database.raw(query).first()?.optionalInt("n") ?? 0)
            }
            // The stacks' figures in one pass over their rows.
            let stacks = try await database.raw(
                """
                SELECT CAST(SUM(resource_count) AS BIGINT) AS resources,
                    CAST(SUM(open_issue_resources) AS BIGINT) AS with_issues,
                    CAST(SUM(CASE WHEN update_version >= 0 THEN 1 ELSE 0 END) AS BIGINT) AS evaluated
                FROM policy_stacks WHERE organization_id = \(bind: orgID)
                """
            ).first()
            return ResultsTotals(
                policies: try await count(
                    """
                    SELECT COUNT(*) AS n FROM (SELECT DISTINCT pack_name, policy_name FROM policy_compliance_totals
                    WHERE organization_id = \(bind: orgID) AND governed > 0) p
                    """),
                policiesWithIssues: try await count(
                    """
                    SELECT COUNT(*) AS n FROM (SELECT DISTINCT pack_name, policy_name FROM policy_compliance_totals
                    WHERE organization_id = \(bind: orgID) AND failing > 0) p
                    """),
                resources: Int(try stacks?.optionalInt("resources") ?? 0),
                resourcesWithIssues: Int(try stacks?.optionalInt("with_issues") ?? 0),
                stacksEvaluated: Int(try stacks?.optionalInt("evaluated") ?? 0))
        }
    }
}
