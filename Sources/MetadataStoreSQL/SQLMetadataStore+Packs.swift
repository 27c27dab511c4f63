import Foundation
import PolicyHubCore
import SQLKit

extension SQLMetadataStore {
    /// The columns `decodeVersion` reads; joined with packs (`p`) and organizations (`o`).
    static let versionColumns = """
        v.id AS id, v.pack_id AS pack_id, o.login AS organization, v.version AS version, v.status AS status,
        v.draft AS draft, v.archive_key AS archive_key, v.archive_size AS archive_size,
        v.archive_sha256 AS archive_sha256, v.created_at AS created_at, v.completed_at AS completed_at,
        v.published_by AS published_by, \(appliedExpression) AS applied
        """

    static let versionSource = """
        policy_pack_versions v
        JOIN policy_packs p ON p.id = v.pack_id
        JOIN organizations o ON o.id = p.organization_id
        """

    /// 1 when a policy group applies the version `v`, else 0.
    static let appliedExpression =
        "CASE WHEN EXISTS (SELECT 1 FROM policy_group_packs applied WHERE applied.version_id = v.id) THEN 1 ELSE 0 END"

    /// Whether a policy group applies any version of the pack `p`.
    static let packIsApplied = "EXISTS (SELECT 1 FROM policy_group_packs applied WHERE applied.pack_id = p.id)"

    static func decodeVersion(_ row: any SQLRow) throws -> PackVersion {
        let draft = try JSONDecoder().decode(PolicyPackDraft.self, from: Data(try row.string("draft").utf8))
        let archive: StoredBlob? = try row.optionalString("archive_key").map { key in
            StoredBlob(
                key: key, size: try row.optionalInt("archive_size") ?? 0,
                sha256: try row.optionalString("archive_sha256") ?? "")
        }
        return PackVersion(
            id: try row.string("id"), packID: try row.string("pack_id"), organization: try row.string("organization"),
            version: Int(try row.int("version")), status: VersionStatus(rawValue: try row.string("status")) ?? .pending,
            draft: draft, archive: archive, createdAt: Date(milliseconds: try row.int("created_at")),
            completedAt: try row.optionalInt("completed_at").map(Date.init(milliseconds:)),
            applied: try row.int("applied") != 0, publishedBy: try row.optionalString("published_by"))
    }

