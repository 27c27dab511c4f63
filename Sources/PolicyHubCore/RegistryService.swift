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
    public var includesPolicies: Bool

    public var source: String { RegistryService.privateSource }
    public var publisher: String { version.organization }
}

public struct RegistryPage: Hashable, Sendable {
    public var entries: [RegistryEntry]
    public var continuationToken: String?
}

/// The registry views of policy packs: the same store as the org API, addressed by source/publisher/name.
public struct RegistryService: Sendable {
    public static let privateSource = "private"
    public static let pageSize = 100

    let store: any MetadataStore
    let packs: PolicyPackService

    public init(store: any MetadataStore, packs: PolicyPackService) {
        self.store = store
        self.packs = packs
    }

    /// `GET /api/orgs/{org}/registry/policypacks/{name}`: lightweight metadata, no policies.
    public func orgPack(organization: String, pack: String, tag: String?, caller: Principal) async throws
        -> RegistryEntry
    {
        let reference = (tag?.isEmpty ?? true) ? "latest" : tag!
        let version = try await packs.completedVersion(
            organization: organization, pack: pack, reference: reference, caller: caller)
        return RegistryEntry(
            version: version, accessLevel: AccessLevel(caller.role(in: organization) ?? .member),
            includesPolicies: false)
    }

    /// Lists packs visible to the caller. `organization` nil means every organization the caller belongs to.
    public func list(
        organization: String?, access: RegistryAccess, packIDs: [String]?, continuationToken: String?,
        caller: Principal?
    ) async throws -> RegistryPage {
        if let organization { try NameRule.validate(organization, field: "orgLogin") }
        let cursor = try continuationToken.flatMap { token throws(RegistryError) in
            token.isEmpty ? nil : try RegistryCursor(token: token)
        }
        // Every pack is private, so only members see anything; anonymous callers get an empty page.
        let memberships = (caller?.memberships ?? []).filter { organization == nil || $0.organization == organization }
        guard !memberships.isEmpty else { return RegistryPage(entries: [], continuationToken: nil) }
        let versions = try await store.latestVersions(
            organizations: memberships.map(\.organization), packIDs: packIDs, appliedOnly: access == .enabled,
            after: cursor, limit: Self.pageSize + 1)
        let roles = Dictionary(memberships.map { ($0.organization, $0.role) }, uniquingKeysWith: { first, _ in first })
        let entries = versions.prefix(Self.pageSize).map { version in
            RegistryEntry(
                version: version, accessLevel: AccessLevel(roles[version.organization] ?? .member),
                includesPolicies: false)
        }
        let next =
            versions.count > Self.pageSize
            ? entries.last.map { RegistryCursor(organization: $0.publisher, name: $0.version.name).token } : nil
        return RegistryPage(entries: entries, continuationToken: next)
    }

    public func versions(
        source: String, publisher: String, name: String, continuationToken: String?, caller: Principal
    ) async throws -> RegistryPage {
        let role = try authorize(source: source, publisher: publisher, name: name, needs: .member, caller: caller)
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
            RegistryEntry(version: $0, accessLevel: AccessLevel(role), includesPolicies: false)
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
        source: String, publisher: String, name: String, version reference: String, caller: Principal
    ) async throws -> RegistryEntry {
        let role = try authorize(source: source, publisher: publisher, name: name, needs: .member, caller: caller)
        let version = try await packs.completedVersion(
            organization: publisher, pack: name, reference: reference, caller: caller)
        return RegistryEntry(version: version, accessLevel: AccessLevel(role), includesPolicies: true)
    }

    public func publish(
        source: String, publisher: String, name: String, body: JSONValue, caller: Principal
    ) async throws -> PublishTicket {
        try authorize(source: source, publisher: publisher, name: name, needs: .admin, caller: caller)
        let ticket = try await packs.create(organization: publisher, body: body, tagField: .version, caller: caller)
        guard ticket.version.name == name else {
            throw RegistryError.invalid(
                "The body's name '\(ticket.version.name)' does not match the policy pack '\(name)' in the path.",
                details: [.init(resource: "policypack", attribute: "name", errorType: .invalid)])
        }
        return ticket
    }

    public func complete(
        source: String, publisher: String, name: String, version: String, operationID: String?, caller: Principal
    ) async throws {
        try authorize(source: source, publisher: publisher, name: name, needs: .admin, caller: caller)
        try await packs.complete(
            organization: publisher, pack: name, reference: version, caller: caller, operationID: operationID)
    }

    public func delete(source: String, publisher: String, name: String, caller: Principal) async throws {
        try authorize(source: source, publisher: publisher, name: name, needs: .admin, caller: caller)
        try await packs.deletePack(organization: publisher, pack: name, caller: caller)
    }

    public func deleteVersion(
        source: String, publisher: String, name: String, version: String, caller: Principal
    ) async throws {
        try authorize(source: source, publisher: publisher, name: name, needs: .admin, caller: caller)
        try await packs.deleteVersion(organization: publisher, pack: name, reference: version, caller: caller)
    }

    @discardableResult
    private func authorize(
        source: String, publisher: String, name: String, needs role: Role, caller: Principal
    ) throws(RegistryError) -> Role {
        guard source == Self.privateSource else {
            throw RegistryError(.notFound, "Policy pack source '\(source)' not found: only 'private' exists.")
        }
        try NameRule.validate(publisher, field: "publisher")
        try NameRule.validate(name, field: "name")
        return try caller.authorize(publisher, needs: role, to: "change registry Policy Packs")
    }
}
