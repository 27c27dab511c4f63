import OpenAPIRuntime
import PolicyHubAPI
import PolicyHubCore

extension APIHandler {
    func listPolicyPacks(_ input: Operations.ListPolicyPacks.Input) async throws -> Operations.ListPolicyPacks.Output {
        try RequestInfo.allowQuery(["policypack"])
        let summaries = try await packs.list(
            organization: try PathName.organization(input.path.orgName),
            name: try input.query.policypack.map { name throws(RegistryError) in
                try PathName.pack(name, field: "policypack")
            }, caller: try RequestInfo.caller())
        let body = Components.Schemas.ListPolicyPacksResponse(
            policyPacks: summaries.map {
                .init(name: $0.name, displayName: $0.displayName, versions: $0.versions, versionTags: $0.versionTags)
            })
        return .ok(.init(body: .json(body)))
    }

    func createPolicyPack(_ input: Operations.CreatePolicyPack.Input) async throws -> Operations.CreatePolicyPack.Output
    {
        guard case .json(let body) = input.body else { throw RegistryError.invalid("The body must be JSON.") }
        let draft = try PolicyPackDraft.parse(body, tagField: .versionTag, limits: draftLimits)
        let ticket = try await packs.create(
            organization: try PathName.organization(input.path.orgName), draft: draft, caller: try RequestInfo.caller())
        let response = Components.Schemas.CreatePolicyPackResponse(
            version: ticket.version.version, uploadURI: ticket.upload.url,
            requiredHeaders: .init(additionalProperties: ticket.upload.requiredHeaders))
        return .created(.init(body: .json(response)))
    }

    func deletePolicyPack(_ input: Operations.DeletePolicyPack.Input) async throws -> Operations.DeletePolicyPack.Output
    {
        try await packs.deletePack(
            organization: try PathName.organization(input.path.orgName),
            pack: try PathName.pack(input.path.policyPackName), caller: try RequestInfo.caller())
        return .ok(.init())
    }

    func getPolicyPack(_ input: Operations.GetPolicyPack.Input) async throws -> Operations.GetPolicyPack.Output {
        let version = try await packs.completedVersion(
            organization: try PathName.organization(input.path.orgName),
            pack: try PathName.pack(input.path.policyPackName), reference: input.path.version,
            caller: try RequestInfo.caller())
        let body = Components.Schemas.GetPolicyPackResponse(
            name: version.name, displayName: version.draft.displayName, version: version.version,
            versionTag: version.versionTag ?? "",
            policies: version.draft.policies.map(Components.Schemas.AppPolicy.init),
            applied: version.applied)
        return .ok(.init(body: .json(body)))
    }

    func deletePolicyPackVersion(
        _ input: Operations.DeletePolicyPackVersion.Input
    ) async throws -> Operations.DeletePolicyPackVersion.Output {
        try await packs.deleteVersion(
            organization: try PathName.organization(input.path.orgName),
            pack: try PathName.pack(input.path.policyPackName), reference: input.path.version,
            caller: try RequestInfo.caller())
        return .ok(.init())
    }

    func completePolicyPack(
        _ input: Operations.CompletePolicyPack.Input
    ) async throws -> Operations.CompletePolicyPack.Output {
        try await packs.complete(
            organization: try PathName.organization(input.path.orgName),
            pack: try PathName.pack(input.path.policyPackName), reference: input.path.version,
            caller: try RequestInfo.caller())
        return .noContent(.init())
    }

    func getPolicyPackConfigSchema(
        _ input: Operations.GetPolicyPackConfigSchema.Input
    ) async throws -> Operations.GetPolicyPackConfigSchema.Output {
        let schemas = try await packs.configSchemas(
            organization: try PathName.organization(input.path.orgName),
            pack: try PathName.pack(input.path.policyPackName), reference: input.path.version,
            caller: try RequestInfo.caller())
        return .ok(.init(body: .json(.init(configSchema: .init(additionalProperties: schemas)))))
    }
}
