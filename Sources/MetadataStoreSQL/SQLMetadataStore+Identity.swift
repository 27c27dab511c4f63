import Foundation
import PolicyHubCore
import SQLKit

extension SQLMetadataStore {
    public func bootstrap(adminLogin: String, organization: String, tokenHash: String, at time: Date) async throws
        -> Bool
    {
        try await backend.transaction { database in
            // Instances starting together on one database race here: only the one that claims the marker row
            // creates the first admin; the others wait for its commit, then find the claim taken.
            let claimed = try await database.raw(
                """
                INSERT INTO settings (name, value) VALUES ('bootstrapped', \(bind: String(time.milliseconds)))
                ON CONFLICT (name) DO NOTHING RETURNING name
                """
            ).first()
            let users = try await database.raw("SELECT COUNT(*) AS count FROM users").first()?.int("count") ?? 0
            guard claimed != nil, users == 0 else { return false }
            let userID = try await Self.insertUser(database, login: adminLogin, displayName: adminLogin, at: time)
            let orgID = try await Self.insertOrganization(database, login: organization, personalUserID: nil, at: time)
            try await Self.insertMembership(database, organizationID: orgID, userID: userID, role: .admin)
            try await Self.insertToken(
                database, userID: userID, tokenHash: tokenHash, description: "initial admin token", expiresAt: nil,
                at: time)
            return true
        }
    }

    public func createUser(login: String, displayName: String, at time: Date) async throws {
        try await backend.transaction { database in
            _ = try await Self.insertUser(database, login: login, displayName: displayName, at: time)
        }
    }

    public func createOrganization(login: String, at time: Date) async throws {
        try await backend.transaction { database in
            try await Self.requireUnusedLogin(database, login)
            _ = try await Self.insertOrganization(database, login: login, personalUserID: nil, at: time)
        }
    }

    public func addMember(organization: String, login: String, role: Role) async throws {
        try await backend.transaction { database in
            let orgID = try await Self.organizationID(database, organization)
            guard let userID = try await Self.userID(database, login) else {
                throw RegistryError(.notFound, "User '\(login)' not found")
            }
            let existing = try await database.raw(
                """
                SELECT role FROM memberships WHERE organization_id = \(bind: orgID) AND user_id = \(bind: userID)
                """
            ).first()
            guard existing == nil else {
                throw RegistryError(.conflict, "User '\(login)' is already a member of '\(organization)'")
            }
            try await Self.insertMembership(database, organizationID: orgID, userID: userID, role: role)
        }
    }

    public func createToken(
        login: String, tokenHash: String, description: String, expiresAt: Date?, at time: Date, audit: AuditEvent?
    ) async throws -> String {
        try await backend.transaction { database in
            guard let userID = try await Self.userID(database, login) else {
                throw RegistryError(.notFound, "User '\(login)' not found")
            }
            try await Self.insert(audit, database)
            return try await Self.insertToken(
                database, userID: userID, tokenHash: tokenHash, description: description, expiresAt: expiresAt,
                at: time)
        }
    }

    public func touchToken(id: String, at time: Date) async throws {
        try await backend.transaction { database in
            try await database.raw(
                "UPDATE access_tokens SET last_used_at = \(bind: time.milliseconds) WHERE id = \(bind: id)"
            ).run()
        }
    }

    public func listTokens(login: String) async throws -> [AccessTokenRecord] {
        try await backend.withConnection { database in
            guard try await Self.userID(database, login) != nil else {
                throw RegistryError(.notFound, "User '\(login)' not found")
            }
            return try await database.raw(
                """
                SELECT t.id AS id, t.description AS description, t.created_at AS created_at,
                       t.expires_at AS expires_at, t.last_used_at AS last_used_at, t.revoked_at AS revoked_at
                FROM access_tokens t JOIN users u ON u.id = t.user_id
                WHERE u.login = \(bind: login)
                ORDER BY t.created_at, t.id
                """
            ).all().map { row in
                AccessTokenRecord(
                    id: try row.string("id"), description: try row.string("description"),
                    createdAt: Date(milliseconds: try row.int("created_at")),
                    expiresAt: try row.optionalInt("expires_at").map(Date.init(milliseconds:)),
                    lastUsedAt: try row.optionalInt("last_used_at").map(Date.init(milliseconds:)),
                    revokedAt: try row.optionalInt("revoked_at").map(Date.init(milliseconds:)))
            }
        }
    }

    public func revokeToken(id: String, at time: Date, audit: AuditEvent?) async throws {
        try await backend.transaction { database in
            try await Self.insert(audit, database)
            guard
                let row = try await database.raw("SELECT revoked_at FROM access_tokens WHERE id = \(bind: id)").first()
            else { throw RegistryError(.notFound, "Token '\(id)' not found") }
            guard try row.optionalInt("revoked_at") == nil else {
                throw RegistryError(.conflict, "Token '\(id)' is already revoked")
            }
            try await database.raw(
                "UPDATE access_tokens SET revoked_at = \(bind: time.milliseconds) WHERE id = \(bind: id)"
            ).run()
        }
    }

