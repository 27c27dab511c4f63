import Foundation
import PolicyHubCore
import SQLKit

/// Recording evaluations and triaging issues. The reads are in `SQLMetadataStore+ResultsQueries.swift`.
extension SQLMetadataStore {
    /// Rows per multi-row INSERT: far below both databases' limits on bound parameters.
    static let batchRows = 200

    public func recordEvaluation(_ record: EvaluationRecord) async throws -> Bool {
        let lock = backend.lockRowsClause
        let lateral = backend.hasLateralJoins
        return try await backend.transaction { database in
            let report = record.report
            let stack = report.stack
            let orgID = try await Self.organizationID(database, record.organization)
            let now = record.receivedAt.milliseconds
            if let earlier = try await database.raw(
                """
                SELECT digest FROM policy_reports
                WHERE organization_id = \(bind: orgID) AND project = \(bind: stack.project)
                  AND stack = \(bind: stack.name) AND update_version = \(bind: report.updateVersion)
                """
            ).first() {
                guard try earlier.string("digest") == record.digest else {
                    throw RegistryError(
                        .conflict,
                        "Update \(report.updateVersion) of stack \(stack.project)/\(stack.name) was already reported "
                            + "with different results; report each evaluation under a new update version.")
                }
                return false
            }
            let reportID = Self.newID()
            let unknown = String(decoding: try JSONEncoder().encode(record.unknownPacks), as: UTF8.self)
            try await database.raw(
                """
                INSERT INTO policy_reports (id, organization_id, project, stack, update_version, claim_id, succeeded,
                    digest, violation_count, resource_count, unknown_packs, reporter, reported_at, violations)
                VALUES (\(bind: reportID), \(bind: orgID), \(bind: stack.project), \(bind: stack.name),
                    \(bind: report.updateVersion), \(bind: report.claimID), \(bind: report.succeeded ? 1 : 0),
                    \(bind: record.digest), \(bind: report.violations.count), \(bind: record.resourceCount),
                    \(bind: unknown), \(bind: record.reporter), \(bind: now),
                    \(bind: Self.violationsDocument(report.violations)))
                """
            ).run()
            // The stack's row exists before it is locked, so that two instances' first reports of a stack
            // queue on it rather than race to insert it (update -1: no evaluation yet).
            try await database.raw(
                """
                INSERT INTO policy_stacks (organization_id, project, stack, report_id, update_version, evaluated_at,
                    resource_count, packs_run)
                VALUES (\(bind: orgID), \(bind: stack.project), \(bind: stack.name), \(bind: reportID), -1,
                    \(bind: now), 0, '{}')
                ON CONFLICT (organization_id, project, stack) DO NOTHING
                """
            ).run()
            guard
                let newest = try await database.raw(
                    """
                    SELECT report_id, update_version FROM policy_stacks
                    WHERE organization_id = \(bind: orgID) AND project = \(bind: stack.project)
                      AND stack = \(bind: stack.name) \(unsafeRaw: lock)
                    """
                ).first()
            else { throw StoreInconsistency("policy_stacks lost the row of \(stack.project)/\(stack.name)") }
            let newestVersion = try newest.int("update_version")
            let isNewest = newestVersion < report.updateVersion
            guard isNewest else { return true }
            let packsRun = String(decoding: try JSONEncoder().encode(record.packsRun), as: UTF8.self)
            try await database.raw(
                """
                UPDATE policy_stacks SET report_id = \(bind: reportID), update_version = \(bind: report.updateVersion),
                    evaluated_at = \(bind: now), resource_count = \(bind: record.resourceCount),
                    packs_run = \(bind: packsRun)
                WHERE organization_id = \(bind: orgID) AND project = \(bind: stack.project)
                  AND stack = \(bind: stack.name)
                """
            ).run()
            // The organization-wide counts (facets, then compliance totals) are moved last: every report of the
            // organization locks those rows until it commits, so they are taken as late as possible.
            try await Self.applyIssueChanges(
                database, record, orgID: orgID, now: now, lateral: lateral)
            try await Self.replaceTallies(database, record, orgID: orgID)
            return true
        }
    }

