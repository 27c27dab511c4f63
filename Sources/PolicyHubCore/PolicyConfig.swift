import Foundation

/// Policy config as applied to a group: keys are policy names or `all`; values are an enforcement level, or an
/// object with an optional `enforcementLevel` and properties the policy's config schema describes.
public enum PolicyConfig {
    public static let allPolicies = "all"

    /// Checks `config` against `version`'s policies and returns its normalised object form, in which every
    /// value is an object or null. Every problem is reported, with a JSON pointer into the config.
    public static func normalize(_ config: JSONValue?, for version: PackVersion) throws(RegistryError)
        -> [String: JSONValue]?
    {
        guard let config, config != .null else { return nil }
        guard let entries = config.objectValue else {
            throw RegistryError.invalid("The config of '\(version.name)' must be an object of policy names.")
        }
        let policies = Dictionary(version.draft.policies.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        var problems: [FieldProblem] = []
        var normalized: [String: JSONValue] = [:]
        func report(_ pointer: String, _ message: String) {
            problems.append(
                .init(
                    resource: "config", attribute: pointer, errorType: .invalid,
                    customMessage: "\(version.name) config \(pointer) \(message)."))
        }
        for key in entries.keys.sorted() {
            let value = entries[key] ?? .null
            let pointer = "/" + key.replacingOccurrences(of: "~", with: "~0").replacingOccurrences(of: "/", with: "~1")
            let policy = policies[key]
            guard key == allPolicies || policy != nil else {
                report(pointer, "names no policy of version \(version.label)")
                continue
            }
            switch value {
            case .null:
                normalized[key] = .null
            case .string(let level):
                guard EnforcementLevel(rawValue: level) != nil else {
                    report(pointer, levelProblem(level))
                    continue
                }
                normalized[key] = ["enforcementLevel": value]
            case .object(var members):
                if let level = members["enforcementLevel"] {
                    if level.stringValue.flatMap(EnforcementLevel.init(rawValue:)) == nil {
                        report(pointer + "/enforcementLevel", levelProblem(level.stringValue ?? level.typeName))
                    }
                }
                members["enforcementLevel"] = nil
                if let schema = policy?.configSchema {
                    for violation in JSONSchemaValidator(schema: checkedPart(of: schema)).validate(.object(members)) {
                        report(pointer + violation.pointer, violation.message)
                    }
                }
                normalized[key] = value
            default:
                report(pointer, "must be an enforcement level or an object, not \(value.typeName)")
            }
        }
        guard problems.isEmpty else {
            throw RegistryError.invalid(
                problems.compactMap(\.customMessage).joined(separator: " "), details: problems)
        }
        return normalized
    }

    /// Like the CLI, check `type`, `properties` and `required` at the top of a policy's schema, and also
    /// `additionalProperties`, so a closed schema refuses unknown keys (`enforcementLevel` is taken out before).
    private static func checkedPart(of schema: JSONValue) -> JSONValue {
        guard let members = schema.objectValue else { return schema }
        return .object(members.filter { ["type", "properties", "required", "additionalProperties"].contains($0.key) })
    }

    private static func levelProblem(_ level: String) -> String {
        "has enforcement level '\(level)', which is not one of "
            + EnforcementLevel.allCases.map(\.rawValue).joined(separator: ", ")
    }
}
