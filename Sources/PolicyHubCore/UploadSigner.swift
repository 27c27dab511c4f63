import Crypto
import Foundation

/// What a signed upload link authorises: one upload to one pending version, until it expires.
public struct UploadGrant: Codable, Hashable, Sendable {
    public var versionID: String
    public var organization: String
    public var pack: String
    public var version: Int
    public var expires: Int64

    enum CodingKeys: String, CodingKey {
        case versionID = "v"
        case organization = "o"
        case pack = "p"
        case version = "n"
        case expires = "e"
    }

    public init(versionID: String, organization: String, pack: String, version: Int, expires: Int64) {
        self.versionID = versionID
        self.organization = organization
        self.pack = pack
        self.version = version
        self.expires = expires
    }
}

/// HMAC-SHA256 tokens that carry their own grant, as in the OCI registry's upload state:
/// `base64url(grant JSON) "." base64url(mac)`. The token is the link's only credential.
public struct UploadSigner: Sendable {
    private let keyBytes: [UInt8]

    public init(key: [UInt8]) { self.keyBytes = key }

    private var key: SymmetricKey { SymmetricKey(data: keyBytes) }

    public func token(for grant: UploadGrant) -> String {
        let payload = (try? JSONEncoder().encode(grant)) ?? Data()
        let mac = HMAC<SHA256>.authenticationCode(for: payload, using: key)
        return payload.base64URLEncodedString() + "." + Data(mac).base64URLEncodedString()
    }

    /// The grant in `token`, if the signature holds and it has not expired at `time`.
    public func verify(_ token: String, at time: Date) throws(RegistryError) -> UploadGrant {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, let payload = Data(base64URLEncoded: String(parts[0])),
            let mac = Data(base64URLEncoded: String(parts[1])),
            HMAC<SHA256>.isValidAuthenticationCode(mac, authenticating: payload, using: key),
            let grant = try? JSONDecoder().decode(UploadGrant.self, from: payload)
        else { throw RegistryError.uploadLinkInvalid }
        guard Int64(time.timeIntervalSince1970) < grant.expires else { throw RegistryError.uploadLinkExpired }
        return grant
    }
}
