import SQLKit

/// One schema change. Append new ones at the end; never edit a released one.
struct Migration: Sendable {
    let version: Int
    let name: String
    let statements: [String]
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
    ]

    /// Applies every migration not yet recorded, each in its own transaction.
    static func run(on backend: any SQLBackend) async throws {
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
            for migration in all where !applied.contains(migration.version) {
                try await backend.transaction { database in
                    let done = try await database.raw(
                        "SELECT version FROM schema_migrations WHERE version = \(bind: migration.version)"
                    ).first()
                    guard done == nil else { return }
                    for statement in migration.statements {
                        try await database.raw("\(unsafeRaw: statement)").run()
                    }
                    try await database.raw(
                        "INSERT INTO schema_migrations (version, name) VALUES (\(bind: migration.version), \(bind: migration.name))"
                    ).run()
                }
            }
        }
    }
}
