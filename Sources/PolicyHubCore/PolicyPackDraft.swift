/// What a client asks to publish: the metadata of a new policy pack version, before its archive exists.
public struct PolicyPackDraft: Codable, Hashable, Sendable {
    public var name: String
    public var displayName: String
    public var versionTag: String?
    public var policies: [Policy]
    public var description: String?
    public var readme: String?
    public var provider: String?
    public var tags: [String]?
    public var repository: String?
    public var runtime: String?
    public var metadata: [String: String]?

    public init(
        name: String, displayName: String, versionTag: String?, policies: [Policy], description: String? = nil,
        readme: String? = nil, provider: String? = nil, tags: [String]? = nil, repository: String? = nil,
        runtime: String? = nil, metadata: [String: String]? = nil
    ) {
        self.name = name
        self.displayName = displayName
        self.versionTag = versionTag
        self.policies = policies
        self.description = description
        self.readme = readme
        self.provider = provider
        self.tags = tags
        self.repository = repository
        self.runtime = runtime
        self.metadata = metadata
    }
}
