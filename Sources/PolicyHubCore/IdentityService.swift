import Foundation
import Logging

/// Users, organizations, memberships and tokens: what the admin commands and the login endpoints need.
public struct IdentityService: Sendable {
    public static let initialAdmin = "admin"
    public static let initialOrganization = "default"

    let store: any IdentityStore
    let clock: WallClock

    public init(store: any IdentityStore, clock: WallClock = .system) {
        self.store = store
        self.clock = clock
    }

    /// The caller behind an `Authorization` header value (`token <t>` or `Bearer <t>`).
    /// Nil header: anonymous. A present but unknown token is refused.
    public func authenticate(authorization: String?) async throws -> Principal? {
        guard let authorization else { return nil }
        let parts = authorization.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, ["token", "bearer"].contains(parts[0].lowercased()) else {
            throw RegistryError.unauthenticated
        }
        let now = clock.now()
        let principal = try await principal(token: parts[1].trimmingCharacters(in: .whitespaces), at: now)
        // At most one write per token a minute: a busy CI token must not turn every read into a write.
        if principal.tokenLastUsedAt.map({ now.timeIntervalSince($0) >= Self.lastUsedResolution }) ?? true {
            try? await store.touchToken(id: principal.tokenID, at: now)
        }
        return principal
    }

    /// The caller behind a live token, or `unauthenticated`.
    private func principal(token: String, at now: Date) async throws -> Principal {
        guard AccessToken.isWellFormed(token),
            let principal = try await store.principal(tokenHash: AccessToken.hash(token), at: now)
        else { throw RegistryError.unauthenticated }
        return principal
    }

    static let lastUsedResolution: TimeInterval = 60
    /// Who the admin commands act as: whoever runs them on the store's machine.
    static let operatorActor = "operator"

    /// On an empty store, creates the first admin, the default organization and a token, and returns the token.
    public func bootstrap() async throws -> String? {
        let token = AccessToken.generate()
        let created = try await store.bootstrap(
            adminLogin: Self.initialAdmin, organization: Self.initialOrganization, tokenHash: AccessToken.hash(token),
            at: clock.now())
        return created ? token : nil
    }

    public func createOrganization(_ login: Name) async throws {
        try await store.createOrganization(login: login.text, at: clock.now())
    }

    public func createUser(_ login: Name, displayName: String? = nil) async throws {
        try await store.createUser(login: login.text, displayName: displayName ?? login.text, at: clock.now())
    }

    public func addMember(organization: Name, login: Name, role: Role) async throws {
        try await store.addMember(organization: organization.text, login: login.text, role: role)
    }

    /// Creates a token for `login` and returns it; it cannot be shown again. `lifetime` nil: it never expires.
    public func createToken(login: Name, description: String = "", lifetime: TimeInterval? = nil) async throws
        -> String
    {
        guard description.count <= 500 else {
            throw RegistryError.invalid("The description is longer than 500 characters.")
        }
        if let lifetime, lifetime <= 0 { throw RegistryError.invalid("The token's lifetime must be positive.") }
        let token = AccessToken.generate()
        let now = clock.now()
        _ = try await store.createToken(
            login: login.text, tokenHash: AccessToken.hash(token), description: description,
            expiresAt: lifetime.map { now.addingTimeInterval($0) }, at: now,
            audit: AuditEvent(
                time: now, organization: nil, actor: Self.operatorActor, action: AuditAction.tokenCreated,
                target: "\(login): \(description)"))
        return token
    }

    public func listTokens(login: Name) async throws -> [AccessTokenRecord] {
        try await store.listTokens(login: login.text)
    }

    /// Revokes a token; the next request with it is refused, on every instance.
    public func revokeToken(id: String) async throws {
        let now = clock.now()
        try await store.revokeToken(
            id: id, at: now,
            audit: AuditEvent(
                time: now, organization: nil, actor: Self.operatorActor, action: AuditAction.tokenRevoked, target: id))
    }

    /// Signs a user in to the console with one of their access tokens: the session is a token of its own, stored
    /// hashed like every token and expiring after `lifetime`, so it is checked, listed and revoked like any other.
    /// The access token itself is never kept.
    public func startSession(accessToken: String, lifetime: TimeInterval) async throws -> ConsoleSession {
        let now = clock.now()
        let principal = try await principal(
            token: accessToken.trimmingCharacters(in: .whitespacesAndNewlines), at: now)
        let session = AccessToken.generate()
        let expiresAt = now.addingTimeInterval(lifetime)
        _ = try await store.createToken(
            login: principal.login, tokenHash: AccessToken.hash(session), description: ConsoleSession.description,
            expiresAt: expiresAt, at: now,
            audit: AuditEvent(
                time: now, organization: nil, actor: principal.login, action: AuditAction.sessionStarted,
                target: principal.login))
        return ConsoleSession(token: session, expiresAt: expiresAt)
    }

    /// Ends the console session `caller` signed in with; its cookie is refused from then on, on every instance.
    public func endSession(_ caller: Principal) async throws {
        guard caller.tokenDescription == ConsoleSession.description else { return }
        let now = clock.now()
        try await store.revokeToken(
            id: caller.tokenID, at: now,
            audit: AuditEvent(
                time: now, organization: nil, actor: caller.login, action: AuditAction.sessionEnded,
                target: caller.login))
    }

    /// The organization the CLI uses when none is given: the first shared one, else the personal one.
    public func defaultOrganization(for caller: Principal) -> String {
        let shared = caller.memberships.filter { !$0.isPersonal }.map(\.organization).sorted()
        return shared.first ?? caller.login
    }
}

/// A console sign-in: the secret the session cookie carries, shown to nobody else, and when it stops working.
public struct ConsoleSession: Hashable, Sendable {
    /// How console sessions are named among a user's tokens.
    public static let description = "console session"

    public var token: String
    public var expiresAt: Date
}
