import Foundation

/// Persistence of users, organizations, tokens and policy pack metadata, split along its seams so each service
/// takes only what it uses. Every method is one transaction. Implementations translate their own failures into
/// `RegistryError` where the cause is the caller's.
public protocol MetadataStore: IdentityStore, PackStore, GroupStore, AuditStore, SweepStore, ResultsStore {
    /// Answers when the database does; for health checks.
    func ping() async throws
}

/// Users, organizations, memberships and tokens.
public protocol IdentityStore: Sendable {

    /// Creates the first administrator, the `default` organization and a token, only if the store has no user yet.
    /// Returns false when the store was already set up.
    func bootstrap(adminLogin: String, organization: String, tokenHash: String, at time: Date) async throws -> Bool
    /// Creates a user together with the personal organization of the same name.
    func createUser(login: String, displayName: String, at time: Date) async throws
    func createOrganization(login: String, at time: Date) async throws
    func addMember(organization: String, login: String, role: Role) async throws
    /// Stores a token's hash for `login`; returns the token's ID.
    func createToken(
        login: String, tokenHash: String, description: String, expiresAt: Date?, at time: Date, audit: AuditEvent?
    ) async throws -> String
    /// The caller behind a token hash, with all memberships, or nil when no token with that hash is live at `time`
    /// (unknown, revoked or expired). Reads the database every time, so a revocation holds on every instance.
    func principal(tokenHash: String, at time: Date) async throws -> Principal?
    /// Records that a token was used.
    func touchToken(id: String, at time: Date) async throws
    func listTokens(login: String) async throws -> [AccessTokenRecord]
    func revokeToken(id: String, at time: Date, audit: AuditEvent?) async throws
    /// The server's HMAC key for signed links, created on first use and shared by every instance.
    func signingKey() async throws -> [UInt8]
}

/// Policy packs and their versions, through the org API and the registry alike.
public protocol PackStore: Sendable {

    /// Creates a pending version with the next number, or returns the pending version that already has the tag
    /// (updated with this draft). Throws a conflict when the tag belongs to a completed version.
    func beginVersion(organization: String, draft: PolicyPackDraft, at time: Date, audit: AuditEvent?) async throws
        -> PackVersion
    /// Resolves `reference` as an exact tag, then `latest` (newest complete), then a version number.
    func version(organization: String, pack: String, reference: String) async throws -> PackVersion
    /// The version with this number, whatever its tag.
    func version(organization: String, pack: String, number: Int) async throws -> PackVersion
    func version(id: String) async throws -> PackVersion?
    /// Points a pending version at a freshly uploaded archive; returns the archive it replaces.
    /// Throws a conflict when the version is no longer pending.
    func recordUpload(versionID: String, archive: StoredBlob, at time: Date) async throws -> StoredBlob?
    /// Marks a pending version complete with its verified archive, which may have been sealed under a new key.
    /// `recordedUpload` is the upload the version recorded (nil for one written straight to storage). Throws when it
    /// is already complete, or when its recorded upload is no longer `recordedUpload` (a newer upload came in).
    func completeVersion(
        versionID: String, recordedUpload: String?, archive: StoredBlob, at time: Date, audit: AuditEvent?
    ) async throws
    /// Packs with at least one completed version, sorted by name, in one query.
    func listPacks(organization: String, name: String?) async throws -> [PackSummary]
    /// Deletes a pack and every version; returns the archive keys that are no longer referenced.
    /// Refused while a policy group applies any of its versions.
    func deletePack(organization: String, name: String, audit: AuditEvent?) async throws -> [String]
    /// Deletes one version; returns its archive key, if any. Refused while a policy group applies it.
    func deleteVersion(id: String, audit: AuditEvent?) async throws -> String?

    /// The newest completed version of each pack in `organizations`, ordered by organization and name.
    func latestVersions(
        organizations: [String], packIDs: [String]?, appliedOnly: Bool, after: RegistryCursor?, limit: Int
    ) async throws -> [PackVersion]
    /// Completed versions of one pack, ascending, after the given version number.
    func completedVersions(organization: String, pack: String, after: Int, limit: Int) async throws -> [PackVersion]
}