    /// Swaps the stack's tallies for the new evaluation's, moving the totals by the difference: one upsert per
    /// (group, pack, policy), in sorted order, so concurrent reports of other stacks lock the same rows in the same
    /// order and cannot deadlock.
    static func replaceTallies(_ database: any SQLDatabase, _ record: EvaluationRecord, orgID: String) async throws {
        struct Key: Hashable, Comparable {
            var group, pack, policy: String
            static func < (lhs: Key, rhs: Key) -> Bool {
                (lhs.group, lhs.pack, lhs.policy) < (rhs.group, rhs.pack, rhs.policy)
            }
        }
        struct Delta {
            var governed = 0, failing = 0, stacks = 0
            var latest: PolicyTally?
        }
        let stack = record.report.stack
        var deltas: [Key: Delta] = [:]
        for row in try await database.raw(
            """
            SELECT pack_name, policy_name, group_name, governed, failing FROM policy_stack_tallies
            WHERE organization_id = \(bind: orgID) AND project = \(bind: stack.project) AND stack = \(bind: stack.name)
            """
        ).all() {
            let key = Key(
                group: try row.string("group_name"), pack: try row.string("pack_name"),
                policy: try row.string("policy_name"))
            deltas[key, default: Delta()].governed -= Int(try row.int("governed"))
            deltas[key, default: Delta()].failing -= Int(try row.int("failing"))
            deltas[key, default: Delta()].stacks -= 1
        }
        for tally in record.tallies {
            let key = Key(group: tally.groupName, pack: tally.packName, policy: tally.policyName)
            deltas[key, default: Delta()].governed += tally.governed
            deltas[key, default: Delta()].failing += tally.failing
            deltas[key, default: Delta()].stacks += 1
            deltas[key, default: Delta()].latest = tally
        }
        try await database.raw(
            """
            DELETE FROM policy_stack_tallies
            WHERE organization_id = \(bind: orgID) AND project = \(bind: stack.project) AND stack = \(bind: stack.name)
            """
        ).run()
        for batch in record.tallies.chunked(batchRows) {
            let rows = batch.map { tally -> SQLQueryString in
                """
                (\(bind: orgID), \(bind: stack.project), \(bind: stack.name), \(bind: tally.packName),
                 \(bind: tally.policyName), \(bind: tally.packVersion), \(bind: tally.severity?.rawValue ?? ""),
                 \(bind: tally.groupName), \(bind: tally.groupMode?.rawValue ?? ""), \(bind: tally.governed),
                 \(bind: tally.failing))
                """
            }
            try await database.raw(
                """
                INSERT INTO policy_stack_tallies (organization_id, project, stack, pack_name, policy_name,
                    pack_version, severity, group_name, group_mode, governed, failing)
                VALUES \(rows.joined(separator: ", "))
                """
            ).run()
        }
        for key in deltas.keys.sorted() {
            guard let delta = deltas[key] else { continue }
            // The newest evaluation's severity and group mode replace older ones; a policy it no longer ran
            // keeps what it had.
            let describe: SQLQueryString =
                delta.latest == nil
                ? ""
                : ", severity = excluded.severity, group_mode = excluded.group_mode"
            try await database.raw(
                """
                INSERT INTO policy_compliance_totals (organization_id, group_name, pack_name, policy_name, severity,
                    group_mode, governed, failing, stacks)
                VALUES (\(bind: orgID), \(bind: key.group), \(bind: key.pack), \(bind: key.policy),
                    \(bind: delta.latest?.severity?.rawValue ?? ""), \(bind: delta.latest?.groupMode?.rawValue ?? ""),
                    \(bind: delta.governed), \(bind: delta.failing), \(bind: delta.stacks))
                ON CONFLICT (organization_id, group_name, pack_name, policy_name) DO UPDATE SET
                    governed = policy_compliance_totals.governed + excluded.governed,
                    failing = policy_compliance_totals.failing + excluded.failing,
                    stacks = policy_compliance_totals.stacks + excluded.stacks\(describe)
                """
            ).run()
            if delta.stacks < 0 {
                try await database.raw(
                    """
                    DELETE FROM policy_compliance_totals
                    WHERE organization_id = \(bind: orgID) AND group_name = \(bind: key.group)
                      AND pack_name = \(bind: key.pack) AND policy_name = \(bind: key.policy) AND stacks <= 0
                    """
                ).run()
            }
        }
    }

