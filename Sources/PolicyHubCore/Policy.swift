public enum EnforcementLevel: String, CaseIterable, Codable, Hashable, Sendable {
    case advisory, mandatory, remediate, disabled
}

public enum PolicySeverity: String, CaseIterable, Codable, Hashable, Sendable {
    case low, medium, high, critical
}

public struct ComplianceFramework: Codable, Hashable, Sendable {
    public var name: String?
    public var version: String?
    public var reference: String?
    public var specification: String?

    public init(name: String? = nil, version: String? = nil, reference: String? = nil, specification: String? = nil) {
        self.name = name
        self.version = version
        self.reference = reference
        self.specification = specification
    }
}

/// One rule of a policy pack version, as the CLI describes it when publishing.
public struct Policy: Codable, Hashable, Sendable {
    public var name: String
    public var displayName: String
    public var description: String
    public var enforcementLevel: EnforcementLevel
    public var message: String
    /// A JSON Schema of type `object`; `properties` values are kept verbatim.
    public var configSchema: JSONValue?
    public var severity: PolicySeverity?
    public var framework: ComplianceFramework?
    public var tags: [String]?
    public var remediationSteps: String?
    public var url: String?

    public init(
        name: String, displayName: String = "", description: String = "", enforcementLevel: EnforcementLevel,
        message: String = "", configSchema: JSONValue? = nil, severity: PolicySeverity? = nil,
        framework: ComplianceFramework? = nil, tags: [String]? = nil, remediationSteps: String? = nil,
        url: String? = nil
    ) {
        self.name = name
        self.displayName = displayName
        self.description = description
        self.enforcementLevel = enforcementLevel
        self.message = message
        self.configSchema = configSchema
        self.severity = severity
        self.framework = framework
        self.tags = tags
        self.remediationSteps = remediationSteps
        self.url = url
    }
}
