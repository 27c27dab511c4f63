import Foundation
import PolicyHubCore
import SQLKit

extension SQLMetadataStore {
    static let summaryColumns = """
        g.name AS name, g.is_org_default AS is_org_default, g.mode AS mode,
        (SELECT COUNT(*) FROM policy_group_stacks s WHERE s.group_id = g.id) AS stack_count,
        (SELECT COUNT(*) FROM policy_group_packs gp WHERE gp.group_id = g.id) AS pack_count
        """

    /// Joins an application `gp` to its version `v`, pack `p` and organization `o`, for `versionColumns`.
    static let appliedVersionJoins = """
        JOIN policy_pack_versions v ON v.id = gp.version_id
        JOIN policy_packs p ON p.id = v.pack_id
        JOIN organizations o ON o.id = p.organization_id
        """

    static func decodeSummary(_ row: any SQLRow) throws -> PolicyGroupSummary {
        PolicyGroupSummary(
            name: try row.string("name"), isOrgDefault: try row.int("is_org_default") != 0,
            mode: PolicyGroupMode(rawValue: try row.string("mode")) ?? .preventative,
            stackCount: Int(try row.int("stack_count")), packCount: Int(try row.int("pack_count")))
    }

    static func groupNotFound(_ name: String) -> RegistryError {
        RegistryError(.notFound, "Policy group '\(name)' not found")
    }

    /// Matches the groups `g` (of organization `o`) that a stack belongs to: those listing it, by project or
    /// without one, or the default group when no group lists it.
    static func membership(of stack: StackReference) -> SQLQueryString {
        """
        (EXISTS (SELECT 1 FROM policy_group_stacks s
                 WHERE s.group_id = g.id AND s.stack = \(bind: stack.name)
                   AND (s.project = \(bind: stack.project) OR s.project = ''))
         OR (g.is_org_default = 1 AND NOT EXISTS (
                 SELECT 1 FROM policy_group_stacks s JOIN policy_groups listing ON listing.id = s.group_id
                 WHERE listing.organization_id = g.organization_id AND s.stack = \(bind: stack.name)
                   AND (s.project = \(bind: stack.project) OR s.project = ''))))
        """
    }

    public func createGroup(
        organization: String, name: String, mode: PolicyGroupMode, agentPoolID: String?, at time: Date,
        audit: AuditEvent?
    ) async throws {
        try await backend.transaction { database in
            try await Self.insert(audit, database)
            let orgID = try await Self.organizationID(database, organization)
            guard try await Self.groupID(database, orgID: orgID, name: name) == nil else {
                throw RegistryError(.conflict, "Policy group '\(name)' already exists")
            }
            try await database.raw(
                """
                INSERT INTO policy_groups (id, organization_id, name, is_org_default, mode, agent_pool_id, created_at)
                VALUES (\(bind: Self.newID()), \(bind: orgID), \(bind: name), 0, \(bind: mode.rawValue),
                        \(bind: agentPoolID), \(bind: time.milliseconds))
                """
            ).run()
        }
    }

    public func listGroups(organization: String) async throws -> [PolicyGroupSummary] {
        try await backend.withConnection { database in
            try await database.raw(
                """
                SELECT \(unsafeRaw: Self.summaryColumns)
                FROM policy_groups g JOIN organizations o ON o.id = g.organization_id
                WHERE o.login = \(bind: organization)
                ORDER BY g.is_org_default DESC, g.name
                """
            ).all().map(Self.decodeSummary)
        }
    }

    public func group(organization: String, name: String) async throws -> PolicyGroup {
        try await backend.withConnection { database in
            guard
                let row = try await database.raw(
                    """
                    SELECT g.id AS id, g.is_org_default AS is_org_default, g.mode AS mode,
                           g.agent_pool_id AS agent_pool_id
                    FROM policy_groups g JOIN organizations o ON o.id = g.organization_id
                    WHERE o.login = \(bind: organization) AND g.name = \(bind: name)
                    """
                ).first()
            else { throw Self.groupNotFound(name) }
            let groupID = try row.string("id")
            let stacks = try await database.raw(
                """
                SELECT project, stack FROM policy_group_stacks WHERE group_id = \(bind: groupID)
                ORDER BY project, stack
                """
            ).all().map { StackReference(project: try $0.string("project"), name: try $0.string("stack")) }
            let packs = try await database.raw(
                """
                SELECT \(unsafeRaw: Self.versionColumns), gp.config AS config
                FROM policy_group_packs gp \(unsafeRaw: Self.appliedVersionJoins)
                WHERE gp.group_id = \(bind: groupID)
                ORDER BY p.name
                """
            ).all().map(Self.decodeApplied)
            return PolicyGroup(
                name: name, isOrgDefault: try row.int("is_org_default") != 0,
                mode: PolicyGroupMode(rawValue: try row.string("mode")) ?? .preventative,
                agentPoolID: try row.optionalString("agent_pool_id"), stacks: stacks, packs: packs)
        }
    }

