import PolicyHubCore

// The CLI's create request, read into a draft: the wire format stops here, so the core sees a typed draft only.

/// Bounds on what a create request may describe, so one request cannot store unbounded metadata.
public struct DraftLimits: Hashable, Sendable {
    public var maxPolicies: Int
    /// Characters in any one text field, the readme excepted (the request body limit bounds it).
    public var maxFieldLength: Int

    public init(maxPolicies: Int = 1000, maxFieldLength: Int = 16 * 1024) {
        self.maxPolicies = maxPolicies
        self.maxFieldLength = maxFieldLength
    }
}

extension PolicyPackDraft {
    /// Where the request carries the version tag: `versionTag` (optional) on the org API,
    /// `version` (required) on the registry API.
    enum TagField: Sendable {
        case versionTag
        case version
    }

    /// Validates a whole create request and reports every problem in one error.
    static func parse(_ body: JSONValue, tagField: TagField, limits: DraftLimits = .init()) throws(RegistryError)
        -> PolicyPackDraft
    {
        var reader = DraftReader(limits: limits)
        guard let object = body.objectValue else {
            throw RegistryError.invalid("The request body must be a JSON object describing the Policy Pack.")
        }
        let name = reader.name(object, "name", resource: "policypack")
        let displayName = reader.string(object, "displayName", resource: "policypack", required: true)
        let tag: String? =
            switch tagField {
            case .versionTag: reader.name(object, "versionTag", resource: "policypack", required: false)
            case .version: reader.name(object, "version", resource: "policypack")
            }
        let policies = reader.policies(object["policies"])
        let draft = PolicyPackDraft(
            name: name ?? "",
            displayName: displayName ?? "",
            versionTag: tag,
            policies: policies,
            description: reader.string(object, "description", resource: "policypack"),
            readme: reader.string(object, "readme", resource: "policypack", unbounded: true),
            provider: reader.string(object, "provider", resource: "policypack"),
            tags: reader.strings(object, "tags", resource: "policypack"),
            repository: reader.string(object, "repository", resource: "policypack"),
            runtime: reader.string(object, "runtime", resource: "policypack"),
            metadata: reader.stringMap(object, "metadata", resource: "policypack")
        )
        guard reader.problems.isEmpty else {
            throw RegistryError.invalid(
                reader.problems.compactMap(\.customMessage).joined(separator: " "), details: reader.problems)
        }
        return draft
    }
}

/// Reads fields out of untyped JSON and collects every problem instead of stopping at the first.
private struct DraftReader {
    let limits: DraftLimits
    var problems: [FieldProblem] = []

    mutating func report(_ resource: String, _ attribute: String, _ type: FieldProblem.Kind, _ text: String) {
        problems.append(.init(resource: resource, attribute: attribute, errorType: type, customMessage: text))
    }

    mutating func string(
        _ object: [String: JSONValue], _ key: String, resource: String, required: Bool = false,
        unbounded: Bool = false
    ) -> String? {
        switch object[key] {
        case .string(let value)?:
            guard unbounded || value.count <= limits.maxFieldLength else {
                report(
                    resource, key, .invalid,
                    "\(describe(resource, key)) is longer than \(limits.maxFieldLength) characters.")
                return nil
            }
            return value
        case nil, .null?:
            if required { report(resource, key, .required, "\(describe(resource, key)) is required.") }
            return nil
        case let other?:
            report(resource, key, .invalid, "\(describe(resource, key)) must be a string, not \(other.typeName).")
            return nil
        }
    }

    mutating func name(
        _ object: [String: JSONValue], _ key: String, resource: String, required: Bool = true
    ) -> String? {
        guard let value = string(object, key, resource: resource, required: required) else { return nil }
        if !required && value.isEmpty { return nil }
        guard NameRule.isValid(value) else {
            report(
                resource, key, .invalid,
                "\(describe(resource, key)) '\(value)' is invalid: use 1 to 100 letters, digits, '.', '_' or '-'.")
            return nil
        }
        return value
    }

    mutating func strings(_ object: [String: JSONValue], _ key: String, resource: String) -> [String]? {
        switch object[key] {
        case nil, .null?:
            return nil
        case .array(let items)? where items.allSatisfy({ $0.stringValue != nil }):
            return items.compactMap(\.stringValue)
        case _?:
            report(resource, key, .invalid, "\(describe(resource, key)) must be an array of strings.")
            return nil
        }
    }

    mutating func stringMap(_ object: [String: JSONValue], _ key: String, resource: String) -> [String: String]? {
        switch object[key] {
        case nil, .null?:
            return nil
        case .object(let members)? where members.values.allSatisfy({ $0.stringValue != nil }):
            return members.compactMapValues(\.stringValue)
        case _?:
            report(resource, key, .invalid, "\(describe(resource, key)) must be an object of string values.")
            return nil
        }
    }

