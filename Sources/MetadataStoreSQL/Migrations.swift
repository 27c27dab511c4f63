import SQLKit

/// One schema change. Append new ones at the end; never edit a released one.
struct Migration: Sendable {
    let version: Int
    let name: String
    let statements: [String]
    /// Runs after the statements, in the same transaction: moves of data that SQL cannot write once for both
    /// databases.
    var then: (@Sendable (any SQLDatabase) async throws -> Void)? = nil
}

enum Migrations {
    static let all: [Migration] = [
        Migration(
            version: 1, name: "M0001_CreateIdentity",
            statements: [
                """
                CREATE TABLE users (
                    id TEXT PRIMARY KEY,
                    login TEXT NOT NULL UNIQUE,
                    display_name TEXT NOT NULL,
                    created_at BIGINT NOT NULL
                )
                """,
                """
                CREATE TABLE organizations (
                    id TEXT PRIMARY KEY,
                    login TEXT NOT NULL UNIQUE,
                    personal_user_id TEXT NULL REFERENCES users (id),
                    created_at BIGINT NOT NULL
                )
                """,
                """
                CREATE TABLE memberships (
                    organization_id TEXT NOT NULL REFERENCES organizations (id),
                    user_id TEXT NOT NULL REFERENCES users (id),
                    role TEXT NOT NULL,
                    PRIMARY KEY (organization_id, user_id)
                )
                """,
                "CREATE INDEX memberships_by_user ON memberships (user_id)",
                """
                CREATE TABLE access_tokens (
                    id TEXT PRIMARY KEY,
                    user_id TEXT NOT NULL REFERENCES users (id),
                    token_hash TEXT NOT NULL UNIQUE,
                    description TEXT NOT NULL,
                    created_at BIGINT NOT NULL,
                    expires_at BIGINT NULL,
                    last_used_at BIGINT NULL,
                    revoked_at BIGINT NULL
                )
                """,
                "CREATE INDEX access_tokens_by_user ON access_tokens (user_id)",
                "CREATE TABLE settings (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
            ]),
        Migration(
            version: 2, name: "M0002_CreatePolicyPacks",
            statements: [
                """
                CREATE TABLE policy_packs (
                    id TEXT PRIMARY KEY,
                    organization_id TEXT NOT NULL REFERENCES organizations (id),
                    name TEXT NOT NULL,
                    next_version BIGINT NOT NULL,
                    created_at BIGINT NOT NULL,
                    UNIQUE (organization_id, name)
                )
                """,
                """
                CREATE TABLE policy_pack_versions (
                    id TEXT PRIMARY KEY,
                    pack_id TEXT NOT NULL REFERENCES policy_packs (id) ON DELETE CASCADE,
                    version BIGINT NOT NULL,
                    version_tag TEXT NULL,
                    status TEXT NOT NULL,
                    display_name TEXT NOT NULL,
                    draft TEXT NOT NULL,
                    archive_key TEXT NULL,
                    archive_size BIGINT NULL,
                    archive_sha256 TEXT NULL,
                    created_at BIGINT NOT NULL,
                    uploaded_at BIGINT NULL,
                    completed_at BIGINT NULL,
                    UNIQUE (pack_id, version),
                    UNIQUE (pack_id, version_tag)
                )
                """,
                "CREATE INDEX policy_pack_versions_by_status ON policy_pack_versions (status, created_at)",
                "CREATE INDEX policy_pack_versions_by_archive ON policy_pack_versions (archive_key)",
            ]),
        Migration(
            version: 3, name: "M0003_CreatePolicyGroups",
            statements: [
                """
                CREATE TABLE policy_groups (
                    id TEXT PRIMARY KEY,
                    organization_id TEXT NOT NULL REFERENCES organizations (id),
                    name TEXT NOT NULL,
                    is_org_default BIGINT NOT NULL,
                    mode TEXT NOT NULL,
                    agent_pool_id TEXT NULL,
                    created_at BIGINT NOT NULL,
                    UNIQUE (organization_id, name)
                )
                """,
                """
                CREATE TABLE policy_group_stacks (
                    group_id TEXT NOT NULL REFERENCES policy_groups (id),
                    project TEXT NOT NULL,
                    stack TEXT NOT NULL,
                    PRIMARY KEY (group_id, project, stack)
                )
                """,
                "CREATE INDEX policy_group_stacks_by_stack ON policy_group_stacks (stack, project)",
                """
                CREATE TABLE policy_group_packs (
                    group_id TEXT NOT NULL REFERENCES policy_groups (id),
                    pack_id TEXT NOT NULL REFERENCES policy_packs (id),
                    version_id TEXT NOT NULL REFERENCES policy_pack_versions (id),
                    config TEXT NULL,
                    PRIMARY KEY (group_id, pack_id)
                )
                """,
                "CREATE INDEX policy_group_packs_by_version ON policy_group_packs (version_id)",
                "CREATE INDEX policy_group_packs_by_pack ON policy_group_packs (pack_id)",
                // Every organization has a default group; later ones get it when they are created.
                """
                INSERT INTO policy_groups (id, organization_id, name, is_org_default, mode, agent_pool_id, created_at)
                SELECT 'default-' || id, id, 'default-policy-group', 1, 'preventative', NULL, created_at
                FROM organizations
                """,
            ]),
        Migration(
            version: 4, name: "M0004_CreateAuditEvents",
            statements: [
                """
                CREATE TABLE audit_events (
                    id TEXT PRIMARY KEY,
                    occurred_at BIGINT NOT NULL,
                    organization TEXT NULL,
                    actor TEXT NOT NULL,
                    action TEXT NOT NULL,
                    target TEXT NOT NULL,
                    client_address TEXT NULL,
                    user_agent TEXT NULL
                )
                """,
                "CREATE INDEX audit_events_by_organization ON audit_events (organization, occurred_at, id)",
                "CREATE INDEX audit_events_by_action ON audit_events (organization, action, occurred_at)",
            ]),
        Migration(
            version: 5, name: "M0005_IndexAuditEventsByTime",
            statements: [
                // `policyhub admin audit` without --org reads every organization's events, newest first.
                "CREATE INDEX audit_events_by_time ON audit_events (occurred_at, id)"
            ]),
        Migration(
            version: 6, name: "M0006_CreatePolicyResults",
            statements: [
                // Every report as received; (stack, update) is its identity.
                """
                CREATE TABLE policy_reports (
                    id TEXT PRIMARY KEY,
                    organization_id TEXT NOT NULL REFERENCES organizations (id),
                    project TEXT NOT NULL,
                    stack TEXT NOT NULL,
                    update_version BIGINT NOT NULL,
                    claim_id TEXT NULL,
                    succeeded BIGINT NOT NULL,
                    digest TEXT NOT NULL,
                    violation_count BIGINT NOT NULL,
                    resource_count BIGINT NOT NULL,
                    unknown_packs TEXT NOT NULL,
                    reporter TEXT NOT NULL,
                    reported_at BIGINT NOT NULL,
                    UNIQUE (organization_id, project, stack, update_version)
                )
                """,
                // The violations of every report; `current` marks those of each stack's newest report.
                """
                CREATE TABLE policy_report_violations (
                    id TEXT PRIMARY KEY,
                    report_id TEXT NOT NULL REFERENCES policy_reports (id),
                    organization_id TEXT NOT NULL REFERENCES organizations (id),
                    current BIGINT NOT NULL,
                    observed_at BIGINT NOT NULL,
                    resource_urn TEXT NOT NULL,
                    pack_name TEXT NOT NULL,
                    pack_version TEXT NOT NULL,
                    policy_name TEXT NOT NULL,
                    level TEXT NOT NULL,
                    kind TEXT NOT NULL,
                    message TEXT NOT NULL,
                    resource_type TEXT NOT NULL,
                    resource_name TEXT NOT NULL
                )
                """,
                "CREATE INDEX policy_report_violations_by_report ON policy_report_violations (report_id)",
                """
                CREATE INDEX policy_report_violations_current
                ON policy_report_violations (organization_id, current, observed_at, id)
                """,
                // Each stack's newest evaluation, and how many issues it has (kept in step by every report and
                // triage, so the unfiltered counts need no scan of the issues).
                """
                CREATE TABLE policy_stacks (
                    organization_id TEXT NOT NULL REFERENCES organizations (id),
                    project TEXT NOT NULL,
                    stack TEXT NOT NULL,
                    report_id TEXT NOT NULL REFERENCES policy_reports (id),
                    update_version BIGINT NOT NULL,
                    evaluated_at BIGINT NOT NULL,
                    resource_count BIGINT NOT NULL,
                    packs_run TEXT NOT NULL,
                    open_issues BIGINT NOT NULL DEFAULT 0,
                    closed_issues BIGINT NOT NULL DEFAULT 0,
                    open_issue_resources BIGINT NOT NULL DEFAULT 0,
                    PRIMARY KEY (organization_id, project, stack)
                )
                """,
                // What each policy governed and failed in each stack's newest evaluation.
                """
                CREATE TABLE policy_stack_tallies (
                    organization_id TEXT NOT NULL REFERENCES organizations (id),
                    project TEXT NOT NULL,
                    stack TEXT NOT NULL,
                    pack_name TEXT NOT NULL,
                    policy_name TEXT NOT NULL,
                    pack_version TEXT NOT NULL,
                    severity TEXT NOT NULL,
                    group_name TEXT NOT NULL,
                    group_mode TEXT NULL,
                    governed BIGINT NOT NULL,
                    failing BIGINT NOT NULL,
                    PRIMARY KEY (organization_id, project, stack, pack_name, policy_name)
                )
                """,
                // The sums of the tallies per (group, pack, policy), kept in step by every report.
                """
                CREATE TABLE policy_compliance_totals (
                    organization_id TEXT NOT NULL REFERENCES organizations (id),
                    group_name TEXT NOT NULL,
                    pack_name TEXT NOT NULL,
                    policy_name TEXT NOT NULL,
                    severity TEXT NOT NULL,
                    group_mode TEXT NULL,
                    governed BIGINT NOT NULL,
                    failing BIGINT NOT NULL,
                    stacks BIGINT NOT NULL,
                    PRIMARY KEY (organization_id, group_name, pack_name, policy_name)
                )
                """,
                """
                CREATE TABLE policy_issues (
                    id TEXT PRIMARY KEY,
                    organization_id TEXT NOT NULL REFERENCES organizations (id),
                    project TEXT NOT NULL,
                    stack TEXT NOT NULL,
                    resource_urn TEXT NOT NULL,
                    pack_name TEXT NOT NULL,
                    policy_name TEXT NOT NULL,
                    stack_version BIGINT NOT NULL,
                    pack_version TEXT NOT NULL,
                    resource_type TEXT NOT NULL,
                    resource_name TEXT NOT NULL,
                    resource_provider TEXT NOT NULL,
                    message TEXT NOT NULL,
                    level TEXT NOT NULL,
                    severity TEXT NOT NULL,
                    status TEXT NOT NULL,
                    closed BIGINT NOT NULL,
                    kind TEXT NOT NULL,
                    priority TEXT NULL,
                    assigned_to TEXT NULL,
                    group_name TEXT NULL,
                    group_mode TEXT NULL,
                    first_observed_at BIGINT NOT NULL,
                    observed_at BIGINT NOT NULL,
                    last_modified BIGINT NOT NULL,
                    unknown_pack BIGINT NOT NULL,
                    UNIQUE (organization_id, project, stack, resource_urn, pack_name, policy_name)
                )
                """,
                // Lists and filter menus ask for open or closed issues first, then one field: (org, closed, field)
                // serves the filter, the count and the value list from the index alone.
                "CREATE INDEX policy_issues_by_time ON policy_issues (organization_id, closed, observed_at, id)",
                "CREATE INDEX policy_issues_by_status ON policy_issues (organization_id, status, observed_at)",
                // A policy's issues are filtered by severity more than by anything else.
                "CREATE INDEX policy_issues_by_policy ON policy_issues (organization_id, closed, policy_name, severity)",
                "CREATE INDEX policy_issues_by_pack ON policy_issues (organization_id, closed, pack_name, policy_name)",
                "CREATE INDEX policy_issues_by_severity ON policy_issues (organization_id, closed, severity)",
                "CREATE INDEX policy_issues_by_level ON policy_issues (organization_id, closed, level)",
                "CREATE INDEX policy_issues_by_assignee ON policy_issues (organization_id, closed, assigned_to)",
                "CREATE INDEX policy_issues_by_priority ON policy_issues (organization_id, closed, priority)",
                "CREATE INDEX policy_issues_by_group ON policy_issues (organization_id, closed, group_name)",
                "CREATE INDEX policy_issues_by_type ON policy_issues (organization_id, closed, resource_type)",
                "CREATE INDEX policy_issues_by_modification ON policy_issues (organization_id, closed, last_modified)",
                """
                CREATE INDEX policy_issues_by_resource
                ON policy_issues (organization_id, closed, project, stack, resource_urn)
                """,
            ]),
        Migration(
            version: 7, name: "M0007_CountIssueFacets",
            statements: [
                // How many open and closed issues have each value of the fields filter menus offer
                // (IssueFacets.fields), kept in step by every write of policy_issues.
                """
                CREATE TABLE policy_issue_facets (
                    organization_id TEXT NOT NULL REFERENCES organizations (id),
                    field TEXT NOT NULL,
                    closed BIGINT NOT NULL,
                    value TEXT NOT NULL,
                    issues BIGINT NOT NULL,
                    PRIMARY KEY (organization_id, field, closed, value)
                )
                """,
                """
                INSERT INTO policy_issue_facets (organization_id, field, closed, value, issues)
                SELECT organization_id, 'entityProject', closed, COALESCE(project, ''), COUNT(*) FROM policy_issues
                GROUP BY organization_id, closed, COALESCE(project, '')
                """,
                """
                INSERT INTO policy_issue_facets (organization_id, field, closed, value, issues)
                SELECT organization_id, 'entityId', closed, COALESCE(stack, ''), COUNT(*) FROM policy_issues
                GROUP BY organization_id, closed, COALESCE(stack, '')
                """,
                """
                INSERT INTO policy_issue_facets (organization_id, field, closed, value, issues)
                SELECT organization_id, 'policyPack', closed, COALESCE(pack_name, ''), COUNT(*) FROM policy_issues
                GROUP BY organization_id, closed, COALESCE(pack_name, '')
                """,
                """
                INSERT INTO policy_issue_facets (organization_id, field, closed, value, issues)
                SELECT organization_id, 'policyPackTag', closed, COALESCE(pack_version, ''), COUNT(*) FROM policy_issues
                GROUP BY organization_id, closed, COALESCE(pack_version, '')
                """,
                """
                INSERT INTO policy_issue_facets (organization_id, field, closed, value, issues)
                SELECT organization_id, 'policyName', closed, COALESCE(policy_name, ''), COUNT(*) FROM policy_issues
                GROUP BY organization_id, closed, COALESCE(policy_name, '')
                """,
                """
                INSERT INTO policy_issue_facets (organization_id, field, closed, value, issues)
                SELECT organization_id, 'resourceProvider', closed, COALESCE(resource_provider, ''), COUNT(*) FROM policy_issues
                GROUP BY organization_id, closed, COALESCE(resource_provider, '')
                """,
                """
                INSERT INTO policy_issue_facets (organization_id, field, closed, value, issues)
                SELECT organization_id, 'resourceType', closed, COALESCE(resource_type, ''), COUNT(*) FROM policy_issues
                GROUP BY organization_id, closed, COALESCE(resource_type, '')
                """,
                """
                INSERT INTO policy_issue_facets (organization_id, field, closed, value, issues)
                SELECT organization_id, 'level', closed, COALESCE(level, ''), COUNT(*) FROM policy_issues
                GROUP BY organization_id, closed, COALESCE(level, '')
                """,
                """
                INSERT INTO policy_issue_facets (organization_id, field, closed, value, issues)
                SELECT organization_id, 'severity', closed, COALESCE(severity, ''), COUNT(*) FROM policy_issues
                GROUP BY organization_id, closed, COALESCE(severity, '')
                """,
                """
                INSERT INTO policy_issue_facets (organization_id, field, closed, value, issues)
                SELECT organization_id, 'status', closed, COALESCE(status, ''), COUNT(*) FROM policy_issues
                GROUP BY organization_id, closed, COALESCE(status, '')
                """,
                """
                INSERT INTO policy_issue_facets (organization_id, field, closed, value, issues)
                SELECT organization_id, 'kind', closed, COALESCE(kind, ''), COUNT(*) FROM policy_issues
                GROUP BY organization_id, closed, COALESCE(kind, '')
                """,
                """
                INSERT INTO policy_issue_facets (organization_id, field, closed, value, issues)
                SELECT organization_id, 'priority', closed, COALESCE(priority, ''), COUNT(*) FROM policy_issues
                GROUP BY organization_id, closed, COALESCE(priority, '')
                """,
                """
                INSERT INTO policy_issue_facets (organization_id, field, closed, value, issues)
                SELECT organization_id, 'assignedTo', closed, COALESCE(assigned_to, ''), COUNT(*) FROM policy_issues
                GROUP BY organization_id, closed, COALESCE(assigned_to, '')
                """,
                """
                INSERT INTO policy_issue_facets (organization_id, field, closed, value, issues)
                SELECT organization_id, 'policyGroupName', closed, COALESCE(group_name, ''), COUNT(*) FROM policy_issues
                GROUP BY organization_id, closed, COALESCE(group_name, '')
                """,
                """
                INSERT INTO policy_issue_facets (organization_id, field, closed, value, issues)
                SELECT organization_id, 'policyGroupType', closed, COALESCE(group_mode, ''), COUNT(*) FROM policy_issues
                GROUP BY organization_id, closed, COALESCE(group_mode, '')
                """,
            ]),
        Migration(
            version: 8, name: "M0008_RecordPublisher",
            statements: [
                // Who completed each version, shown with it; versions completed before are given the actor of their
                // completion's audit event (the target names the version as pack@label).
                "ALTER TABLE policy_pack_versions ADD COLUMN published_by TEXT NULL",
                """
                UPDATE policy_pack_versions SET published_by = (
                    SELECT a.actor FROM audit_events a, policy_packs p, organizations o
                    WHERE p.id = policy_pack_versions.pack_id AND o.id = p.organization_id
                      AND a.organization = o.login AND a.action = 'policypack.version.complete'
                      AND a.target = p.name || '@'
                          || COALESCE(policy_pack_versions.version_tag, CAST(policy_pack_versions.version AS TEXT))
                    ORDER BY a.occurred_at DESC LIMIT 1)
                WHERE status = 'complete'
                """,
            ]),
        Migration(
            version: 9, name: "M0009_SeparateIssueSightings",
            statements: [
                // When each issue was last reported, apart from what it is: a report sees most of a stack's issues
                // again unchanged, and moving only these narrow rows leaves the issues' dozen indexes alone.
                // `closed` is the issue's, kept here too so that one index orders open or closed issues by time.
                """
                CREATE TABLE policy_issue_sightings (
                    issue_id TEXT PRIMARY KEY REFERENCES policy_issues (id),
                    organization_id TEXT NOT NULL REFERENCES organizations (id),
                    closed BIGINT NOT NULL,
                    observed_at BIGINT NOT NULL,
                    stack_version BIGINT NOT NULL
                )
                """,
                """
                INSERT INTO policy_issue_sightings (issue_id, organization_id, closed, observed_at, stack_version)
                SELECT id, organization_id, closed, observed_at, stack_version FROM policy_issues
                """,
                """
                CREATE INDEX policy_issue_sightings_by_time
                ON policy_issue_sightings (organization_id, closed, observed_at, issue_id)
                """,
                "DROP INDEX policy_issues_by_time",
                "DROP INDEX policy_issues_by_status",
                "ALTER TABLE policy_issues DROP COLUMN observed_at",
                "ALTER TABLE policy_issues DROP COLUMN stack_version",
                "CREATE INDEX policy_issues_by_status ON policy_issues (organization_id, closed, status)",
                // A report's violations are one document of the report, as reported (a row each cost a report of
                // 2,000 violations more than its issues did). Current violations are those of each stack's newest
                // report (policy_stacks.report_id), listed newest stack first. The rows are folded into their
                // reports' documents, then dropped (`then`).
                "ALTER TABLE policy_reports ADD COLUMN violations TEXT NOT NULL DEFAULT '[]'",
                "CREATE INDEX policy_stacks_by_evaluation ON policy_stacks (organization_id, evaluated_at, report_id)",
            ],
            then: SQLMetadataStore.foldReportViolations),
    ]

    /// Applies every migration not yet recorded, up to version `last`, each in its own transaction.
    static func run(on backend: any SQLBackend, through last: Int = .max) async throws {
        try await backend.withMigrationLock {
            try await backend.withConnection { database in
                try await database.raw(
                    """
                    CREATE TABLE IF NOT EXISTS schema_migrations (
                        version BIGINT PRIMARY KEY, name TEXT NOT NULL
                    )
                    """
                ).run()
            }
            let applied = try await backend.withConnection { database in
                try await database.raw("SELECT version FROM schema_migrations").all().map {
                    try $0.decode(column: "version", as: Int.self)
                }
            }
            for migration in all where migration.version <= last && !applied.contains(migration.version) {
                try await backend.transaction { database in
                    let done = try await database.raw(
                        "SELECT version FROM schema_migrations WHERE version = \(bind: migration.version)"
                    ).first()
                    guard done == nil else { return }
                    for statement in migration.statements {
                        try await database.raw("\(unsafeRaw: statement)").run()
                    }
                    try await migration.then?(database)
                    try await database.raw(
                        "INSERT INTO schema_migrations (version, name) VALUES (\(bind: migration.version), \(bind: migration.name))"
                    ).run()
                }
            }
        }
    }
}
