import Foundation
import Logging

/// Policy groups: which pack versions, with which config, apply to which stacks.
public struct PolicyGroupService: Sendable {
    let store: any GroupStore & PackStore
    let authorizer: Authorizer
    let clock: WallClock
    let logger: Logger

    public init(
        store: any GroupStore & PackStore, authorizer: Authorizer, clock: WallClock = .system,
        logger: Logger = Logger(label: "policyhub.groups")
    ) {
        self.store = store
        self.authorizer = authorizer
        self.clock = clock
        self.logger = logger
    }

    public func list(organization: Name, caller: Principal) async throws -> [PolicyGroupSummary] {
        let organization = organization.text
        try await authorizer.require(.readPolicyGroups, in: organization, target: "policy groups", caller: caller)
        return try await store.listGroups(organization: organization)
    }

    public func group(organization: Name, name: Name, caller: Principal) async throws -> PolicyGroup {
        let (organization, name) = (organization.text, name.text)
        try await authorizer.require(.readPolicyGroups, in: organization, target: name, caller: caller)
        return try await store.group(organization: organization, name: name)
    }

    public func create(
        organization: Name, name: Name, entityType: String, mode: String?, agentPoolID: String?,
        caller: Principal
    ) async throws -> PolicyGroup {
        let (organization, name) = (organization.text, name.text)
        try await authorizer.require(.createPolicyGroups, in: organization, target: name, caller: caller)
        guard entityType == PolicyGroup.stacksEntityType else {
            throw RegistryError.invalid(
                "entityType '\(entityType)' is not supported: PolicyHub groups apply to stacks.",
                details: [.init(resource: "policygroup", attribute: "entityType", errorType: .invalid)])
        }
        let mode = try Self.mode(mode)
        let now = clock.now()
        try await store.createGroup(
            organization: organization, name: name, mode: mode, agentPoolID: agentPoolID, at: now,
            audit: caller.event(AuditAction.groupCreated, in: organization, target: name, at: now))
        logger.info("created policy group", metadata: ["org": "\(organization)", "group": "\(name)"])
        return try await store.group(organization: organization, name: name)
    }

    /// Applies every part of `update` in one transaction, after checking all of it.
    public func update(
        organization: Name, name: Name, update: PolicyGroupUpdate, caller: Principal
    ) async throws {
        let (organization, name) = (organization.text, name.text)
        try await authorizer.require(.changePolicyGroups, in: organization, target: name, caller: caller)
        guard !update.touchesAccounts else {
            throw RegistryError.invalid("Insights accounts do not apply to policy groups of stacks.")
        }
        var changes = GroupChanges()
        if let newName = update.newName, newName != name {
            // The store refuses to rename the default group, in the same transaction as the rename.
            try NameRule.validate(newName, field: "newName")
            changes.newName = newName
        }
        for stack in [update.addStack, update.removeStack].compactMap({ $0 }) + (update.stacks ?? []) {
            try Self.validate(stack)
        }
        changes.replaceStacks = update.stacks
        changes.addStacks = update.addStack.map { [$0] } ?? []
        changes.removeStacks = update.removeStack.map { [$0] } ?? []

        var problems: [FieldProblem] = []
        func apply(_ selectors: [PackSelector]) async throws -> [GroupChanges.Application] {
            var applications: [GroupChanges.Application] = []
            for selector in selectors {
                do {
                    applications.append(try await application(of: selector, in: organization))
                } catch let error as RegistryError where error.kind == .invalid {
                    problems +=
                        error.details.isEmpty
                        ? [
                            .init(
                                resource: selector.name, attribute: nil, errorType: .invalid,
                                customMessage: error.message)
                        ]
                        : error.details
                }
            }
            return applications
        }
        if let packs = update.policyPacks {
            var seen: Set<String> = []
            if let duplicate = packs.map(\.name).first(where: { !seen.insert($0).inserted }) {
                throw RegistryError.invalid(
                    "policyPacks lists '\(duplicate)' more than once: a group holds one version of a pack.")
            }
            changes.replacePacks = try await apply(packs)
        }
        changes.addPacks = try await apply(update.addPolicyPack.map { [$0] } ?? [])
        guard problems.isEmpty else {
            throw RegistryError.invalid(problems.compactMap(\.customMessage).joined(separator: " "), details: problems)
        }
        if let removal = update.removePolicyPack {
            try NameRule.validate(removal.name, field: "removePolicyPack.name")
            var versionID: String?
            if removal.versionTag?.isEmpty == false || removal.version != nil {
                versionID = try await version(of: removal, in: organization).id
            }
            changes.removePacks = [.init(pack: removal.name, versionID: versionID)]
        }
        try await store.updateGroup(
            organization: organization, name: name, changes: changes,
            audit: caller.event(AuditAction.groupUpdated, in: organization, target: name, at: clock.now()))
        logger.info("updated policy group", metadata: ["org": "\(organization)", "group": "\(name)"])
    }

    public func delete(organization: Name, name: Name, caller: Principal) async throws {
        let (organization, name) = (organization.text, name.text)
        try await authorizer.require(.deletePolicyGroups, in: organization, target: name, caller: caller)
        // The store refuses to delete the default group, in the same transaction as the delete.
        try await store.deleteGroup(
            organization: organization, name: name,
            audit: caller.event(AuditAction.groupDeleted, in: organization, target: name, at: clock.now()))
        logger.info("deleted policy group", metadata: ["org": "\(organization)", "group": "\(name)"])
    }

    // MARK: Resolving packs

    /// The completed version a selector names: its tag (or number given as a tag), its number, or the newest.
    func version(of selector: PackSelector, in organization: String) async throws -> PackVersion {
        try NameRule.validate(selector.name, field: "policy pack name")
        let version: PackVersion
        if let tag = selector.versionTag, !tag.isEmpty {
            version = try await store.version(organization: organization, pack: selector.name, reference: tag)
        } else if let number = selector.version, number > 0 {
            version = try await store.version(organization: organization, pack: selector.name, number: number)
        } else {
            version = try await store.version(organization: organization, pack: selector.name, reference: "latest")
        }
        guard version.status == .complete else {
            throw RegistryError.invalid("Policy Pack '\(selector.name)' version \(version.label) is not complete.")
        }
        return version
    }

    private func application(of selector: PackSelector, in organization: String) async throws
        -> GroupChanges.Application
    {
        let version = try await version(of: selector, in: organization)
        let config = try PolicyConfig.normalize(selector.config, for: version)
        return GroupChanges.Application(
            packID: version.packID, versionID: version.id, config: try config.map { try JSONValue.object($0).encoded() }
        )
    }

    static func mode(_ text: String?) throws(RegistryError) -> PolicyGroupMode {
        guard let text, !text.isEmpty else { return .preventative }
        guard let mode = PolicyGroupMode(rawValue: text) else {
            throw RegistryError.invalid(
                "mode '\(text)' is not one of preventative, audit.",
                details: [.init(resource: "policygroup", attribute: "mode", errorType: .invalid)])
        }
        return mode
    }

    static func validate(_ stack: StackReference) throws(RegistryError) {
        try NameRule.validate(stack.name, field: "stack name")
        if !stack.project.isEmpty { try NameRule.validate(stack.project, field: "routingProject") }
    }
}