    mutating func policies(_ value: JSONValue?) -> [Policy] {
        guard let value, value != .null else {
            report("policypack", "policies", .required, "policies is required.")
            return []
        }
        guard let items = value.arrayValue else {
            report("policypack", "policies", .invalid, "policies must be an array.")
            return []
        }
        guard !items.isEmpty else {
            report("policypack", "policies", .invalid, "Policy Pack must have at least one policy.")
            return []
        }
        guard items.count <= limits.maxPolicies else {
            report(
                "policypack", "policies", .invalid,
                "Policy Pack has \(items.count) policies, more than the limit of \(limits.maxPolicies).")
            return []
        }
        var policies: [Policy] = []
        var seen: Set<String> = []
        for (index, item) in items.enumerated() {
            let resource = "policies[\(index)]"
            guard let object = item.objectValue else {
                report(resource, "", .invalid, "\(resource) must be an object.")
                continue
            }
            let name = self.name(object, "name", resource: resource)
            if let name, !seen.insert(name).inserted {
                report(resource, "name", .alreadyExists, "Policy name '\(name)' is used more than once.")
            }
            let displayName = string(object, "displayName", resource: resource, required: true)
            let description = string(object, "description", resource: resource, required: true)
            let message = string(object, "message", resource: resource, required: true)
            let level = enforcementLevel(object, resource: resource)
            let severity = severity(object, resource: resource)
            let schema = configSchema(object["configSchema"], resource: resource)
            let framework = framework(object["framework"], resource: resource)
            let tags = strings(object, "tags", resource: resource)
            let remediation = string(object, "remediationSteps", resource: resource)
            let url = string(object, "url", resource: resource)
            guard let name, let displayName, let description, let message, let level else { continue }
            policies.append(
                Policy(
                    name: name, displayName: displayName, description: description, enforcementLevel: level,
                    message: message, configSchema: schema, severity: severity, framework: framework, tags: tags,
                    remediationSteps: remediation, url: url))
        }
        return policies
    }

    mutating func enforcementLevel(_ object: [String: JSONValue], resource: String) -> EnforcementLevel? {
        guard let raw = string(object, "enforcementLevel", resource: resource, required: true) else { return nil }
        guard let level = EnforcementLevel(rawValue: raw) else {
            let allowed = EnforcementLevel.allCases.map(\.rawValue).joined(separator: ", ")
            report(
                resource, "enforcementLevel", .invalid,
                "\(resource).enforcementLevel '\(raw)' is not one of \(allowed).")
            return nil
        }
        return level
    }

    mutating func severity(_ object: [String: JSONValue], resource: String) -> PolicySeverity? {
        guard let raw = string(object, "severity", resource: resource), !raw.isEmpty else { return nil }
        guard let severity = PolicySeverity(rawValue: raw) else {
            let allowed = PolicySeverity.allCases.map(\.rawValue).joined(separator: ", ")
            report(resource, "severity", .invalid, "\(resource).severity '\(raw)' is not one of \(allowed).")
            return nil
        }
        return severity
    }

    mutating func configSchema(_ value: JSONValue?, resource: String) -> JSONValue? {
        guard let value, value != .null else { return nil }
        guard let schema = value.objectValue else {
            report(resource, "configSchema", .invalid, "\(resource).configSchema must be an object.")
            return nil
        }
        var valid = true
        if schema["type"] != .string("object") {
            report(resource, "configSchema.type", .invalid, "\(resource).configSchema.type must be \"object\".")
            valid = false
        }
        if let properties = schema["properties"], properties != .null, properties.objectValue == nil {
            report(
                resource, "configSchema.properties", .invalid, "\(resource).configSchema.properties must be an object.")
            valid = false
        }
        if let required = schema["required"], required != .null,
            !(required.arrayValue?.allSatisfy { $0.stringValue != nil } ?? false)
        {
            report(
                resource, "configSchema.required", .invalid,
                "\(resource).configSchema.required must be an array of strings.")
            valid = false
        }
        return valid ? value : nil
    }

    mutating func framework(_ value: JSONValue?, resource: String) -> ComplianceFramework? {
        guard let value, value != .null else { return nil }
        guard let object = value.objectValue else {
            report(resource, "framework", .invalid, "\(resource).framework must be an object.")
            return nil
        }
        let scope = "\(resource).framework"
        return ComplianceFramework(
            name: string(object, "name", resource: scope),
            version: string(object, "version", resource: scope),
            reference: string(object, "reference", resource: scope),
            specification: string(object, "specification", resource: scope))
    }

    private func describe(_ resource: String, _ key: String) -> String {
        resource == "policypack" ? key : "\(resource).\(key)"
    }
}
