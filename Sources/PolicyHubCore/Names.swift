/// The naming rule Pulumi applies to organizations, policy packs, policies and version tags.
public enum NameRule {
    public static let maxLength = 100

    /// `^[a-zA-Z0-9._-]{1,100}$`
    public static func isValid(_ name: String) -> Bool {
        guard !name.isEmpty, name.utf8.count <= maxLength else { return false }
        return name.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"):
                true
            default: false
            }
        }
    }

    /// Throws a bad-request error naming `field` when `name` breaks the rule.
    public static func validate(_ name: String, field: String) throws(RegistryError) {
        guard isValid(name) else {
            throw RegistryError.invalidName(field: field, value: name)
        }
    }
}

/// A name that passed `NameRule`: organizations, users, packs, groups and publishers. Made once where a name enters
/// the server (a path, a command's argument), which knows what to call the field in an error; the services take
/// only these.
public struct Name: Hashable, Sendable, CustomStringConvertible {
    public let text: String

    public init(_ text: String, field: String) throws(RegistryError) {
        try NameRule.validate(text, field: field)
        self.text = text
    }

    public var description: String { text }
}