    public func updateGroup(organization: String, name: String, changes: GroupChanges, audit: AuditEvent?)
        async throws
    {
        try await backend.transaction { database in
            try await Self.insert(audit, database)
            let orgID = try await Self.organizationID(database, organization)
            guard let groupID = try await Self.groupID(database, orgID: orgID, name: name) else {
                throw Self.groupNotFound(name)
            }
            if let newName = changes.newName {
                // Read in the transaction, so the check and the rename see the same row.
                guard try await !Self.isOrgDefault(database, groupID: groupID) else {
                    throw RegistryError.invalid("The default policy group cannot be renamed.")
                }
                guard try await Self.groupID(database, orgID: orgID, name: newName) == nil else {
                    throw RegistryError(.conflict, "Policy group '\(newName)' already exists")
                }
                try await database.raw("UPDATE policy_groups SET name = \(bind: newName) WHERE id = \(bind: groupID)")
                    .run()
            }
            try await Self.applyStackChanges(database, groupID: groupID, groupName: name, changes: changes)
            try await Self.applyPackChanges(database, groupID: groupID, groupName: name, changes: changes)
        }
    }

    public func deleteGroup(organization: String, name: String, audit: AuditEvent?) async throws {
        try await backend.transaction { database in
            try await Self.insert(audit, database)
            let orgID = try await Self.organizationID(database, organization)
            guard let groupID = try await Self.groupID(database, orgID: orgID, name: name) else {
                throw Self.groupNotFound(name)
            }
            guard try await !Self.isOrgDefault(database, groupID: groupID) else {
                throw RegistryError.invalid("The default policy group cannot be deleted.")
            }
            try await database.raw("DELETE FROM policy_group_stacks WHERE group_id = \(bind: groupID)").run()
            try await database.raw("DELETE FROM policy_group_packs WHERE group_id = \(bind: groupID)").run()
            try await database.raw("DELETE FROM policy_groups WHERE id = \(bind: groupID)").run()
        }
    }

    public func groups(organization: String, stack: StackReference) async throws -> [PolicyGroupSummary] {
        try await backend.withConnection { database in
            try await database.raw(
                """
                SELECT \(unsafeRaw: Self.summaryColumns)
                FROM policy_groups g JOIN organizations o ON o.id = g.organization_id
                WHERE o.login = \(bind: organization) AND \(Self.membership(of: stack))
                ORDER BY g.is_org_default DESC, g.name
                """
            ).all().map(Self.decodeSummary)
        }
    }

    public func appliedPacks(organization: String, stack: StackReference) async throws -> [AppliedPack] {
        try await backend.withConnection { database in
            try await database.raw(
                """
                SELECT \(unsafeRaw: Self.versionColumns), gp.config AS config
                FROM policy_group_packs gp
                JOIN policy_groups g ON g.id = gp.group_id
                \(unsafeRaw: Self.appliedVersionJoins)
                WHERE o.login = \(bind: organization) AND \(Self.membership(of: stack))
                ORDER BY g.is_org_default, g.name, p.name
                """
            ).all().map(Self.decodeApplied)
        }
    }

    // MARK: Helpers

    static func decodeApplied(_ row: any SQLRow) throws -> AppliedPack {
        let config = try row.optionalString("config").map { try JSONValue(jsonText: $0).objectValue ?? [:] }
        return AppliedPack(version: try decodeVersion(row), config: config)
    }

