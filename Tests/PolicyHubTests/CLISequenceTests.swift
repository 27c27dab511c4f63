import Foundation
import HTTPTypes
import PolicyHubCore
import Testing

/// Each `pulumi policy ...` command as the protocol document lists its calls (§16): the session set, then the
/// command's own requests with the CLI's headers and bodies. Every call must succeed as the CLI judges it:
/// a status below 400 and, where the CLI reads a result, a JSON body with the fields it reads.
@Suite("Pulumi CLI command sequences")
struct CLISequenceTests {
    /// `GET /api/user`, `GET /api/capabilities`, `GET /api/user/organizations/default`.
    static func sessionSet(_ api: APIClient, _ token: String) async throws -> (user: JSONValue, org: String) {
        let user = try await api.send(.get, "/api/user", token: token)
        #expect(user.status == .ok && user.json["githubLogin"]?.stringValue?.isEmpty == false)
        let capabilities = try await api.send(.get, "/api/capabilities", token: token)
        #expect(capabilities.status == .ok && capabilities.json["capabilities"]?.arrayValue != nil)
        let org = try await api.send(.get, "/api/user/organizations/default", token: token)
        let name = try #require(org.json["GitHubLogin"]?.stringValue)
        #expect(!name.isEmpty)
        return (user.json, name)
    }

    @Test func publishListEnableValidateInstallDisableRemove() async throws {
        try await TestServer.with { server, api in
            let token = server.adminToken
            let schema: JSONValue = ["type": "object", "properties": ["max": ["type": "integer"]]]

            // pulumi policy publish
            let (_, org) = try await Self.sessionSet(api, token)
            try await api.publish(
                org, "guard", tag: "0.1.0", token: token, policies: [Fixtures.policy("rule", schema: schema)])

            // pulumi policy ls (no org: the default org)
            _ = try await Self.sessionSet(api, token)
            let list = try await api.send(.get, "/api/orgs/\(org)/policypacks", token: token)
            #expect(list.json["policyPacks"]?.arrayValue?.first?["versionTags"] == ["0.1.0"])

            // pulumi policy validate-config default/guard latest --config c.json
            _ = try await Self.sessionSet(api, token)
            let schemas = try await api.send(
                .get, "/api/orgs/\(org)/policypacks/guard/versions/latest/schema", token: token)
            #expect(schemas.json["configSchema"]?["rule"] == schema)

            // pulumi policy enable default/guard 0.1.0 --config c.json (shorthand normalised by the CLI)
            _ = try await Self.sessionSet(api, token)
            let enable = try await api.send(
                .patch, "/api/orgs/\(org)/policygroups/default-policy-group", token: token,
                json: [
                    "addPolicyPack": [
                        "name": "guard", "versionTag": "0.1.0",
                        "config": ["rule": ["enforcementLevel": "mandatory", "max": 3]],
                    ]
                ])
            #expect(enable.status.code < 400)

            // pulumi policy install --stack web/prod
            let (_, _) = try await Self.sessionSet(api, token)
            let capabilities = try await api.send(.get, "/api/capabilities", token: token)
            #expect(
                capabilities.json["capabilities"]?.arrayValue?.contains([
                    "capability": "stack-policy-packs", "version": 1,
                ]) == true)
            #expect(try await api.send(.get, "/api/stacks/\(org)/web/prod", token: token).status == .ok)
            let required = try await api.send(.get, "/api/stacks/\(org)/web/prod/policypacks", token: token)
            let policy = try #require(required.json["requiredPolicies"]?.arrayValue?.first)
            #expect(policy["config"]?["rule"] == ["enforcementLevel": "mandatory", "max": 3])
            let download = try await api.download(try #require(policy["packLocation"]?.stringValue))
            #expect(download.status == .ok)

            // pulumi policy disable default/guard --version 0.1.0
            _ = try await Self.sessionSet(api, token)
            let disable = try await api.send(
                .patch, "/api/orgs/\(org)/policygroups/default-policy-group", token: token,
                json: ["removePolicyPack": ["name": "guard", "versionTag": "0.1.0"]])
            #expect(disable.status.code < 400)

            // pulumi policy rm default/guard 0.1.0 --yes, then rm default/guard all --yes
            _ = try await Self.sessionSet(api, token)
            #expect(
                try await api.send(.delete, "/api/orgs/\(org)/policypacks/guard/versions/0.1.0", token: token).status
                    .code < 400)
            try await api.publish(org, "guard", tag: "0.2.0", token: token)
            #expect(try await api.send(.delete, "/api/orgs/\(org)/policypacks/guard", token: token).status.code < 400)
        }
    }

    @Test func policyGroupCommands() async throws {
        try await TestServer.with { server, api in
            let token = server.adminToken
            try await api.publish("default", "guard", tag: "1.0.0", token: token)

            // The CLI refuses orgs that are neither in /api/user's organizations nor the username.
            let (user, org) = try await Self.sessionSet(api, token)
            #expect(user["organizations"]?.arrayValue?.contains { $0["githubLogin"] == .string(org) } == true)

            // pulumi policy group new prod --entity-type stacks: POST, then GET.
            let created = try await api.send(
                .post, "/api/orgs/\(org)/policygroups", token: token, json: ["name": "prod", "entityType": "stacks"])
            #expect(created.status.code < 400)
            #expect(try await api.send(.get, "/api/orgs/\(org)/policygroups/prod", token: token).json["name"] == "prod")

            // pulumi policy group ls
            _ = try await Self.sessionSet(api, token)
            let groups = try await api.send(.get, "/api/orgs/\(org)/policygroups", token: token)
            #expect(groups.json["policyGroups"]?.arrayValue?.count == 2)

            // pulumi policy group edit prod --name production --add-stack web/prod --add-policy-pack guard@1
            _ = try await Self.sessionSet(api, token)
            let current = try await api.send(.get, "/api/orgs/\(org)/policygroups/prod", token: token)
            let edit = try await api.send(
                .patch, "/api/orgs/\(org)/policygroups/prod", token: token,
                json: [
                    "newName": "production",
                    "stacks": .array(
                        (current.json["stacks"]?.arrayValue ?? []) + [["name": "prod", "routingProject": "web"]]),
                    "policyPacks": .array(
                        (current.json["appliedPolicyPacks"]?.arrayValue ?? []) + [["name": "guard", "version": 1]]),
                ])
            #expect(edit.status.code < 400)
            let shown = try await api.send(.get, "/api/orgs/\(org)/policygroups/production", token: token)
            #expect(shown.json["appliedPolicyPacks"]?.arrayValue?.first?["versionTag"] == "1.0.0")

            // pulumi policy group get production
            _ = try await Self.sessionSet(api, token)
            #expect(try await api.send(.get, "/api/orgs/\(org)/policygroups/production", token: token).status == .ok)

            // pulumi policy group remove production --yes
            _ = try await Self.sessionSet(api, token)
            #expect(
                try await api.send(.delete, "/api/orgs/\(org)/policygroups/production", token: token).status.code < 400)
        }
    }
}
