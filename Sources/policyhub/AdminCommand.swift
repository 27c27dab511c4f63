import ArgumentParser
import Foundation
import MetadataStoreSQL
import PolicyHubCore

struct AdminCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "admin",
        abstract: "Manage users, organizations and tokens directly in the store (also while a server runs).",
        subcommands: [CreateOrg.self, CreateUser.self, AddMember.self, CreateToken.self, MigrateStoreCommand.self]
    )

    /// Runs `body` against the identity service of the store the options name.
    static func withIdentity(_ options: StoreOptions, _ body: (IdentityService) async throws -> Void) async throws {
        do {
            let store = try await options.openMetadataStore()
            do {
                try await body(IdentityService(store: store))
            } catch {
                try? await store.shutdown()
                throw error
            }
            try await store.shutdown()
        } catch {
            throw fail(error)
        }
    }

    struct CreateOrg: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "create-org", abstract: "Create an organization.")
        @OptionGroup var store: StoreOptions
        @Argument(help: "The organization's name.") var org: String

        func run() async throws {
            try await AdminCommand.withIdentity(store) { try await $0.createOrganization(org) }
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
            try await AdminCommand.withIdentity(store) { try await $0.createUser(login, displayName: name) }
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
                try await $0.addMember(organization: org, login: login, role: role)
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

        func run() async throws {
            var token = ""
            try await AdminCommand.withIdentity(store) {
                token = try await $0.createToken(login: login, description: description)
            }
            print(token)
        }
    }
}