    static func groupID(_ database: any SQLDatabase, orgID: String, name: String) async throws -> String? {
        try await database.raw(
            "SELECT id FROM policy_groups WHERE organization_id = \(bind: orgID) AND name = \(bind: name)"
        ).first()?.string("id")
    }

    static func isOrgDefault(_ database: any SQLDatabase, groupID: String) async throws -> Bool {
        let row = try await database.raw("SELECT is_org_default FROM policy_groups WHERE id = \(bind: groupID)").first()
        return try row?.int("is_org_default") ?? 0 != 0
    }

    static func applyStackChanges(
        _ database: any SQLDatabase, groupID: String, groupName: String, changes: GroupChanges
    ) async throws {
        if let stacks = changes.replaceStacks {
            try await database.raw("DELETE FROM policy_group_stacks WHERE group_id = \(bind: groupID)").run()
            for stack in Set(stacks) { try await insert(database, stack, into: groupID) }
        }
        for stack in changes.addStacks { try await insert(database, stack, into: groupID) }
        for stack in changes.removeStacks {
            let removed = try await database.raw(
                """
                DELETE FROM policy_group_stacks
                WHERE group_id = \(bind: groupID) AND project = \(bind: stack.project) AND stack = \(bind: stack.name)
                RETURNING stack
                """
            ).first()
            guard removed != nil else {
                let shown = stack.project.isEmpty ? stack.name : "\(stack.project)/\(stack.name)"
                throw RegistryError(.notFound, "Stack '\(shown)' is not in policy group '\(groupName)'")
            }
        }
    }

    static func insert(_ database: any SQLDatabase, _ stack: StackReference, into groupID: String) async throws {
        try await database.raw(
            """
            INSERT INTO policy_group_stacks (group_id, project, stack)
            VALUES (\(bind: groupID), \(bind: stack.project), \(bind: stack.name))
            ON CONFLICT (group_id, project, stack) DO NOTHING
            """
        ).run()
    }

    static func applyPackChanges(
        _ database: any SQLDatabase, groupID: String, groupName: String, changes: GroupChanges
    ) async throws {
        let applications = (changes.replacePacks ?? []) + changes.addPacks
        if !applications.isEmpty {
            // The versions were resolved before this transaction; make sure none was deleted since.
            let found = try await database.raw(
                """
                SELECT COUNT(*) AS count FROM policy_pack_versions
                WHERE id IN (\(binds: applications.map(\.versionID))) AND status = 'complete'
                """
            ).first()?.int("count")
            guard found == Int64(Set(applications.map(\.versionID)).count) else {
                throw RegistryError(.conflict, "A Policy Pack version was deleted meanwhile: try again.")
            }
        }
        if let packs = changes.replacePacks {
            try await database.raw("DELETE FROM policy_group_packs WHERE group_id = \(bind: groupID)").run()
            for application in packs { try await apply(database, application, to: groupID) }
        }
        for application in changes.addPacks { try await apply(database, application, to: groupID) }
        for removal in changes.removePacks {
            let versionFilter: SQLQueryString = removal.versionID.map { "AND gp.version_id = \(bind: $0)" } ?? ""
            let removed = try await database.raw(
                """
                DELETE FROM policy_group_packs
                WHERE group_id = \(bind: groupID) AND pack_id IN (
                    SELECT gp.pack_id FROM policy_group_packs gp JOIN policy_packs p ON p.id = gp.pack_id
                    WHERE gp.group_id = \(bind: groupID) AND p.name = \(bind: removal.pack) \(versionFilter))
                RETURNING pack_id
                """
            ).first()
            guard removed != nil else {
                throw RegistryError(
                    .notFound,
                    "Policy Pack '\(removal.pack)' is not enabled at that version in policy group '\(groupName)'")
            }
        }
    }

    /// A group holds one version of a pack: applying another version replaces it.
    static func apply(_ database: any SQLDatabase, _ application: GroupChanges.Application, to groupID: String)
        async throws
    {
        try await database.raw(
            """
            INSERT INTO policy_group_packs (group_id, pack_id, version_id, config)
            VALUES (\(bind: groupID), \(bind: application.packID), \(bind: application.versionID),
                    \(bind: application.config))
            ON CONFLICT (group_id, pack_id) DO UPDATE SET version_id = excluded.version_id, config = excluded.config
            """
        ).run()
    }
}