    /// Opens, updates and fixes the stack's issues as the lifecycle in `EvaluationRecord.changes(to:)` decides.
    /// An issue reported again exactly as stored only has its sighting moved (update version and time), which
    /// leaves the issue's row and indexes alone: most of a large stack's issues are reported again unchanged.
    static func applyIssueChanges(
        _ database: any SQLDatabase, _ record: EvaluationRecord, orgID: String, now: Int64, lateral: Bool
    ) async throws {
        let report = record.report
        let stack = report.stack
        // The issues a report can change: the open ones, and the closed ones it reports again. A long-lived stack
        // has many more fixed issues than open ones, and those not reported again stay as they are.
        let ofStack: SQLQueryString = """
            organization_id = \(bind: orgID) AND project = \(bind: stack.project) AND stack = \(bind: stack.name)
            """
        let open = try await database.raw(
            "SELECT \(unsafeRaw: StoredIssue.selection) FROM policy_issues WHERE \(ofStack) AND closed = 0"
        ).all()
        var issues = try await StoredIssue.decode(open, database)
        // A key has one issue: a key reported with an open issue needs no second look.
        var seenKeys = Set(issues.map(\.existing.key))
        var reportedKeys: [IssueKey] = []
        for finding in record.findings where seenKeys.insert(finding.violation.issueKey).inserted {
            reportedKeys.append(finding.violation.issueKey)
        }
        for batch in reportedKeys.chunked(batchRows) {
            let keys = batch.map { key -> SQLQueryString in
                "(\(bind: key.resourceURN), \(bind: key.packName), \(bind: key.policyName))"
            }
            // VALUES names its columns column1, column2, ... in both SQLite and PostgreSQL. Each key is sought in the
            // unique index, one at a time, rather than compared with every closed issue of the stack: SQLite loops
            // over a CROSS JOIN's left side; PostgreSQL joins as its estimates say, and a stack its statistics
            // do not know yet is estimated at one row, so there each key is a LATERAL subquery it cannot flatten
            // (LIMIT 1: a key has one issue). `closed <> 0` rather than `= 1` keeps both off the (org, closed, ...)
            // indexes, which would walk every closed issue of the organization.
            let reported: SQLQueryString = "(VALUES \(keys.joined(separator: ", "))) AS reported"
            let match: SQLQueryString = """
                \(ofStack) AND resource_urn = reported.column1 AND pack_name = reported.column2
                    AND policy_name = reported.column3 AND closed <> 0
                """
            let source: SQLQueryString =
                lateral
                ? "\(reported) CROSS JOIN LATERAL (SELECT * FROM policy_issues WHERE \(match) LIMIT 1) AS policy_issues"
                : "\(reported) CROSS JOIN policy_issues WHERE \(match)"
            let rows = try await database.raw("SELECT \(unsafeRaw: StoredIssue.selection) FROM \(source)").all()
            issues += try await StoredIssue.decode(rows, database)
        }
        let stored = Dictionary(issues.map { ($0.existing.id, $0) }, uniquingKeysWith: { first, _ in first })
        let existing = issues.map(\.existing)
        let changes = record.changes(to: existing)
        var facets = FacetDeltas()
        var writes: [(id: String, finding: Finding, status: IssueStatus)] = []
        var unchanged: [String] = []
        for opened in changes.opened {
            let write = (id: newID(), finding: opened, status: IssueStatus.open)
            facets.move(from: nil, to: Observation(write, stack: stack, priority: "", assignee: "").facets)
            writes.append(write)
        }
        for observed in changes.observed {
            guard let before = stored[observed.id] else { continue }
            let after = Observation(
                observed, stack: stack, priority: before.facets[.priority], assignee: before.facets[.assignedTo])
            if after == before.observation {
                unchanged.append(observed.id)
            } else {
                facets.move(from: before.facets, to: after.facets)
                writes.append(observed)
            }
        }
        for id in changes.fixed {
            guard let before = stored[id]?.facets else { continue }
            var after = before
            after[.status] = IssueStatus.fixed.rawValue
            after.closed = true
            facets.move(from: before, to: after)
        }

        for batch in writes.chunked(batchRows) {
            let rows = batch.map { write -> SQLQueryString in
                let finding = write.finding
                let violation = finding.violation
                return """
                    (\(bind: write.id), \(bind: orgID), \(bind: stack.project), \(bind: stack.name),
                     \(bind: violation.resourceURN), \(bind: violation.packName), \(bind: violation.policyName),
                     \(bind: violation.packVersion), \(bind: finding.resource.type),
                     \(bind: finding.resource.name), \(bind: finding.resource.provider), \(bind: violation.message),
                     \(bind: violation.level.rawValue), \(bind: finding.severity?.rawValue ?? ""),
                     \(bind: write.status.rawValue), \(bind: write.status.isClosed ? 1 : 0),
                     \(bind: violation.kind.rawValue), '', '', \(bind: finding.groupName ?? ""),
                     \(bind: finding.groupMode?.rawValue ?? ""), \(bind: now), \(bind: now),
                     \(bind: finding.unknownPack ? 1 : 0))
                    """
            }
            try await database.raw(
                """
                INSERT INTO policy_issues (id, organization_id, project, stack, resource_urn, pack_name, policy_name,
                    pack_version, resource_type, resource_name, resource_provider, message, level, severity, status,
                    closed, kind, priority, assigned_to, group_name, group_mode, first_observed_at, last_modified,
                    unknown_pack)
                VALUES \(rows.joined(separator: ", "))
                ON CONFLICT (organization_id, project, stack, resource_urn, pack_name, policy_name) DO UPDATE SET
                    pack_version = excluded.pack_version, message = excluded.message, level = excluded.level,
                    severity = excluded.severity, kind = excluded.kind, group_name = excluded.group_name,
                    group_mode = excluded.group_mode, unknown_pack = excluded.unknown_pack,
                    last_modified = CASE WHEN policy_issues.status = excluded.status
                        THEN policy_issues.last_modified ELSE excluded.last_modified END,
                    status = excluded.status, closed = excluded.closed
                """
            ).run()
            let sightings = batch.map { write -> SQLQueryString in
                """
                (\(bind: write.id), \(bind: orgID), \(bind: write.status.isClosed ? 1 : 0), \(bind: now), \
                \(bind: report.updateVersion))
                """
            }
            try await database.raw(
                """
                INSERT INTO policy_issue_sightings (issue_id, organization_id, closed, observed_at, stack_version)
                VALUES \(sightings.joined(separator: ", "))
                ON CONFLICT (issue_id) DO UPDATE SET closed = excluded.closed, observed_at = excluded.observed_at,
                    stack_version = excluded.stack_version
                """
            ).run()
        }
        for batch in unchanged.chunked(batchRows * 2) {
            try await database.raw(
                """
                UPDATE policy_issue_sightings SET stack_version = \(bind: report.updateVersion), observed_at = \(bind: now)
                WHERE issue_id IN (\(binds: Array(batch)))
                """
            ).run()
        }
        for batch in changes.fixed.chunked(batchRows * 2) {
            try await database.raw(
                """
                UPDATE policy_issues SET status = 'fixed', closed = 1, last_modified = \(bind: now)
                WHERE id IN (\(binds: Array(batch)))
                """
            ).run()
            try await database.raw(
                "UPDATE policy_issue_sightings SET closed = 1 WHERE issue_id IN (\(binds: Array(batch)))"
            ).run()
        }
        // The stack's counts from what the report read and changed (every open issue of the stack is among
        // `issues`) rather than counted again.
        var changed: [String: IssueStatus] = [:]
        for observed in changes.observed { changed[observed.id] = observed.status }
        for id in changes.fixed { changed[id] = .fixed }
        var openCount = changes.opened.count
        var openResources = Set(changes.opened.map(\.violation.resourceURN))
        var newlyClosed = 0
        for issue in existing {
            let isClosed = (changed[issue.id] ?? issue.status).isClosed
            if !isClosed {
                openCount += 1
                openResources.insert(issue.key.resourceURN)
            }
            if isClosed != issue.status.isClosed { newlyClosed += isClosed ? 1 : -1 }
        }
        openResources.remove("")
        try await database.raw(
            """
            UPDATE policy_stacks SET open_issues = \(bind: openCount), closed_issues = closed_issues + \(bind: newlyClosed),
                open_issue_resources = \(bind: openResources.count)
            WHERE \(ofStack)
            """
        ).run()
        try await facets.apply(database, orgID: orgID)
    }

