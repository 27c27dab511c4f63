import Foundation

/// A pack a stack must run, with where to download it.
public struct RequiredPolicy: Hashable, Sendable {
    public var version: PackVersion
    public var config: [String: JSONValue]?
    /// An absolute, signed, expiring URL that needs no Authorization header.
    public var packLocation: String
}

/// What applies to one stack. PolicyHub does not store stacks: any stack name is a reference, and belongs to
/// the groups that list it, or to its organization's default group when none does.
public struct StackPolicyService: Sendable {
    let store: any GroupStore
    let packs: PolicyPackService
    let authorizer: Authorizer

    public init(store: any GroupStore, packs: PolicyPackService, authorizer: Authorizer) {
        self.store = store
        self.packs = packs
        self.authorizer = authorizer
    }

    /// Checks that the caller may read the stack's organization. The edge builds `stack` from validated names.
    public func lookup(organization: Name, stack: StackReference, caller: Principal) async throws {
        try await authorizer.require(
            .readStacks, in: organization.text, target: "\(stack.project)/\(stack.name)", caller: caller)
    }

    public func groups(organization: Name, stack: StackReference, caller: Principal) async throws
        -> [PolicyGroupSummary]
    {
        try await lookup(organization: organization, stack: stack, caller: caller)
        return try await store.groups(organization: organization.text, stack: stack)
    }

    /// One entry per pack: when groups apply different versions of a pack, the newer version wins.
    public func requiredPolicies(organization: Name, stack: StackReference, caller: Principal) async throws
        -> [RequiredPolicy]
    {
        try await lookup(organization: organization, stack: stack, caller: caller)
        var chosen: [String: AppliedPack] = [:]
        for applied in try await store.appliedPacks(organization: organization.text, stack: stack) {
            if let current = chosen[applied.version.name], current.version.version >= applied.version.version {
                continue
            }
            chosen[applied.version.name] = applied
        }
        var required: [RequiredPolicy] = []
        for name in chosen.keys.sorted() {
            guard let applied = chosen[name] else { continue }
            required.append(
                RequiredPolicy(
                    version: applied.version, config: applied.config,
                    packLocation: try await packs.downloadLink(for: applied.version)))
        }
        return required
    }
}
