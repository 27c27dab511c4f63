import OpenAPIRuntime
import PolicyHubAPI
import PolicyHubCore

extension APIHandler {
    /// Every pack is private to its publisher, the organization that published it.
    static let privateSource = "private"

    /// The organization a registry path's source and publisher name: only the private source exists.
    static func publisher(_ source: String, _ publisher: String) throws(RegistryError) -> Name {
        guard source == privateSource else {
            throw RegistryError(.notFound, "Policy pack source '\(source)' not found: only 'private' exists.")
        }
        return try Name(publisher, field: "publisher")
    }

    func getOrgRegistryPolicyPack(
        _ input: Operations.GetOrgRegistryPolicyPack.Input
    ) async throws -> Operations.GetOrgRegistryPolicyPack.Output {
        let entry = try await registry.orgPack(
            organization: try PathName.organization(input.path.orgName),
            pack: try PathName.pack(input.path.policyPackName), tag: input.query.tag,
            caller: try RequestInfo.caller())
        return .ok(.init(body: .json(.init(policyPack: .init(entry)))))
    }

    func listRegistryPolicyPacks(
        _ input: Operations.ListRegistryPolicyPacks.Input
    ) async throws -> Operations.ListRegistryPolicyPacks.Output {
        guard let organization = input.query.orgLogin, !organization.isEmpty else {
            throw RegistryError.invalid(
                "orgLogin is required.",
                details: [.init(resource: "request", attribute: "orgLogin", errorType: .required)])
        }
        let page = try await registry.list(
            organization: try PathName.organization(organization, field: "orgLogin"),
            access: try RegistryAccess(parsing: input.query.access, default: .available),
            packIDs: nil, continuationToken: input.query.continuationToken, caller: RequestInfo.current.principal)
        return .ok(.init(body: .json(.init(page))))
    }

    func listRegistryPolicyPacksPost(
        _ input: Operations.ListRegistryPolicyPacksPost.Input
    ) async throws -> Operations.ListRegistryPolicyPacksPost.Output {
        var request = Components.Schemas.ListRegistryPolicyPacksRequest()
        if case .json(let body)? = input.body { request = body }
        let organization = try request.orgLogin.flatMap { login throws(RegistryError) in
            login.isEmpty ? nil : try PathName.organization(login, field: "orgLogin")
        }
        let page = try await registry.list(
            organization: organization, access: try RegistryAccess(parsing: request.access, default: .enabled),
            packIDs: request.ids, continuationToken: input.query.continuationToken ?? request.continuationToken,
            caller: RequestInfo.current.principal)
        return .ok(.init(body: .json(.init(page))))
    }

    func deleteRegistryPolicyPack(
        _ input: Operations.DeleteRegistryPolicyPack.Input
    ) async throws -> Operations.DeleteRegistryPolicyPack.Output {
        try await registry.delete(
            publisher: try Self.publisher(input.path.source, input.path.publisher),
            name: try Name(input.path.name, field: "name"),
            caller: try RequestInfo.caller())
        return .noContent(.init())
    }

    func listRegistryPolicyPackVersions(
        _ input: Operations.ListRegistryPolicyPackVersions.Input
    ) async throws -> Operations.ListRegistryPolicyPackVersions.Output {
        let page = try await registry.versions(
            publisher: try Self.publisher(input.path.source, input.path.publisher),
            name: try Name(input.path.name, field: "name"),
            continuationToken: input.query.continuationToken, caller: try RequestInfo.caller())
        return .ok(.init(body: .json(.init(page))))
    }

    func publishRegistryPolicyPackVersion(
        _ input: Operations.PublishRegistryPolicyPackVersion.Input
    ) async throws -> Operations.PublishRegistryPolicyPackVersion.Output {
        guard case .json(let body) = input.body else { throw RegistryError.invalid("The body must be JSON.") }
        let publisher = try Self.publisher(input.path.source, input.path.publisher)
        let draft = try PolicyPackDraft.parse(body, tagField: .version, limits: draftLimits)
        let ticket = try await registry.publish(
            publisher: publisher, name: try Name(input.path.name, field: "name"), draft: draft,
            caller: try RequestInfo.caller())
        let response = Components.Schemas.PublishPolicyPackVersionResponse(
            operationID: ticket.version.id, version: ticket.version.label, uploadURI: ticket.upload.url,
            requiredHeaders: .init(additionalProperties: ticket.upload.requiredHeaders))
        return .created(.init(body: .json(response)))
    }

    func getRegistryPolicyPackVersion(
        _ input: Operations.GetRegistryPolicyPackVersion.Input
    ) async throws -> Operations.GetRegistryPolicyPackVersion.Output {
        let entry = try await registry.version(
            publisher: try Self.publisher(input.path.source, input.path.publisher),
            name: try Name(input.path.name, field: "name"),
            version: input.path.version, caller: try RequestInfo.caller())
        let policies = entry.version.draft.policies.map(Components.Schemas.AppPolicy.init)
        return .ok(.init(body: .json(.init(policyPack: .init(entry), policies: policies))))
    }

    func deleteRegistryPolicyPackVersion(
        _ input: Operations.DeleteRegistryPolicyPackVersion.Input
    ) async throws -> Operations.DeleteRegistryPolicyPackVersion.Output {
        try await registry.deleteVersion(
            publisher: try Self.publisher(input.path.source, input.path.publisher),
            name: try Name(input.path.name, field: "name"),
            version: input.path.version, caller: try RequestInfo.caller())
        return .noContent(.init())
    }

    func completeRegistryPolicyPackVersion(
        _ input: Operations.CompleteRegistryPolicyPackVersion.Input
    ) async throws -> Operations.CompleteRegistryPolicyPackVersion.Output {
        var operationID: String?
        if case .json(let body)? = input.body { operationID = body.operationID }
        try await registry.complete(
            publisher: try Self.publisher(input.path.source, input.path.publisher),
            name: try Name(input.path.name, field: "name"),
            version: input.path.version, operationID: operationID, caller: try RequestInfo.caller())
        return .noContent(.init())
    }
}
