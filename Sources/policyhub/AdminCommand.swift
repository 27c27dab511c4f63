import ArgumentParser
import Foundation
import MetadataStoreSQL
import PolicyHubCore

struct AdminCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "admin",
        abstract: "Manage users, organizations and tokens directly in the store (also while a server runs).",
        subcommands: [
            CreateOrg.self, CreateUser.self, AddMember.self, CreateToken.self, ListTokens.self, RevokeToken.self,
            MigrateStoreCommand.self, GCCommand.self, AuditCommand.self,
        ]
    )

    /// Runs `body` against the identity service of the store the options name.
    static func withIdentity<T>(_ options: StoreOptions, _ body: (IdentityService) async throws -> T) async throws
        -> T
    {
        try await options.withMetadataStore { try await body(IdentityService(store: $0)) }
    }

    struct CreateOrg: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "create-org", abstract: "Create an organization.")
        @OptionGroup var store: StoreOptions
        @Argument(help: "The organization's name.") var org: String

        func run() async throws {
            try await AdminCommand.withIdentity(store) {
                try await $0.createOrganization(try Name(org, field: "organization name"))
            }
            print("Created organization \(org).")
        }
    }

    struct CreateUser: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "create-user", abstract: "Create a user (with a personal organization of the same name).")
        @OptionGroup var store: StoreOptions
        @Argument(help: "The user's login.") var login: String
        @Option(help: "The user's display name.") var name: String?

        func run() async throws {
            try await AdminCommand.withIdentity(store) {
                try await $0.createUser(try Name(login, field: "user login"), displayName: name)
            }
            print("Created user \(login).")
        }
    }

    struct AddMember: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "add-member", abstract: "Add a user to an organization.")
        @OptionGroup var store: StoreOptions
        @Argument(help: "The organization.") var org: String
        @Argument(help: "The user's login.") var login: String
        @Option(help: "admin (may publish and delete) or member (may read).") var role: String = "member"

        func run() async throws {
            guard let role = Role(rawValue: role) else {
                throw fail(RegistryError.invalid("Unknown role '\(role)': use admin or member."))
            }
            try await AdminCommand.withIdentity(store) {
                try await $0.addMember(
                    organization: try Name(org, field: "organization name"),
                    login: try Name(login, field: "user login"),
                    role: role)
            }
            print("Added \(login) to \(org) as \(role.rawValue).")
        }
    }

    struct CreateToken: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "create-token", abstract: "Create an access token; prints only the token.")
        @OptionGroup var store: StoreOptions
        @Argument(help: "The user's login.") var login: String
        @Option(help: "What the token is for.") var description: String = ""
        @Option(
            help: "How long the token is valid: a number of days, hours or minutes (30d, 12h, 90m); default forever.")
        var expiresIn: String?

        func run() async throws {
            var lifetime: TimeInterval?
            if let expiresIn {
                guard let seconds = Self.duration(expiresIn) else {
                    throw fail(RegistryError.invalid("Invalid --expires-in '\(expiresIn)': use e.g. 30d, 12h or 90m."))
                }
                lifetime = seconds
            }
            let token = try await AdminCommand.withIdentity(store) {
                try await $0.createToken(
                    login: try Name(login, field: "user login"), description: description, lifetime: lifetime)
            }
            print(token)
        }

        /// `30d`, `12h`, `90m`: a positive whole number and a unit.
        static func duration(_ text: String) -> TimeInterval? {
            let units: [Character: TimeInterval] = ["d": 86_400, "h": 3_600, "m": 60]
            guard let unit = text.last.flatMap({ units[$0] }), let count = Int(text.dropLast()), count > 0 else {
                return nil
            }
            return TimeInterval(count) * unit
        }
    }

    struct ListTokens: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "list-tokens", abstract: "List a user's tokens (never the tokens themselves).")
        @OptionGroup var store: StoreOptions
        @Argument(help: "The user's login.") var login: String

        func run() async throws {
            let records = try await AdminCommand.withIdentity(store) {
                try await $0.listTokens(login: try Name(login, field: "user login"))
            }
            let now = Date()
            print(["ID", "STATUS", "CREATED", "EXPIRES", "LAST USED", "DESCRIPTION"].joined(separator: "\t"))
            for record in records {
                let status =
                    record.revokedAt != nil
                    ? "revoked" : (record.expiresAt.map { $0 <= now } ?? false) ? "expired" : "active"
                let fields = [
                    record.id, status, Self.format(record.createdAt), record.expiresAt.map(Self.format) ?? "never",
                    record.lastUsedAt.map(Self.format) ?? "never", record.description,
                ]
                print(fields.joined(separator: "\t"))
            }
        }

        static func format(_ date: Date) -> String { date.formatted(.iso8601) }
    }

    struct RevokeToken: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "revoke-token", abstract: "Revoke a token; every instance refuses it from the next request.")
        @OptionGroup var store: StoreOptions
        @Argument(help: "The token's ID, from list-tokens.") var id: String

        func run() async throws {
            try await AdminCommand.withIdentity(store) { try await $0.revokeToken(id: id) }
            print("Revoked token \(id).")
        }
    }
}
