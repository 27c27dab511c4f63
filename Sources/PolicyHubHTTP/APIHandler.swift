import OpenAPIRuntime
import PolicyHubAPI
import PolicyHubCore

/// Implements the generated API: each method translates the generated input into a call on a domain service
/// and the result back into the generated output. Failures are thrown and mapped in `ErrorMapping`.
struct APIHandler: APIProtocol {
    let identity: IdentityService
    let packs: PolicyPackService
    let registry: RegistryService
    let groups: PolicyGroupService
    let stacks: StackPolicyService
    let audit: AuditService
    let results: PolicyResultsService
    let draftLimits: DraftLimits
}

// MARK: - Session

extension APIHandler {
    func getCurrentUser(_ input: Operations.GetCurrentUser.Input) async throws -> Operations.GetCurrentUser.Output {
        let caller = try RequestInfo.caller()
        let organizations = caller.memberships.filter { !$0.isPersonal }.map {
            Components.Schemas.UserOrganization(
                githubLogin: $0.organization, name: $0.organization, avatarUrl: "",
                role: $0.role == .admin ? .admin : .member)
        }
        let user = Components.Schemas.User(
            id: caller.userID, githubLogin: caller.login, name: caller.displayName, email: "", avatarUrl: "",
            organizations: organizations, identities: [], hasMFA: false, isOrgManaged: false,
            isManagedByMultiOrg: false,
            tokenInfo: caller.tokenDescription.isEmpty
                ? nil : .init(name: caller.tokenDescription, organization: "", team: ""))
        return .ok(.init(body: .json(user)))
    }

    func getCapabilities(_ input: Operations.GetCapabilities.Input) async throws -> Operations.GetCapabilities.Output {
        _ = try RequestInfo.caller()
        // `stack-policy-packs` v1 enables `pulumi policy install`.
        return .ok(.init(body: .json(.init(capabilities: [.init(capability: "stack-policy-packs", version: 1)]))))
    }

    func getDefaultOrganization(
        _ input: Operations.GetDefaultOrganization.Input
    ) async throws -> Operations.GetDefaultOrganization.Output {
        let caller = try RequestInfo.caller()
        let organization = identity.defaultOrganization(for: caller)
        return .ok(.init(body: .json(.init(gitHubLogin: organization, messages: []))))
    }

    func listUserStacks(_ input: Operations.ListUserStacks.Input) async throws -> Operations.ListUserStacks.Output {
        _ = try RequestInfo.caller()
        return .ok(.init(body: .json(.init(stacks: []))))
    }
}

// MARK: - Conversions from the domain

extension Components.Schemas.AppPolicy {
    init(_ policy: Policy) {
        self.init(
            name: policy.name, displayName: policy.displayName, description: policy.description,
            enforcementLevel: .init(rawValue: policy.enforcementLevel.rawValue) ?? .advisory,
            message: policy.message, configSchema: policy.configSchema,
            severity: policy.severity.flatMap { .init(rawValue: $0.rawValue) },
            framework: policy.framework.map {
                .init(name: $0.name, version: $0.version, reference: $0.reference, specification: $0.specification)
            },
            tags: policy.tags, remediationSteps: policy.remediationSteps, url: policy.url)
    }
}

extension Components.Schemas.RegistryPolicyPack {
    init(_ entry: RegistryEntry) {
        self.init(
            id: entry.version.packID, source: APIHandler.privateSource, publisher: entry.publisher,
            name: entry.version.name,
            version: entry.version.label, displayName: entry.version.draft.displayName,
            accessLevel: .init(rawValue: entry.accessLevel.rawValue) ?? .viewOnly,
            enforcementLevels: entry.accessLevel.enforcementLevels.map(\.rawValue))
    }
}

extension Components.Schemas.ListRegistryPolicyPacksResponse {
    init(_ page: RegistryPage) {
        self.init(
            continuationToken: page.continuationToken,
            policyPacks: page.entries.map(Components.Schemas.RegistryPolicyPack.init))
    }
}