    /// A stored issue as a report compares it. Its fields are selected as one text column, split here: decoding a
    /// column through SQLKit costs far more than SQLite's work to produce it, and a large stack has thousands of
    /// issues of 22 fields each.
    struct StoredIssue {
        var existing: ExistingIssue
        var facets: IssueFacets
        var observation: Observation

        private static let separator = UInt8(0x1F)
        /// `id` comes first: an ID never holds the separator, so it is known even when another value does.
        private static let keyColumns = [
            "id", "resource_urn", "pack_name", "policy_name", "CAST(closed AS TEXT)", "CAST(unknown_pack AS TEXT)",
        ]
        static let selection =
            (keyColumns + IssueFacets.fields.map { "COALESCE(\($0.sql), '')" }).joined(separator: " || '\u{1F}' || ")
            + " AS packed, message"
        /// The columns one by one, for an issue with a value that holds the separator.
        private static let columns =
            "message, id, resource_urn, pack_name, policy_name, unknown_pack, closed, " + IssueFacets.selection

        init(id: String, key: IssueKey, facets: IssueFacets, message: String, unknownPack: Bool) {
            existing = ExistingIssue(id: id, key: key, status: IssueStatus(rawValue: facets[.status]) ?? .open)
            self.facets = facets
            observation = Observation(facets: facets, message: message, unknownPack: unknownPack)
        }

