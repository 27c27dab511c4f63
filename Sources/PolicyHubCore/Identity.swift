import Crypto
import Foundation

public enum Role: String, CaseIterable, Codable, Hashable, Sendable {
    case admin
    case member
}

public struct Membership: Hashable, Sendable {
    public var organization: String
    public var role: Role
    /// A user's personal organization carries the user's login, so the CLI's username fallback works.
    public var isPersonal: Bool

    public init(organization: String, role: Role, isPersonal: Bool) {
        self.organization = organization
        self.role = role
        self.isPersonal = isPersonal
    }
}

/// The authenticated caller of one request.
public struct Principal: Hashable, Sendable {
    public var userID: String
    public var login: String
    public var displayName: String
    public var tokenID: String
    public var tokenDescription: String
    /// When the token was last recorded as used; nil before its first use.
    public var tokenLastUsedAt: Date?
    public var memberships: [Membership]

    public init(
        userID: String, login: String, displayName: String, tokenID: String, tokenDescription: String,
        tokenLastUsedAt: Date? = nil, memberships: [Membership]
    ) {
        self.userID = userID
        self.login = login
        self.displayName = displayName
        self.tokenID = tokenID
        self.tokenDescription = tokenDescription
        self.tokenLastUsedAt = tokenLastUsedAt
        self.memberships = memberships
    }

    public func role(in organization: String) -> Role? {
        memberships.first { $0.organization == organization }?.role
    }
}

/// What an operator sees of a token: never the token itself, which is shown once at creation.
public struct AccessTokenRecord: Hashable, Sendable {
    public var id: String
    public var description: String
    public var createdAt: Date
    public var expiresAt: Date?
    public var lastUsedAt: Date?
    public var revokedAt: Date?

    public init(
        id: String, description: String, createdAt: Date, expiresAt: Date?, lastUsedAt: Date?, revokedAt: Date?
    ) {
        self.id = id
        self.description = description
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.lastUsedAt = lastUsedAt
        self.revokedAt = revokedAt
    }
}

/// Access tokens: `pul-` and 40 lowercase hex characters; only their SHA-256 is ever stored.
public enum AccessToken {
    public static func generate() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<20).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        return "pul-" + bytes.hexString
    }

    public static func isWellFormed(_ token: String) -> Bool {
        let hex = token.utf8.dropFirst(4)
        return token.hasPrefix("pul-") && hex.count == 40
            && hex.allSatisfy {
                (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0)
                    || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains($0)
            }
    }

    public static func hash(_ token: String) -> String {
        SHA256.hash(data: Data(token.utf8)).hexString
    }
}

extension Sequence<UInt8> {
    public var hexString: String {
        var text = ""
        for byte in self {
            text += String(byte >> 4, radix: 16) + String(byte & 0x0f, radix: 16)
        }
        return text
    }
}
