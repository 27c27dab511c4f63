import Foundation

/// The answer of `GET /api/stacks/{org}/{project}/{stack}/policypacks`; `requiredPolicies` may be left out when empty.
struct StackPolicyPacks: Decodable {
    var requiredPolicies: [RequiredPolicy]?
}

/// One pack the stack must run, as the server describes it (Pulumi's `RequiredPolicy`).
struct RequiredPolicy: Decodable {
    var name: String
    var version: Int?
    var versionTag: String?
    var displayName: String?
    /// An absolute, signed URL that needs no Authorization header.
    var packLocation: String?
    /// Policy name (or `all`) to a config object or null; absent or null means no configuration.
    var config: JSONValue?

    /// "guard 1.2.0": how progress and errors name the pack.
    var label: String {
        if let versionTag, !versionTag.isEmpty { return "\(name) \(versionTag)" }
        if let version { return "\(name) \(version)" }
        return name
    }

    /// Pack names end up in file names: only the characters Pulumi allows in them are accepted.
    var hasSafeName: Bool {
        !name.isEmpty && name != "." && name != ".."
            && name.unicodeScalars.allSatisfy { scalar in
                switch scalar {
                case "a"..."z", "A"..."Z", "0"..."9", "-", "_", ".": return true
                default: return false
                }
            }
    }
}

/// Any JSON value, kept as sent so that a pack's config reaches pulumi unchanged.
enum JSONValue: Codable, Equatable, Sendable {
    case null
    case bool(Bool)
    case integer(Int64)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Int64.self) {
            self = .integer(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .integer(let value): try container.encode(value)
        case .number(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }
}