    static func encode(_ draft: PolicyPackDraft) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(draft), as: UTF8.self)
    }

    // MARK: Publishing

    public func beginVersion(organization: String, draft: PolicyPackDraft, at time: Date, audit: AuditEvent?)
        async throws -> PackVersion
    {
        let lock = backend.lockRowsClause
        return try await backend.transaction { database in
            let orgID = try await Self.organizationID(database, organization)
            try await Self.insert(audit, database)
            try await database.raw(
                """
                INSERT INTO policy_packs (id, organization_id, name, next_version, created_at)
                VALUES (\(bind: Self.newID()), \(bind: orgID), \(bind: draft.name), 1, \(bind: time.milliseconds))
                ON CONFLICT (organization_id, name) DO NOTHING
                """
            ).run()
            // Locks the pack row, so concurrent creates of one pack take their numbers one at a time.
            guard
                let packID = try await database.raw(
                    """
                    SELECT id FROM policy_packs WHERE organization_id = \(bind: orgID) AND name = \(bind: draft.name)
                    \(unsafeRaw: lock)
                    """
                ).first()?.string("id")
            else { throw RegistryError.packNotFound(draft.name) }
            let encoded = try Self.encode(draft)
            if let tag = draft.versionTag,
                let existing = try await database.raw(
                    """
                    SELECT \(unsafeRaw: Self.versionColumns) FROM \(unsafeRaw: Self.versionSource)
                    WHERE v.pack_id = \(bind: packID) AND v.version_tag = \(bind: tag)
                    """
                ).first().map(Self.decodeVersion)
            {
                guard existing.status == .pending else { throw RegistryError.versionTagExists(draft.name, tag) }
                // A retried publish: the pending version takes the new metadata and a fresh upload link.
                try await database.raw(
                    """
                    UPDATE policy_pack_versions SET draft = \(bind: encoded), display_name = \(bind: draft.displayName),
                        created_at = \(bind: time.milliseconds)
                    WHERE id = \(bind: existing.id)
                    """
                ).run()
                var updated = existing
                updated.draft = draft
                return updated
            }
            guard
                let next = try await database.raw(
                    """
                    UPDATE policy_packs SET next_version = next_version + 1 WHERE id = \(bind: packID)
                    RETURNING next_version
                    """
                ).first()?.int("next_version")
            else { throw RegistryError.packNotFound(draft.name) }
            let version = PackVersion(
                id: Self.newID(), packID: packID, organization: organization, version: Int(next - 1), status: .pending,
                draft: draft, archive: nil, createdAt: time, completedAt: nil, applied: false)
            try await database.raw(
                """
                INSERT INTO policy_pack_versions
                    (id, pack_id, version, version_tag, status, display_name, draft, created_at)
                VALUES (\(bind: version.id), \(bind: packID), \(bind: version.version), \(bind: draft.versionTag),
                        'pending', \(bind: draft.displayName), \(bind: encoded), \(bind: time.milliseconds))
                """
            ).run()
            return version
        }
    }

    public func version(organization: String, pack: String, reference: String) async throws -> PackVersion {
        let isLatest = reference == "latest" ? 1 : 0
        let number = Int64(reference) ?? -1
        let row = try await backend.withConnection { database in
            try await database.raw(
                """
                SELECT \(unsafeRaw: Self.versionColumns) FROM \(unsafeRaw: Self.versionSource)
                WHERE o.login = \(bind: organization) AND p.name = \(bind: pack)
                  AND (v.version_tag = \(bind: reference) OR v.version = \(bind: number)
                       OR (\(bind: isLatest) = 1 AND v.status = 'complete'))
                ORDER BY CASE WHEN v.version_tag = \(bind: reference) THEN 0
                              WHEN \(bind: isLatest) = 1 AND v.status = 'complete' THEN 1
                              ELSE 2 END,
                         v.version DESC
                LIMIT 1
                """
            ).first()
        }
        if let row { return try Self.decodeVersion(row) }
        try await requirePack(organization: organization, pack: pack)
        throw RegistryError.versionNotFound(pack, reference)
    }

    public func version(organization: String, pack: String, number: Int) async throws -> PackVersion {
        let row = try await backend.withConnection { database in
            try await database.raw(
                """
                SELECT \(unsafeRaw: Self.versionColumns) FROM \(unsafeRaw: Self.versionSource)
                WHERE o.login = \(bind: organization) AND p.name = \(bind: pack) AND v.version = \(bind: number)
                """
            ).first()
        }
        if let row { return try Self.decodeVersion(row) }
        try await requirePack(organization: organization, pack: pack)
        throw RegistryError.versionNotFound(pack, String(number))
    }

    /// Names of the policy groups whose applications match `column = id`, sorted.
    static func groupsApplying(_ database: any SQLDatabase, column: String, id: String) async throws -> [String] {
        try await database.raw(
            """
            SELECT g.name AS name FROM policy_group_packs gp JOIN policy_groups g ON g.id = gp.group_id
            WHERE gp.\(unsafeRaw: column) = \(bind: id) ORDER BY g.name
            """
        ).all().map { try $0.string("name") }
    }

    public func version(id: String) async throws -> PackVersion? {
        try await backend.withConnection { database in
            try await database.raw(
                "SELECT \(unsafeRaw: Self.versionColumns) FROM \(unsafeRaw: Self.versionSource) WHERE v.id = \(bind: id)"
            ).first().map(Self.decodeVersion)
        }
    }

    public func recordUpload(versionID: String, archive: StoredBlob, at time: Date) async throws -> StoredBlob? {
        try await backend.transaction { database in
            guard
                let current = try await database.raw(
                    """
                    SELECT \(unsafeRaw: Self.versionColumns) FROM \(unsafeRaw: Self.versionSource)
                    WHERE v.id = \(bind: versionID)
                    """
                ).first().map(Self.decodeVersion)
            else { throw RegistryError(.notFound, "This Policy Pack version no longer exists.") }
            guard current.status == .pending else {
                throw RegistryError.uploadToCompletedVersion(current.name, current.version)
            }
            try await database.raw(
                """
                UPDATE policy_pack_versions
                SET archive_key = \(bind: archive.key), archive_size = \(bind: archive.size),
                    archive_sha256 = \(bind: archive.sha256), uploaded_at = \(bind: time.milliseconds)
                WHERE id = \(bind: versionID) AND status = 'pending'
                """
            ).run()
            return current.archive
        }
    }

    public func completeVersion(
        versionID: String, recordedUpload: String?, archive: StoredBlob, at time: Date, audit: AuditEvent?
    ) async throws {
        let sameUpload: SQLQueryString =
            recordedUpload.map { "archive_key = \(bind: $0)" } ?? "archive_key IS NULL"
        try await backend.transaction { database in
            try await Self.insert(audit, database)
            let updated = try await database.raw(
                """
                UPDATE policy_pack_versions
                SET status = 'complete', archive_key = \(bind: archive.key), archive_size = \(bind: archive.size),
                    archive_sha256 = \(bind: archive.sha256), completed_at = \(bind: time.milliseconds),
                    published_by = \(bind: audit?.actor)
                WHERE id = \(bind: versionID) AND status = 'pending' AND \(sameUpload)
                RETURNING id
                """
            ).first()
            guard updated == nil else { return }
            let status = try await database.raw(
                "SELECT status FROM policy_pack_versions WHERE id = \(bind: versionID)"
            ).first()?.string("status")
            switch status {
            case nil: throw RegistryError(.notFound, "This Policy Pack version no longer exists.")
            case VersionStatus.complete.rawValue?: throw RegistryError.alreadyComplete
            default:
                throw RegistryError(
                    .conflict, "A new archive was uploaded while this version was being completed: complete it again.")
            }
        }
    }

    public func listPacks(organization: String, name: String?) async throws -> [PackSummary] {
        let nameFilter: SQLQueryString = name.map { "AND p.name = \(bind: $0)" } ?? ""
        let rows = try await backend.withConnection { database in
            try await database.raw(
                """
                SELECT p.name AS name, v.version AS version, v.version_tag AS version_tag,
                       v.display_name AS display_name, \(unsafeRaw: Self.appliedExpression) AS applied
                FROM \(unsafeRaw: Self.versionSource)
                WHERE o.login = \(bind: organization) AND v.status = 'complete' \(nameFilter)
                ORDER BY p.name, v.version
                """
            ).all()
        }
        var summaries: [PackSummary] = []
        for row in rows {
            let name = try row.string("name")
            if summaries.last?.name != name {
                summaries.append(PackSummary(name: name, displayName: "", versions: [], versionTags: []))
            }
            summaries[summaries.count - 1].versions.append(Int(try row.int("version")))
            summaries[summaries.count - 1].versionTags.append(try row.optionalString("version_tag") ?? "")
            summaries[summaries.count - 1].displayName = try row.string("display_name")
            if try row.int("applied") != 0 {
                summaries[summaries.count - 1].appliedVersions.append(Int(try row.int("version")))
            }
        }
        return summaries
    }

    public func deletePack(organization: String, name: String, audit: AuditEvent?) async throws -> [String] {
        try await backend.transaction { database in
            try await Self.insert(audit, database)
            let orgID = try await Self.organizationID(database, organization)
            guard
                let packID = try await database.raw(
                    "SELECT id FROM policy_packs WHERE organization_id = \(bind: orgID) AND name = \(bind: name)"
                ).first()?.string("id")
            else { throw RegistryError.packNotFound(name) }
            let groups = try await Self.groupsApplying(database, column: "pack_id", id: packID)
            guard groups.isEmpty else {
                throw RegistryError.invalid(
                    "Cannot delete an enabled Policy Pack: disable it in policy group \(groups.joined(separator: ", ")) first."
                )
            }
            let keys = try await database.raw(
                "SELECT archive_key FROM policy_pack_versions WHERE pack_id = \(bind: packID) AND archive_key IS NOT NULL"
            ).all().map { try $0.string("archive_key") }
            try await database.raw("DELETE FROM policy_pack_versions WHERE pack_id = \(bind: packID)").run()
            try await database.raw("DELETE FROM policy_packs WHERE id = \(bind: packID)").run()
            return keys
        }
    }

    public func deleteVersion(id: String, audit: AuditEvent?) async throws -> String? {
        try await backend.transaction { database in
            try await Self.insert(audit, database)
            let groups = try await Self.groupsApplying(database, column: "version_id", id: id)
            guard groups.isEmpty else {
                throw RegistryError(
                    .conflict,
                    "Cannot delete a Policy Pack that is applied to Policy Groups: disable it in "
                        + "\(groups.joined(separator: ", ")) first.")
            }
            let key = try await database.raw(
                "SELECT archive_key FROM policy_pack_versions WHERE id = \(bind: id)"
            ).first()?.optionalString("archive_key")
            try await database.raw("DELETE FROM policy_pack_versions WHERE id = \(bind: id)").run()
            return key
        }
    }

    // MARK: Sweeping

    public func pendingVersions(before cutoff: Date) async throws -> [PackVersion] {
        try await backend.withConnection { database in
            try await database.raw(
                """
                SELECT \(unsafeRaw: Self.versionColumns) FROM \(unsafeRaw: Self.versionSource)
                WHERE v.status = 'pending' AND COALESCE(v.uploaded_at, v.created_at) < \(bind: cutoff.milliseconds)
                ORDER BY v.created_at
                """
            ).all().map(Self.decodeVersion)
        }
    }

    public func deletePendingVersion(id: String) async throws -> String? {
        try await backend.transaction { database in
            try await database.raw(
                "DELETE FROM policy_pack_versions WHERE id = \(bind: id) AND status = 'pending' RETURNING archive_key"
            ).first()?.optionalString("archive_key")
        }
    }

    public func referencedArchiveKeys() async throws -> Set<String> {
        try await backend.withConnection { database in
            Set(
                try await database.raw(
                    "SELECT archive_key FROM policy_pack_versions WHERE archive_key IS NOT NULL"
                ).all().map { try $0.string("archive_key") })
        }
    }

    // MARK: Registry

    public func latestVersions(
        organizations: [String], packIDs: [String]?, appliedOnly: Bool, after: RegistryCursor?, limit: Int
    ) async throws -> [PackVersion] {
        guard !organizations.isEmpty, packIDs.map({ !$0.isEmpty }) ?? true else { return [] }
        let idFilter: SQLQueryString = packIDs.map { "AND p.id IN (\(binds: $0))" } ?? ""
        let appliedFilter: SQLQueryString = appliedOnly ? "AND \(unsafeRaw: Self.packIsApplied)" : ""
        let cursorFilter: SQLQueryString =
            after.map {
                "AND (o.login > \(bind: $0.organization) OR (o.login = \(bind: $0.organization) AND p.name > \(bind: $0.name)))"
            } ?? ""
        return try await backend.withConnection { database in
            try await database.raw(
                """
                SELECT \(unsafeRaw: Self.versionColumns) FROM \(unsafeRaw: Self.versionSource)
                WHERE o.login IN (\(binds: organizations)) AND v.status = 'complete'
                  AND v.version = (SELECT MAX(latest.version) FROM policy_pack_versions latest
                                   WHERE latest.pack_id = v.pack_id AND latest.status = 'complete')
                  \(idFilter) \(appliedFilter) \(cursorFilter)
                ORDER BY o.login, p.name
                LIMIT \(literal: limit)
                """
            ).all().map(Self.decodeVersion)
        }
    }

    public func completedVersions(organization: String, pack: String, after: Int, limit: Int) async throws
        -> [PackVersion]
    {
        try await backend.withConnection { database in
            try await database.raw(
                """
                SELECT \(unsafeRaw: Self.versionColumns) FROM \(unsafeRaw: Self.versionSource)
                WHERE o.login = \(bind: organization) AND p.name = \(bind: pack) AND v.status = 'complete'
                  AND v.version > \(bind: after)
                ORDER BY v.version
                LIMIT \(literal: limit)
                """
            ).all().map(Self.decodeVersion)
        }
    }

    /// Throws the right not-found error when the organization or pack does not exist.
    private func requirePack(organization: String, pack: String) async throws {
        let found = try await backend.withConnection { database in
            try await database.raw(
                """
                SELECT o.login AS organization, p.name AS name FROM organizations o
                LEFT JOIN policy_packs p ON p.organization_id = o.id AND p.name = \(bind: pack)
                WHERE o.login = \(bind: organization)
                """
            ).first()
        }
        guard let found else { throw RegistryError.organizationNotFound }
        guard try found.optionalString("name") != nil else { throw RegistryError.packNotFound(pack) }
    }
}
