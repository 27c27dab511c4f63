/// A caller's access to a registry entry.
public enum AccessLevel: String, Hashable, Sendable {
    case full
    case viewOnly = "view-only"
    case deny

    init(_ role: Role) { self = role == .admin ? .full : .viewOnly }

    /// The enforcement levels the caller may choose when applying the pack.
    public var enforcementLevels: [EnforcementLevel] { self == .full ? EnforcementLevel.allCases : [] }
}

/// Which registry packs a list returns.
public enum RegistryAccess: String, CaseIterable, Sendable {
    case added, available, enabled
    case `private`

    public init(parsing text: String?, default fallback: RegistryAccess) throws(RegistryError) {
        guard let text, !text.isEmpty else {
            self = fallback
            return
        }
        guard let access = RegistryAccess(rawValue: text) else { throw RegistryError.invalidAccessFilter }
        self = access
    }
}

/// One registry entry as a caller sees it.
public struct RegistryEntry: Hashable, Sendable {
    public var version: PackVersion
    public var accessLevel: AccessLevel

    public var publisher: String { version.organization }
}

public struct RegistryPage: Hashable, Sendable {
    public var entries: [RegistryEntry]
    public var continuationToken: String?
}

/// The registry views of policy packs: the same store as the org API, addressed by source/publisher/name.
public struct RegistryService: Sendable {
    public static let pageSize = 100

    let store: any PackStore
    let packs: PolicyPackService
    let authorizer: Authorizer

    public init(store: any PackStore, packs: PolicyPackService, authorizer: Authorizer) {
        self.store = store
        self.packs = packs
        self.authorizer = authorizer
    }

    /// `GET /api/orgs/{org}/registry/policypacks/{name}`: lightweight metadata, no policies.
    public func orgPack(organization: Name, pack: Name, tag: String?, caller: Principal) async throws
        -> RegistryEntry
    {
        let reference = (tag?.isEmpty ?? true) ? "latest" : tag!
        let version = try await packs.completedVersion(
            organization: organization, pack: pack, reference: reference, caller: caller)
        return RegistryEntry(
            version: version, accessLevel: AccessLevel(caller.role(in: organization.text) ?? .member))
    }

    /// Lists packs visible to the caller. `organization` nil means every organization the caller belongs to.
    public func list(
        organization: Name?, access: RegistryAccess, packIDs: [String]?, continuationToken: String?,
        caller: Principal?
    ) async throws -> RegistryPage {
        let cursor = try continuationToken.flatMap { token throws(RegistryError) in
            token.isEmpty ? nil : try RegistryCursor(token: token)
        }
        // Every pack is private, so only members see anything; anonymous callers get an empty page.
        let memberships = (caller?.memberships ?? []).filter {
            organization == nil || $0.organization == organization?.text
        }
        guard !memberships.isEmpty else { return RegistryPage(entries: [], continuationToken: nil) }
        let versions = try await store.latestVersions(
            organizations: memberships.map(\.organization), packIDs: packIDs, appliedOnly: access == .enabled,
            after: cursor, limit: Self.pageSize + 1)
        let roles = Dictionary(memberships.map { ($0.organization, $0.role) }, uniquingKeysWith: { first, _ in first })
        let entries = versions.prefix(Self.pageSize).map { version in
            RegistryEntry(
                version: version, accessLevel: AccessLevel(roles[version.organization] ?? .member))
        }
        let next =
            versions.count > Self.pageSize
            ? entries.last.map { RegistryCursor(organization: $0.publisher, name: $0.version.name).token } : nil
        return RegistryPage(entries: entries, continuationToken: next)
    }

    public func versions(
        publisher: Name, name: Name, continuationToken: String?, caller: Principal
    ) async throws -> RegistryPage {
        let role = try await authorizer.require(
            .readPolicyPacks, in: publisher.text, target: name.text, caller: caller)
        let (publisher, name) = (publisher.text, name.text)
        let after = try continuationToken.flatMap { token throws(RegistryError) in
            token.isEmpty ? nil : try RegistryCursor(token: token).version
        }
        let versions = try await store.completedVersions(
            organization: publisher, pack: name, after: after ?? 0, limit: Self.pageSize + 1)
        if versions.isEmpty && after == nil {
            // Distinguish "no such pack" from an empty page.
            _ = try await store.version(organization: publisher, pack: name, reference: "latest")
        }
        let entries = versions.prefix(Self.pageSize).map {
            RegistryEntry(version: $0, accessLevel: AccessLevel(role))
        }
        let next =
            versions.count > Self.pageSize
            ? entries.last.map {
                RegistryCursor(organization: publisher, name: name, version: $0.version.version).token
            }
            : nil
        return RegistryPage(entries: entries, continuationToken: next)
    }

    public func version(
        publisher: Name, name: Name, version reference: String, caller: Principal
    ) async throws -> RegistryEntry {
        // The pack service checks the permission, and audits a refusal, once.
        let version = try await packs.completedVersion(
            organization: publisher, pack: name, reference: reference, caller: caller)
        return RegistryEntry(version: version, accessLevel: AccessLevel(caller.role(in: publisher.text) ?? .member))
    }

    public func publish(
        publisher: Name, name: Name, draft: PolicyPackDraft, caller: Principal
    ) async throws -> PublishTicket {
        try await try await packs.create(
            organization: publisher, draft: draft, expectedName: name, caller: caller)
    }

    public func complete(
        publisher: Name, name: Name, version: String, operationID: String?, caller: Principal
    ) async throws {
        try await packs.complete(
            organization: publisher, pack: name, reference: version, caller: caller, operationID: operationID)
    }

    public func delete(publisher: Name, name: Name, caller: Principal) async throws {
        try await packs.deletePack(organization: publisher, pack: name, caller: caller)
    }

    public func deleteVersion(
        publisher: Name, name: Name, version: String, caller: Principal
    ) async throws {
        try await packs.deleteVersion(organization: publisher, pack: name, reference: version, caller: caller)
    }
}
