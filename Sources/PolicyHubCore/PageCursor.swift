import Foundation

/// A position in a paged list, handed to clients as an opaque token: base64url of its JSON form.
public protocol PageCursor: Codable {}

extension PageCursor {
    public var token: String { ((try? JSONEncoder().encode(self)) ?? Data()).base64URLEncodedString() }

    public init(token: String) throws(RegistryError) {
        guard let data = Data(base64URLEncoded: token), let cursor = try? JSONDecoder().decode(Self.self, from: data)
        else { throw RegistryError.invalid("continuationToken is not valid.") }
        self = cursor
    }
}