        /// The issues of rows selected with `selection`. One whose packed column does not split into its fields (a
        /// value holds the separator) is read again, column by column.
        static func decode(_ rows: [any SQLRow], _ database: any SQLDatabase) async throws -> [StoredIssue] {
            var issues: [StoredIssue] = []
            var ambiguous: [String] = []
            for row in rows {
                let parts = try row.string("packed").utf8.split(separator: separator, omittingEmptySubsequences: false)
                    .map { String(decoding: $0, as: UTF8.self) }
                guard parts.count == keyColumns.count + IssueFacets.fields.count else {
                    ambiguous.append(parts[0])
                    continue
                }
                issues.append(
                    StoredIssue(
                        id: parts[0], key: IssueKey(resourceURN: parts[1], packName: parts[2], policyName: parts[3]),
                        facets: IssueFacets(closed: parts[4] != "0", values: Array(parts[keyColumns.count...])),
                        message: try row.string("message"), unknownPack: parts[5] != "0"))
            }
            for batch in ambiguous.chunked(SQLMetadataStore.batchRows) {
                issues += try await database.raw(
                    "SELECT \(unsafeRaw: columns) FROM policy_issues WHERE id IN (\(binds: Array(batch)))"
                ).all().map(StoredIssue.init(columns:))
            }
            return issues
        }