/// Policy groups: which stacks they hold and which pack versions they apply.
public protocol GroupStore: Sendable {

    /// Creates a group; every organization also has `default-policy-group` from its creation.
    func createGroup(
        organization: String, name: String, mode: PolicyGroupMode, agentPoolID: String?, at time: Date,
        audit: AuditEvent?
    ) async throws
    func listGroups(organization: String) async throws -> [PolicyGroupSummary]
    func group(organization: String, name: String) async throws -> PolicyGroup
    /// Applies all of `changes` or nothing. Refuses to rename the organization's default group.
    func updateGroup(organization: String, name: String, changes: GroupChanges, audit: AuditEvent?) async throws
    /// Refuses to delete the organization's default group.
    func deleteGroup(organization: String, name: String, audit: AuditEvent?) async throws
    /// The groups a stack belongs to: those listing it, or the default group when none does.
    func groups(organization: String, stack: StackReference) async throws -> [PolicyGroupSummary]
    /// Every application of a pack in the groups the stack belongs to.
    func appliedPacks(organization: String, stack: StackReference) async throws -> [AppliedPack]
}

/// The audit trail. Nothing changes or removes events.
public protocol AuditStore: Sendable {

    /// Records an event on its own, for refused attempts that change nothing. Changes record theirs in their own
    /// transaction through their `audit` parameter.
    func recordAudit(_ event: AuditEvent) async throws
    /// Events of one organization, newest first, after `cursor` when given.
    func auditEvents(_ query: AuditQuery, after cursor: AuditCursor?) async throws -> [AuditEvent]
}

/// What the garbage collector reads and removes.
public protocol SweepStore: Sendable {
    /// Pending versions last created or uploaded to before `cutoff`.
    func pendingVersions(before cutoff: Date) async throws -> [PackVersion]
    /// Deletes a version only if it is still pending; returns its archive key when it was deleted and had one.
    func deletePendingVersion(id: String) async throws -> String?
    /// Every archive key a version points at.
    func referencedArchiveKeys() async throws -> Set<String>
}

/// The same changes without an audit event. Only the tests use them: every change the server and the admin
/// commands make is audited.
extension IdentityStore {
    public func createToken(login: String, tokenHash: String, description: String, expiresAt: Date?, at time: Date)
        async throws -> String
    {
        try await createToken(
            login: login, tokenHash: tokenHash, description: description, expiresAt: expiresAt, at: time, audit: nil)
    }

    public func revokeToken(id: String, at time: Date) async throws {
        try await revokeToken(id: id, at: time, audit: nil)
    }
}

extension PackStore {
    public func beginVersion(organization: String, draft: PolicyPackDraft, at time: Date) async throws -> PackVersion {
        try await beginVersion(organization: organization, draft: draft, at: time, audit: nil)
    }

    public func completeVersion(versionID: String, recordedUpload: String?, archive: StoredBlob, at time: Date)
        async throws
    {
        try await completeVersion(
            versionID: versionID, recordedUpload: recordedUpload, archive: archive, at: time, audit: nil)
    }

    public func deletePack(organization: String, name: String) async throws -> [String] {
        try await deletePack(organization: organization, name: name, audit: nil)
    }

    public func deleteVersion(id: String) async throws -> String? { try await deleteVersion(id: id, audit: nil) }
}

extension GroupStore {
    public func createGroup(
        organization: String, name: String, mode: PolicyGroupMode, agentPoolID: String?, at time: Date
    ) async throws {
        try await createGroup(
            organization: organization, name: name, mode: mode, agentPoolID: agentPoolID, at: time, audit: nil)
    }

    public func updateGroup(organization: String, name: String, changes: GroupChanges) async throws {
        try await updateGroup(organization: organization, name: name, changes: changes, audit: nil)
    }

    public func deleteGroup(organization: String, name: String) async throws {
        try await deleteGroup(organization: organization, name: name, audit: nil)
    }
}
