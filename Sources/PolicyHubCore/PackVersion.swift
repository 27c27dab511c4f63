import Foundation

public enum VersionStatus: String, Codable, Hashable, Sendable {
    case pending
    case complete
}

/// An archive as it sits in blob storage.
public struct StoredBlob: Hashable, Sendable {
    public var key: String
    public var size: Int64
    /// Lowercase hex SHA-256 of the bytes.
    public var sha256: String

    public init(key: String, size: Int64, sha256: String) {
        self.key = key
        self.size = size
        self.sha256 = sha256
    }
}

/// One version of a policy pack: pending from create until complete, then immutable.
public struct PackVersion: Hashable, Sendable {
    /// Identifies this version everywhere (upload links, registry operation IDs).
    public var id: String
    /// The pack's stable UUID, shown as the registry `id`.
    public var packID: String
    public var organization: String
    public var version: Int
    public var status: VersionStatus
    public var draft: PolicyPackDraft
    /// The uploaded archive; before `complete` it is whatever the last upload stored.
    public var archive: StoredBlob?
    public var createdAt: Date
    public var completedAt: Date?
    /// Whether any policy group applies this version.
    public var applied: Bool
    /// Who completed it; nil while pending, and for a version completed by no one the store knows.
    public var publishedBy: String?

    public init(
        id: String, packID: String, organization: String, version: Int, status: VersionStatus,
        draft: PolicyPackDraft, archive: StoredBlob?, createdAt: Date, completedAt: Date?, applied: Bool,
        publishedBy: String? = nil
    ) {
        self.publishedBy = publishedBy
        self.id = id
        self.packID = packID
        self.organization = organization
        self.version = version
        self.status = status
        self.draft = draft
        self.archive = archive
        self.createdAt = createdAt
        self.completedAt = completedAt
        self.applied = applied
    }

    public var name: String { draft.name }
    public var versionTag: String? { draft.versionTag }
    /// How registries and clients name this version: its tag, or its number when it has none.
    public var label: String { versionTag ?? String(version) }
}

/// A pack in an organization's list: its completed versions in ascending order.
public struct PackSummary: Hashable, Sendable {
    public var name: String
    public var displayName: String
    public var versions: [Int]
    /// Aligned with `versions`; empty where a version has no tag.
    public var versionTags: [String]
    /// The versions some policy group applies.
    public var appliedVersions: [Int]

    public init(
        name: String, displayName: String, versions: [Int], versionTags: [String], appliedVersions: [Int] = []
    ) {
        self.name = name
        self.displayName = displayName
        self.versions = versions
        self.versionTags = versionTags
        self.appliedVersions = appliedVersions
    }
}

/// Where to resume a paginated registry listing.
public struct RegistryCursor: PageCursor, Hashable, Sendable {
    public var organization: String
    public var name: String
    public var version: Int

    public init(organization: String, name: String, version: Int = 0) {
        self.organization = organization
        self.name = name
        self.version = version
    }

}

extension Data {
    public func base64URLEncodedString() -> String {
        base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    public init?(base64URLEncoded text: String) {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        self.init(base64Encoded: base64)
    }
}