        /// A row selected with `columns`.
        init(columns row: any SQLRow) throws {
            self.init(
                id: try row.string("id"),
                key: IssueKey(
                    resourceURN: try row.string("resource_urn"), packName: try row.string("pack_name"),
                    policyName: try row.string("policy_name")),
                facets: try IssueFacets(row: row), message: try row.string("message"),
                unknownPack: try row.int("unknown_pack") != 0)
        }
    }

    /// What a report may change of a stored issue, besides its update version and time.
    struct Observation: Equatable {
        var facets: IssueFacets
        var message: String
        var unknownPack: Bool

        init(facets: IssueFacets, message: String, unknownPack: Bool) {
            self.facets = facets
            self.message = message
            self.unknownPack = unknownPack
        }

        /// The issue as `write` leaves it; triage fields are kept as they are.
        init(
            _ write: (id: String, finding: Finding, status: IssueStatus), stack: StackReference, priority: String,
            assignee: String
        ) {
            let finding = write.finding
            let violation = finding.violation
            var values: [String] = []
            values.reserveCapacity(IssueFacets.fields.count)
            for field in IssueFacets.fields {
                let value =
                    switch field.column {
                    case .entityProject: stack.project
                    case .entityId: stack.name
                    case .policyPack: violation.packName
                    case .policyPackTag: violation.packVersion
                    case .policyName: violation.policyName
                    case .resourceProvider: finding.resource.provider
                    case .resourceType: finding.resource.type
                    case .level: violation.level.rawValue
                    case .severity: finding.severity?.rawValue ?? ""
                    case .status: write.status.rawValue
                    case .kind: violation.kind.rawValue
                    case .priority: priority
                    case .assignedTo: assignee
                    case .policyGroupName: finding.groupName ?? ""
                    case .policyGroupType: finding.groupMode?.rawValue ?? ""
                    default: ""
                    }
                values.append(value)
            }
            self.facets = IssueFacets(closed: write.status.isClosed, values: values)
            self.message = violation.message
            self.unknownPack = finding.unknownPack
        }
    }

    /// Brings the stack's issue counts up to date after a person changed an issue.
    static func recountIssues(_ database: any SQLDatabase, orgID: String, stack: StackReference) async throws {
        let of: SQLQueryString = """
            i.organization_id = \(bind: orgID) AND i.project = \(bind: stack.project) AND i.stack = \(bind: stack.name)
            """
        try await database.raw(
            """
            UPDATE policy_stacks SET
                open_issues = (SELECT COUNT(*) FROM policy_issues i WHERE i.closed = 0 AND \(of)),
                closed_issues = (SELECT COUNT(*) FROM policy_issues i WHERE i.closed = 1 AND \(of)),
                open_issue_resources = (SELECT COUNT(DISTINCT i.resource_urn) FROM policy_issues i
                    WHERE i.closed = 0 AND i.resource_urn <> '' AND \(of))
            WHERE organization_id = \(bind: orgID) AND project = \(bind: stack.project) AND stack = \(bind: stack.name)
            """
        ).run()
    }

