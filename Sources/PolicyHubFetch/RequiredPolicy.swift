import Foundation
import PolicyHubCore

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
    /// The archive's SHA-256 (a PolicyHub addition the Pulumi CLI ignores). Presigned object-store links carry
    /// the store's own ETag, so this, not the ETag, is the digest to check when it is given.
    var sha256: String?
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
