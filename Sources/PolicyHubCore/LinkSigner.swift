import Crypto
import Foundation

/// What a signed link authorises: one upload to, or downloads of, one version, until it expires.
public struct LinkGrant: Codable, Hashable, Sendable {
    public enum Purpose: String, Codable, Sendable {
        case upload = "u"
        case download = "d"
    }

    public var purpose: Purpose
    public var versionID: String
    public var organization: String
    public var pack: String
    public var version: Int
    public var expires: Int64

    enum CodingKeys: String, CodingKey {
        case purpose = "k"
        case versionID = "v"
        case organization = "o"
        case pack = "p"
        case version = "n"
        case expires = "e"
    }

    public init(
        purpose: Purpose, versionID: String, organization: String, pack: String, version: Int, expires: Int64
    ) {
        self.purpose = purpose
        self.versionID = versionID
        self.organization = organization
        self.pack = pack
        self.version = version
        self.expires = expires
    }

    /// Whether `version` is the one this grant names.
    public func names(_ version: PackVersion) -> Bool {
        version.id == versionID && version.organization == organization && version.name == pack
            && version.version == self.version
    }
}

/// HMAC-SHA256 tokens that carry their own grant, as in the OCI registry's upload state:
/// `base64url(grant JSON) "." base64url(mac)`. The token is the link's only credential, because the CLI sends
/// no Authorization header with uploads and downloads.
public struct LinkSigner: Sendable {
    private let keyBytes: [UInt8]

    public init(key: [UInt8]) { self.keyBytes = key }

    private var key: SymmetricKey { SymmetricKey(data: keyBytes) }

    public func token(for grant: LinkGrant) -> String {
        let payload = (try? JSONEncoder().encode(grant)) ?? Data()
        let mac = HMAC<SHA256>.authenticationCode(for: payload, using: key)
        return payload.base64URLEncodedString() + "." + Data(mac).base64URLEncodedString()
    }

    /// The grant in `token`, if the signature holds, it is for `purpose`, and it has not expired at `time`.
    public func verify(_ token: String, for purpose: LinkGrant.Purpose, at time: Date) throws(RegistryError)
        -> LinkGrant
    {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, let payload = Data(base64URLEncoded: String(parts[0])),
            let mac = Data(base64URLEncoded: String(parts[1])),
            HMAC<SHA256>.isValidAuthenticationCode(mac, authenticating: payload, using: key),
            let grant = try? JSONDecoder().decode(LinkGrant.self, from: payload), grant.purpose == purpose
        else { throw RegistryError.linkInvalid(purpose) }
        guard Int64(time.timeIntervalSince1970) < grant.expires else { throw RegistryError.linkExpired(purpose) }
        return grant
    }
}