    public func updateIssue(organization: String, id: String, change: IssueChange, at time: Date, audit: AuditEvent?)
        async throws -> PolicyIssueRecord
    {
        try await backend.transaction { database in
            let orgID = try await Self.organizationID(database, organization)
            guard
                let row = try await database.raw(
                    """
                    SELECT closed, \(unsafeRaw: IssueFacets.selection) FROM policy_issues
                    WHERE id = \(bind: id) AND organization_id = \(bind: orgID)
                    """
                ).first()
            else { throw RegistryError(.notFound, "Policy issue '\(id)' not found") }
            if case .some(.some(let login)) = change.assignee, !login.isEmpty {
                let member = try await database.raw(
                    """
                    SELECT 1 AS one FROM memberships m JOIN users u ON u.id = m.user_id
                    WHERE m.organization_id = \(bind: orgID) AND u.login = \(bind: login)
                    """
                ).first()
                guard member != nil else {
                    throw RegistryError.invalid(
                        "Cannot assign the issue to '\(login)': no member of the organization has that login.",
                        details: [.init(resource: "request", attribute: "assignedTo", errorType: .notFound)])
                }
            }
            try await Self.insert(audit, database)
            let before = try IssueFacets(row: row)
            var after = before
            if let status = change.status {
                after[.status] = status.rawValue
                after.closed = status.isClosed
            }
            if let priority = change.priority { after[.priority] = priority.rawValue }
            if let assignee = change.assignee { after[.assignedTo] = assignee ?? "" }
            var facets = FacetDeltas()
            facets.move(from: before, to: after)
            try await facets.apply(database, orgID: orgID)
            var sets: [SQLQueryString] = ["last_modified = \(bind: time.milliseconds)"]
            if let status = change.status {
                sets.append("status = \(bind: status.rawValue)")
                sets.append("closed = \(bind: status.isClosed ? 1 : 0)")
            }
            if let priority = change.priority { sets.append("priority = \(bind: priority.rawValue)") }
            if let assignee = change.assignee { sets.append("assigned_to = \(bind: assignee ?? "")") }
            try await database.raw(
                "UPDATE policy_issues SET \(sets.joined(separator: ", ")) WHERE id = \(bind: id)"
            ).run()
            if let status = change.status {
                try await database.raw(
                    "UPDATE policy_issue_sightings SET closed = \(bind: status.isClosed ? 1 : 0) WHERE issue_id = \(bind: id)"
                ).run()
            }
            guard let issue = try await Self.issue(database, orgID: orgID, id: id) else {
                throw StoreInconsistency("policy issue \(id) vanished inside its own transaction")
            }
            if change.status != nil { try await Self.recountIssues(database, orgID: orgID, stack: issue.stack) }
            return issue
        }
    }

    public func groupApplications(organization: String) async throws -> [GroupApplication] {
        try await backend.withConnection { database in
            let orgID = try await Self.organizationID(database, organization)
            let groups = try await database.raw(
                "SELECT id, name, is_org_default, mode FROM policy_groups WHERE organization_id = \(bind: orgID)"
            ).all()
            var stacks: [String: [StackReference]] = [:]
            for row in try await database.raw(
                """
                SELECT gs.group_id AS group_id, gs.project AS project, gs.stack AS stack
                FROM policy_group_stacks gs JOIN policy_groups g ON g.id = gs.group_id
                WHERE g.organization_id = \(bind: orgID)
                """
            ).all() {
                stacks[try row.string("group_id"), default: []].append(
                    StackReference(project: try row.string("project"), name: try row.string("stack")))
            }
            var packs: [String: [String: AppliedVersion]] = [:]
            for row in try await database.raw(
                """
                SELECT gp.group_id AS group_id, p.name AS name, v.version AS version, v.version_tag AS version_tag
                FROM policy_group_packs gp JOIN policy_groups g ON g.id = gp.group_id
                JOIN policy_pack_versions v ON v.id = gp.version_id JOIN policy_packs p ON p.id = v.pack_id
                WHERE g.organization_id = \(bind: orgID)
                """
            ).all() {
                packs[try row.string("group_id"), default: [:]][try row.string("name")] = AppliedVersion(
                    number: Int(try row.int("version")), tag: try row.optionalString("version_tag"))
            }
            return try groups.map { row in
                let id = try row.string("id")
                return GroupApplication(
                    name: try row.string("name"), isOrgDefault: try row.int("is_org_default") != 0,
                    mode: PolicyGroupMode(rawValue: try row.string("mode")) ?? .preventative,
                    stacks: stacks[id] ?? [], packs: packs[id] ?? [:])
            }
        }
    }
}

extension Array {
    /// Consecutive slices of at most `size` elements.
    func chunked(_ size: Int) -> [ArraySlice<Element>] {
        stride(from: 0, to: count, by: size).map { self[$0..<Swift.min($0 + size, count)] }
    }
}
