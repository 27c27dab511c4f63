import Foundation
import HTTPTypes
import MetadataStoreSQL
import PolicyHubCore
import Testing

/// `pulumi policy enable/disable` and `pulumi policy group ...`, with the bodies the CLI sends.
@Suite("Policy groups")
struct PolicyGroupTests {
    static let defaultGroup = "/api/orgs/default/policygroups/default-policy-group"

    static let schema: JSONValue = [
        "type": "object",
        "properties": [
            "allowedAcls": ["type": "array", "items": ["type": "string", "enum": ["private", "public-read"]]],
            "maxSize": ["type": "integer", "minimum": 1],
        ],
        "required": ["allowedAcls"],
    ]

    static func publishGuard(_ api: APIClient, _ token: String, tag: String = "1.0.0") async throws {
        try await api.publish(
            "default", "guard", tag: tag, token: token,
            policies: [Fixtures.policy("s3", schema: schema), Fixtures.policy("tags", level: "advisory")])
    }

    @Test func everyOrganizationHasADefaultGroupThatCannotBeDeletedOrRenamed() async throws {
        try await TestServer.with { server, api in
            try await server.identity.createOrganization("fresh")
            try await server.identity.addMember(organization: "fresh", login: "admin", role: .admin)
            for org in ["default", "fresh"] {
                let list = try await api.send(.get, "/api/orgs/\(org)/policygroups", token: server.adminToken)
                #expect(
                    list.json
                        == [
                            "policyGroups": [
                                [
                                    "name": "default-policy-group", "isOrgDefault": true, "numStacks": 0,
                                    "entityType": "stacks", "mode": "preventative", "numEnabledPolicyPacks": 0,
                                ]
                            ]
                        ])
            }
            let delete = try await api.send(.delete, Self.defaultGroup, token: server.adminToken)
            #expect(delete.status == .badRequest)
            let rename = try await api.send(
                .patch, Self.defaultGroup, token: server.adminToken, json: ["newName": "other"])
            #expect(rename.status == .badRequest)
        }
    }

    @Test func groupNewThenGetThenRemove() async throws {
        try await TestServer.with { server, api in
            let token = server.adminToken
            // `pulumi policy group new prod --entity-type stacks`, then the GET it makes to show the result.
            let created = try await api.send(
                .post, "/api/orgs/default/policygroups", token: token, json: ["name": "prod", "entityType": "stacks"])
            #expect(created.status == .created)
            let group = try await api.send(.get, "/api/orgs/default/policygroups/prod", token: token)
            #expect(
                group.json
                    == [
                        "name": "prod", "isOrgDefault": false, "entityType": "stacks", "mode": "preventative",
                        "stacks": [], "appliedPolicyPacks": [], "accounts": [],
                    ])
            let audit = try await api.send(
                .post, "/api/orgs/default/policygroups", token: token,
                json: ["name": "watch", "entityType": "stacks", "mode": "audit", "agentPoolId": "pool-1"])
            #expect(audit.json["mode"] == "audit")
            #expect(audit.json["agentPoolId"] == "pool-1")
            let duplicate = try await api.send(
                .post, "/api/orgs/default/policygroups", token: token, json: ["name": "prod", "entityType": "stacks"])
            #expect(duplicate.status == .conflict)
            let accounts = try await api.send(
                .post, "/api/orgs/default/policygroups", token: token, json: ["name": "acc", "entityType": "accounts"])
            #expect(accounts.status == .badRequest)
            let badMode = try await api.send(
                .post, "/api/orgs/default/policygroups", token: token,
                json: ["name": "m", "entityType": "stacks", "mode": "strict"])
            #expect(badMode.status == .badRequest)
            let list = try await api.send(.get, "/api/orgs/default/policygroups", token: token)
            #expect(
                list.json["policyGroups"]?.arrayValue?.map { $0["name"] } == ["default-policy-group", "prod", "watch"])
            // `pulumi policy group remove prod --yes`
            #expect(
                try await api.send(.delete, "/api/orgs/default/policygroups/prod", token: token).status == .noContent)
            #expect(try await api.send(.get, "/api/orgs/default/policygroups/prod", token: token).status == .notFound)
            #expect(
                try await api.send(.delete, "/api/orgs/default/policygroups/prod", token: token).status == .notFound)
        }
    }

    @Test func groupAccessFollowsOrganizationRoles() async throws {
        try await TestServer.with { server, api in
            let member = try await server.makeUser("reader", in: "default", role: .member)
            let outsider = try await server.makeUser("outsider")
            #expect(try await api.send(.get, "/api/orgs/default/policygroups", token: member).status == .ok)
            #expect(try await api.send(.get, Self.defaultGroup, token: member).status == .ok)
            let create = try await api.send(
                .post, "/api/orgs/default/policygroups", token: member, json: ["name": "x", "entityType": "stacks"])
            #expect(create.status == .forbidden)
            let patch = try await api.send(
                .patch, Self.defaultGroup, token: member, json: ["addStack": ["name": "dev"]])
            #expect(patch.status == .forbidden)
            let hidden = try await api.send(.get, "/api/orgs/default/policygroups", token: outsider)
            #expect(hidden.status == .notFound)
            #expect(hidden.message == "Organization not found")
            #expect(
                try await api.send(.get, "/api/stacks/default/web/prod/policypacks", token: outsider).status
                    == .notFound)
        }
    }

    @Test func enableAppliesAVersionWithNormalisedConfigAndDisableRemovesIt() async throws {
        try await TestServer.with { server, api in
            let token = server.adminToken
            try await Self.publishGuard(api, token)
            // `pulumi policy enable default/guard 1.0.0 --config config.json`
            let enabled = try await api.send(
                .patch, Self.defaultGroup, token: token,
                json: [
                    "addPolicyPack": [
                        "name": "guard", "versionTag": "1.0.0",
                        "config": [
                            "all": ["enforcementLevel": "advisory"],
                            "s3": ["enforcementLevel": "mandatory", "allowedAcls": ["private"]],
                            "tags": "disabled",
                        ],
                    ]
                ])
            #expect(enabled.status == .noContent)
            let group = try await api.send(.get, Self.defaultGroup, token: token)
            #expect(
                group.json["appliedPolicyPacks"]
                    == [
                        [
                            "name": "guard", "displayName": "Pack guard", "version": 1, "versionTag": "1.0.0",
                            "config": [
                                "all": ["enforcementLevel": "advisory"],
                                "s3": ["enforcementLevel": "mandatory", "allowedAcls": ["private"]],
                                "tags": ["enforcementLevel": "disabled"],
                            ],
                        ]
                    ])
            let version = try await api.send(.get, "/api/orgs/default/policypacks/guard/versions/1.0.0", token: token)
            #expect(version.json["applied"] == true)

            // `pulumi policy disable default/guard`
            let disabled = try await api.send(
                .patch, Self.defaultGroup, token: token, json: ["removePolicyPack": ["name": "guard"]])
            #expect(disabled.status == .noContent)
            #expect(try await api.send(.get, Self.defaultGroup, token: token).json["appliedPolicyPacks"] == [])
            let again = try await api.send(
                .patch, Self.defaultGroup, token: token, json: ["removePolicyPack": ["name": "guard"]])
            #expect(again.status == .notFound)
        }
    }

    @Test func enableLatestPinsTheNewestVersionAndANewVersionReplacesIt() async throws {
        try await TestServer.with { server, api in
            let token = server.adminToken
            try await Self.publishGuard(api, token, tag: "1.0.0")
            try await Self.publishGuard(api, token, tag: "1.1.0")
            // `pulumi policy enable default/guard latest` omits the version.
            _ = try await api.send(.patch, Self.defaultGroup, token: token, json: ["addPolicyPack": ["name": "guard"]])
            try await Self.publishGuard(api, token, tag: "2.0.0")
            var applied = try await api.send(.get, Self.defaultGroup, token: token).json["appliedPolicyPacks"]
            #expect(applied?.arrayValue?.map { $0["versionTag"] } == ["1.1.0"])
            // `enable` sends numbers as tags: "1" is no tag here, so it means version 1.
            _ = try await api.send(
                .patch, Self.defaultGroup, token: token, json: ["addPolicyPack": ["name": "guard", "versionTag": "1"]])
            applied = try await api.send(.get, Self.defaultGroup, token: token).json["appliedPolicyPacks"]
            #expect(applied?.arrayValue?.map { $0["versionTag"] } == ["1.0.0"])
            // `group edit --add-policy-pack guard@3` sends the integer.
            _ = try await api.send(
                .patch, Self.defaultGroup, token: token, json: ["addPolicyPack": ["name": "guard", "version": 3]])
            applied = try await api.send(.get, Self.defaultGroup, token: token).json["appliedPolicyPacks"]
            #expect(applied?.arrayValue?.map { $0["versionTag"] } == ["2.0.0"])
            let disableOther = try await api.send(
                .patch, Self.defaultGroup, token: token,
                json: ["removePolicyPack": ["name": "guard", "versionTag": "1.0.0"]])
            #expect(disableOther.status == .notFound)
            let unknown = try await api.send(
                .patch, Self.defaultGroup, token: token, json: ["addPolicyPack": ["name": "nope"]])
            #expect(unknown.status == .notFound)
        }
    }

    @Test func configIsCheckedAgainstTheSchemasAndEveryViolationIsReported() async throws {
        try await TestServer.with { server, api in
            let token = server.adminToken
            try await Self.publishGuard(api, token)
            let response = try await api.send(
                .patch, Self.defaultGroup, token: token,
                json: [
                    "addPolicyPack": [
                        "name": "guard", "versionTag": "1.0.0",
                        "config": [
                            "s3": ["enforcementLevel": "strict", "allowedAcls": ["private", "world"], "maxSize": 0],
                            "unknown-policy": "mandatory",
                            "tags": "sometimes",
                        ],
                    ]
                ])
            #expect(response.status == .badRequest)
            let pointers = response.json["errors"]?.arrayValue?.compactMap { $0["attribute"]?.stringValue }
            #expect(
                pointers == [
                    "/s3/enforcementLevel", "/s3/allowedAcls/1", "/s3/maxSize", "/tags", "/unknown-policy",
                ])
            let missing = try await api.send(
                .patch, Self.defaultGroup, token: token,
                json: ["addPolicyPack": ["name": "guard", "config": ["s3": ["enforcementLevel": "advisory"]]]])
            #expect(
                missing.json["errors"]?.arrayValue?.compactMap { $0["attribute"]?.stringValue } == ["/s3/allowedAcls"])
            #expect(try await api.send(.get, Self.defaultGroup, token: token).json["appliedPolicyPacks"] == [])
        }
    }

    /// `additionalProperties: false` at the top of a schema closes it; `enforcementLevel` is still allowed.
    @Test func aClosedConfigSchemaRefusesUnknownKeys() async throws {
        let closed: JSONValue = [
            "type": "object", "properties": ["nodeCount": ["type": "integer"]], "required": ["nodeCount"],
            "additionalProperties": false,
        ]
        try await TestServer.with { server, api in
            let token = server.adminToken
            try await api.publish(
                "default", "nodes", tag: "1.0.0", token: token, policies: [Fixtures.policy("count", schema: closed)])
            func apply(_ config: JSONValue) async throws -> APIResponse {
                try await api.send(
                    .patch, Self.defaultGroup, token: token,
                    json: ["addPolicyPack": ["name": "nodes", "versionTag": "1.0.0", "config": ["count": config]]])
            }
            let refused = try await apply(["nodeCount": 1, "extraKnob": 2])
            #expect(refused.status == .badRequest)
            #expect(
                refused.json["errors"]?.arrayValue?.compactMap { $0["attribute"]?.stringValue } == ["/count/extraKnob"])
            #expect(try await api.send(.get, Self.defaultGroup, token: token).json["appliedPolicyPacks"] == [])
            let accepted = try await apply(["nodeCount": 1, "enforcementLevel": "advisory"])
            #expect(accepted.status == .noContent, "\(accepted.text)")
        }
    }

    /// The store itself refuses, in the transaction that would change it, to rename or delete the default group.
    @Test func theStoreRefusesToRenameOrDeleteTheDefaultGroup() async throws {
        try await TestServer.with { server, _ in
            await #expect(throws: RegistryError.self) {
                try await server.store.deleteGroup(organization: "default", name: "default-policy-group")
            }
            var rename = GroupChanges()
            rename.newName = "renamed"
            await #expect(throws: RegistryError.self) {
                try await server.store.updateGroup(
                    organization: "default", name: "default-policy-group", changes: rename)
            }
            let group = try await server.store.group(organization: "default", name: "default-policy-group")
            #expect(group.isOrgDefault)
        }
    }

    @Test func appliedVersionsCannotBeDeletedAndShowAsEnabled() async throws {
        try await TestServer.with { server, api in
            let token = server.adminToken
            try await Self.publishGuard(api, token)
            try await api.publish("default", "other", tag: "1.0.0", token: token)
            _ = try await api.send(
                .post, "/api/orgs/default/policygroups", token: token, json: ["name": "prod", "entityType": "stacks"])
            _ = try await api.send(
                .patch, "/api/orgs/default/policygroups/prod", token: token,
                json: ["addPolicyPack": ["name": "guard", "versionTag": "1.0.0"]])
            let deletePack = try await api.send(.delete, "/api/orgs/default/policypacks/guard", token: token)
            #expect(deletePack.status == .badRequest)
            #expect(deletePack.message?.hasPrefix("Cannot delete an enabled Policy Pack") == true)
            let deleteVersion = try await api.send(
                .delete, "/api/orgs/default/policypacks/guard/versions/1.0.0", token: token)
            #expect(deleteVersion.status == .conflict)
            #expect(deleteVersion.message?.contains("prod") == true)
            let enabled = try await api.send(
                .get, "/api/registry/policypacks?orgLogin=default&access=enabled", token: token)
            #expect(enabled.json["policyPacks"]?.arrayValue?.map { $0["name"] } == ["guard"])
            let enabledPost = try await api.send(.post, "/api/registry/policypacks", token: token)
            #expect(enabledPost.json["policyPacks"]?.arrayValue?.map { $0["name"] } == ["guard"])
            // Deleting the group releases the pack.
            _ = try await api.send(.delete, "/api/orgs/default/policygroups/prod", token: token)
            #expect(try await api.send(.delete, "/api/orgs/default/policypacks/guard", token: token).status == .ok)
        }
    }

    @Test func groupEditSendsReplacementListsThatApplyAtomically() async throws {
        try await TestServer.with { server, api in
            let token = server.adminToken
            try await Self.publishGuard(api, token)
            try await api.publish("default", "cost", tag: "3.0.0", token: token)
            _ = try await api.send(
                .post, "/api/orgs/default/policygroups", token: token, json: ["name": "prod", "entityType": "stacks"])
            _ = try await api.send(
                .patch, "/api/orgs/default/policygroups/prod", token: token,
                json: [
                    "addPolicyPack": [
                        "name": "guard", "versionTag": "1.0.0",
                        "config": ["s3": ["enforcementLevel": "mandatory", "allowedAcls": ["private"]]],
                    ]
                ])
            // `pulumi policy group edit prod --name production --add-stack web/prod --add-stack api/prod
            //  --add-policy-pack cost@1`: GET, merge, one PATCH echoing appliedPolicyPacks, GET.
            let current = try await api.send(.get, "/api/orgs/default/policygroups/prod", token: token)
            let echoed = try #require(current.json["appliedPolicyPacks"]?.arrayValue)
            let edit: JSONValue = [
                "newName": "production",
                "stacks": [["name": "prod", "routingProject": "web"], ["name": "prod", "routingProject": "api"]],
                "policyPacks": .array(echoed + [["name": "cost", "version": 1]]),
            ]
            let patched = try await api.send(.patch, "/api/orgs/default/policygroups/prod", token: token, json: edit)
            #expect(patched.status == .noContent)
            let result = try await api.send(.get, "/api/orgs/default/policygroups/production", token: token)
            #expect(
                result.json["stacks"] == [
                    ["name": "prod", "routingProject": "api"], ["name": "prod", "routingProject": "web"],
                ])
            #expect(result.json["appliedPolicyPacks"]?.arrayValue?.map { $0["name"] } == ["cost", "guard"])
            #expect(result.json["appliedPolicyPacks"]?.arrayValue?.last?["config"] == echoed.first?["config"])
            let stacks = try await api.send(.get, "/api/orgs/default/policygroups/production/stacks", token: token)
            #expect(stacks.json["stacks"]?.arrayValue?.count == 2)

            // One bad part (an unknown pack) leaves everything as it was, rename included.
            let bad: JSONValue = ["newName": "renamed", "stacks": [], "policyPacks": [["name": "missing"]]]
            let refused = try await api.send(
                .patch, "/api/orgs/default/policygroups/production", token: token, json: bad)
            #expect(refused.status == .notFound)
            let unchanged = try await api.send(.get, "/api/orgs/default/policygroups/production", token: token)
            #expect(unchanged.json == result.json)
            // Emptying the lists works.
            _ = try await api.send(
                .patch, "/api/orgs/default/policygroups/production", token: token,
                json: ["stacks": [], "policyPacks": []])
            let emptied = try await api.send(.get, "/api/orgs/default/policygroups/production", token: token)
            #expect(emptied.json["stacks"] == [] && emptied.json["appliedPolicyPacks"] == [])
            let accounts = try await api.send(
                .patch, "/api/orgs/default/policygroups/production", token: token, json: ["insightsAccounts": []])
            #expect(accounts.status == .badRequest)
        }
    }

    @Test func singleStackChangesAndRenameCollisions() async throws {
        try await TestServer.with { server, api in
            let token = server.adminToken
            for name in ["a", "b"] {
                _ = try await api.send(
                    .post, "/api/orgs/default/policygroups", token: token,
                    json: ["name": .string(name), "entityType": "stacks"])
            }
            _ = try await api.send(
                .patch, "/api/orgs/default/policygroups/a", token: token,
                json: ["addStack": ["name": "dev", "routingProject": "web"]])
            #expect(
                try await api.send(.get, "/api/orgs/default/policygroups/a", token: token).json["stacks"]
                    == [["name": "dev", "routingProject": "web"]])
            let missing = try await api.send(
                .patch, "/api/orgs/default/policygroups/a", token: token, json: ["removeStack": ["name": "prod"]])
            #expect(missing.status == .notFound)
            let removed = try await api.send(
                .patch, "/api/orgs/default/policygroups/a", token: token,
                json: ["removeStack": ["name": "dev", "routingProject": "web"]])
            #expect(removed.status == .noContent)
            let collision = try await api.send(
                .patch, "/api/orgs/default/policygroups/a", token: token, json: ["newName": "b"])
            #expect(collision.status == .conflict)
            let badStack = try await api.send(
                .patch, "/api/orgs/default/policygroups/a", token: token, json: ["addStack": ["name": "bad stack"]])
            #expect(badStack.status == .badRequest)
        }
    }
}
