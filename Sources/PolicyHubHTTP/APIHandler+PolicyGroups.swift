import OpenAPIRuntime
import PolicyHubAPI
import PolicyHubCore

extension APIHandler {
    func listPolicyGroups(_ input: Operations.ListPolicyGroups.Input) async throws -> Operations.ListPolicyGroups.Output
    {
        let groups = try await self.groups.list(
            organization: try PathName.organization(input.path.orgName), caller: try RequestInfo.caller())
        return .ok(.init(body: .json(.init(policyGroups: groups.map(Components.Schemas.PolicyGroupSummary.init)))))
    }

    func createPolicyGroup(
        _ input: Operations.CreatePolicyGroup.Input
    ) async throws -> Operations.CreatePolicyGroup.Output {
        guard case .json(let body) = input.body else { throw RegistryError.invalid("The body must be JSON.") }
        let group = try await groups.create(
            organization: try PathName.organization(input.path.orgName), name: try PathName.group(body.name),
            entityType: body.entityType, mode: body.mode,
            agentPoolID: body.agentPoolId, caller: try RequestInfo.caller())
        return .created(.init(body: .json(.init(group))))
    }

    func getPolicyGroup(_ input: Operations.GetPolicyGroup.Input) async throws -> Operations.GetPolicyGroup.Output {
        let group = try await groups.group(
            organization: try PathName.organization(input.path.orgName),
            name: try PathName.group(input.path.policyGroup), caller: try RequestInfo.caller())
        return .ok(.init(body: .json(.init(group))))
    }

    func updatePolicyGroup(
        _ input: Operations.UpdatePolicyGroup.Input
    ) async throws -> Operations.UpdatePolicyGroup.Output {
        guard case .json(let body) = input.body else { throw RegistryError.invalid("The body must be JSON.") }
        let update = PolicyGroupUpdate(
            newName: body.newName, addStack: body.addStack.map(StackReference.init),
            removeStack: body.removeStack.map(StackReference.init),
            addPolicyPack: body.addPolicyPack.map(PackSelector.init),
            removePolicyPack: body.removePolicyPack.map(PackSelector.init),
            stacks: body.stacks?.map(StackReference.init),
            policyPacks: body.policyPacks?.map(PackSelector.init),
            touchesAccounts: body.addInsightsAccount != nil || body.removeInsightsAccount != nil
                || body.insightsAccounts != nil)
        try await groups.update(
            organization: try PathName.organization(input.path.orgName),
            name: try PathName.group(input.path.policyGroup), update: update,
            caller: try RequestInfo.caller())
        return .noContent(.init())
    }

    func deletePolicyGroup(
        _ input: Operations.DeletePolicyGroup.Input
    ) async throws -> Operations.DeletePolicyGroup.Output {
        try await groups.delete(
            organization: try PathName.organization(input.path.orgName),
            name: try PathName.group(input.path.policyGroup), caller: try RequestInfo.caller())
        return .noContent(.init())
    }

    func listPolicyGroupStacks(
        _ input: Operations.ListPolicyGroupStacks.Input
    ) async throws -> Operations.ListPolicyGroupStacks.Output {
        let group = try await groups.group(
            organization: try PathName.organization(input.path.orgName),
            name: try PathName.group(input.path.policyGroup), caller: try RequestInfo.caller())
        let stacks = group.stacks.map {
            Components.Schemas.PolicyGroupStack(
                name: $0.name, routingProject: $0.project, source: .explicit, tags: .init(additionalProperties: [:]))
        }
        return .ok(.init(body: .json(.init(stacks: stacks))))
    }
}

// MARK: - Stacks

extension APIHandler {
    func getStack(_ input: Operations.GetStack.Input) async throws -> Operations.GetStack.Output {
        let stack = try PathName.stack(project: input.path.projectName, name: input.path.stackName)
        try await stacks.lookup(
            organization: try PathName.organization(input.path.orgName), stack: stack, caller: try RequestInfo.caller())
        let body = Components.Schemas.Stack(
            id: "\(input.path.orgName)/\(stack.project)/\(stack.name)", orgName: input.path.orgName,
            projectName: stack.project, stackName: stack.name, activeUpdate: "",
            tags: .init(additionalProperties: [:]), version: 0)
        return .ok(.init(body: .json(body)))
    }

    func getStackPolicyPacks(
        _ input: Operations.GetStackPolicyPacks.Input
    ) async throws -> Operations.GetStackPolicyPacks.Output {
        let required = try await stacks.requiredPolicies(
            organization: try PathName.organization(input.path.orgName),
            stack: try PathName.stack(project: input.path.projectName, name: input.path.stackName),
            caller: try RequestInfo.caller())
        let policies = required.map { policy in
            Components.Schemas.RequiredPolicy(
                name: policy.version.name, version: policy.version.version, versionTag: policy.version.label,
                displayName: policy.version.draft.displayName, packLocation: policy.packLocation,
                sha256: policy.version.archive?.sha256,
                config: policy.config.map(JSONValue.object))
        }
        return .ok(.init(body: .json(.init(requiredPolicies: policies))))
    }

    func getStackPolicyGroups(
        _ input: Operations.GetStackPolicyGroups.Input
    ) async throws -> Operations.GetStackPolicyGroups.Output {
        let groups = try await stacks.groups(
            organization: try PathName.organization(input.path.orgName),
            stack: try PathName.stack(project: input.path.projectName, name: input.path.stackName),
            caller: try RequestInfo.caller())
        return .ok(.init(body: .json(.init(policyGroups: groups.map(Components.Schemas.PolicyGroupSummary.init)))))
    }
}

// MARK: - Conversions

extension StackReference {
    init(_ reference: Components.Schemas.PulumiStackReference) {
        self.init(project: reference.routingProject ?? "", name: reference.name)
    }
}

extension PackSelector {
    init(_ metadata: Components.Schemas.PolicyPackMetadata) {
        self.init(
            name: metadata.name, versionTag: metadata.versionTag, version: metadata.version, config: metadata.config)
    }
}

extension Components.Schemas.PulumiStackReference {
    init(_ stack: StackReference) {
        self.init(name: stack.name, routingProject: stack.project.isEmpty ? nil : stack.project)
    }
}

extension Components.Schemas.PolicyGroupSummary {
    init(_ summary: PolicyGroupSummary) {
        self.init(
            name: summary.name, isOrgDefault: summary.isOrgDefault, numStacks: summary.stackCount,
            entityType: PolicyGroup.stacksEntityType, mode: summary.mode.rawValue,
            numEnabledPolicyPacks: summary.packCount)
    }
}

extension Components.Schemas.GetPolicyGroupResponse {
    init(_ group: PolicyGroup) {
        self.init(
            name: group.name, isOrgDefault: group.isOrgDefault, entityType: PolicyGroup.stacksEntityType,
            mode: group.mode.rawValue, stacks: group.stacks.map(Components.Schemas.PulumiStackReference.init),
            appliedPolicyPacks: group.packs.map { applied in
                .init(
                    name: applied.version.name, displayName: applied.version.draft.displayName,
                    version: applied.version.version, versionTag: applied.version.versionTag ?? "",
                    config: applied.config.map(JSONValue.object))
            },
            accounts: [], agentPoolId: group.agentPoolID)
    }
}