    public func principal(tokenHash: String, at time: Date) async throws -> Principal? {
        let now = time.milliseconds
        let rows = try await backend.withConnection { database in
            try await database.raw(
                """
                SELECT u.id AS user_id, u.login AS login, u.display_name AS display_name,
                       t.id AS token_id, t.description AS token_description, t.last_used_at AS last_used_at,
                       o.login AS organization, m.role AS role, o.personal_user_id AS personal_user_id
                FROM access_tokens t
                JOIN users u ON u.id = t.user_id
                LEFT JOIN memberships m ON m.user_id = u.id
                LEFT JOIN organizations o ON o.id = m.organization_id
                WHERE t.token_hash = \(bind: tokenHash) AND t.revoked_at IS NULL
                  AND (t.expires_at IS NULL OR t.expires_at > \(bind: now))
                ORDER BY o.login
                """
            ).all()
        }
        guard let first = rows.first else { return nil }
        let memberships = try rows.compactMap { row -> Membership? in
            guard let organization = try row.optionalString("organization"),
                let role = Role(rawValue: try row.string("role"))
            else { return nil }
            return Membership(
                organization: organization, role: role, isPersonal: try row.optionalString("personal_user_id") != nil)
        }
        return Principal(
            userID: try first.string("user_id"), login: try first.string("login"),
            displayName: try first.string("display_name"), tokenID: try first.string("token_id"),
            tokenDescription: try first.string("token_description"),
            tokenLastUsedAt: try first.optionalInt("last_used_at").map(Date.init(milliseconds:)),
            memberships: memberships)
    }

    public func signingKey() async throws -> [UInt8] {
        let name = "upload_signing_key"
        var generator = SystemRandomNumberGenerator()
        let candidate = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        return try await backend.transaction { database in
            // Instances starting together on an empty database race here: the first insert wins, the others wait
            // for its commit and keep nothing of their own, and all of them read back the one stored key.
            try await database.raw(
                """
                INSERT INTO settings (name, value) VALUES (\(bind: name), \(bind: Data(candidate).base64EncodedString()))
                ON CONFLICT (name) DO NOTHING
                """
            ).run()
            guard let row = try await database.raw("SELECT value FROM settings WHERE name = \(bind: name)").first(),
                let key = Data(base64Encoded: try row.string("value")), key.count == 32
            else { throw StoreInconsistency("the stored link signing key is not 32 bytes of base64") }
            return [UInt8](key)
        }
    }

    // MARK: Helpers shared by the identity operations

    static func userID(_ database: any SQLDatabase, _ login: String) async throws -> String? {
        try await database.raw("SELECT id FROM users WHERE login = \(bind: login)").first()?.string("id")
    }

    static func organizationID(_ database: any SQLDatabase, _ login: String) async throws -> String {
        guard let row = try await database.raw("SELECT id FROM organizations WHERE login = \(bind: login)").first()
        else { throw RegistryError.organizationNotFound }
        return try row.string("id")
    }

    /// Users and organizations share one namespace, as each user has a personal organization.
    static func requireUnusedLogin(_ database: any SQLDatabase, _ login: String) async throws {
        let taken = try await database.raw(
            """
            SELECT login FROM users WHERE login = \(bind: login)
            UNION SELECT login FROM organizations WHERE login = \(bind: login)
            """
        ).first()
        if taken != nil {
            throw RegistryError(.conflict, "The name '\(login)' is already taken by a user or organization")
        }
    }

    /// Inserts a user and the personal organization of the same name, administered by the user.
    static func insertUser(_ database: any SQLDatabase, login: String, displayName: String, at time: Date)
        async throws -> String
    {
        try await requireUnusedLogin(database, login)
        let id = newID()
        try await database.raw(
            """
            INSERT INTO users (id, login, display_name, created_at)
            VALUES (\(bind: id), \(bind: login), \(bind: displayName), \(bind: time.milliseconds))
            """
        ).run()
        let orgID = try await insertOrganization(database, login: login, personalUserID: id, at: time)
        try await insertMembership(database, organizationID: orgID, userID: id, role: .admin)
        return id
    }

    static func insertOrganization(
        _ database: any SQLDatabase, login: String, personalUserID: String?, at time: Date
    ) async throws -> String {
        let id = newID()
        try await database.raw(
            """
            INSERT INTO organizations (id, login, personal_user_id, created_at)
            VALUES (\(bind: id), \(bind: login), \(bind: personalUserID), \(bind: time.milliseconds))
            """
        ).run()
        try await database.raw(
            """
            INSERT INTO policy_groups (id, organization_id, name, is_org_default, mode, agent_pool_id, created_at)
            VALUES (\(bind: "default-" + id), \(bind: id), \(bind: PolicyGroup.defaultName), 1, 'preventative', NULL,
                    \(bind: time.milliseconds))
            """
        ).run()
        return id
    }

    static func insertMembership(_ database: any SQLDatabase, organizationID: String, userID: String, role: Role)
        async throws
    {
        try await database.raw(
            """
            INSERT INTO memberships (organization_id, user_id, role)
            VALUES (\(bind: organizationID), \(bind: userID), \(bind: role.rawValue))
            """
        ).run()
    }

    static func insertToken(
        _ database: any SQLDatabase, userID: String, tokenHash: String, description: String, expiresAt: Date?,
        at time: Date
    ) async throws -> String {
        let id = newID()
        try await database.raw(
            """
            INSERT INTO access_tokens (id, user_id, token_hash, description, created_at, expires_at)
            VALUES (\(bind: id), \(bind: userID), \(bind: tokenHash), \(bind: description), \(bind: time.milliseconds),
                    \(bind: expiresAt?.milliseconds))
            """
        ).run()
        return id
    }
}
