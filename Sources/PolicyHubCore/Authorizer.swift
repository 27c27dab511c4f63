import Foundation

/// What a caller may do in an organization, each with the role it needs.
public enum Permission: CaseIterable, Hashable, Sendable {
    case readPolicyPacks, publishPolicyPacks, deletePolicyPacks
    case readPolicyGroups, createPolicyGroups, changePolicyGroups, deletePolicyGroups
    case readStacks
    case readAuditLog
    case reportPolicyResults, readPolicyResults, triagePolicyIssues

    public var requiredRole: Role {
        switch self {
        case .readPolicyPacks, .readPolicyGroups, .readStacks, .reportPolicyResults, .readPolicyResults: .member
        case .publishPolicyPacks, .deletePolicyPacks, .createPolicyGroups, .changePolicyGroups, .deletePolicyGroups,
            .readAuditLog, .triagePolicyIssues:
            .admin
        }
    }

    /// How a refusal names what was refused: "You may not <action> in this organization".
    public var action: String {
        switch self {
        case .readPolicyPacks: "read Policy Packs"
        case .publishPolicyPacks: "publish Policy Packs"
        case .deletePolicyPacks: "delete Policy Packs"
        case .readPolicyGroups: "read policy groups"
        case .createPolicyGroups: "create policy groups"
        case .changePolicyGroups: "change policy groups"
        case .deletePolicyGroups: "delete policy groups"
        case .readStacks: "read stacks"
        case .readAuditLog: "read the audit log"
        case .reportPolicyResults: "report policy results"
        case .readPolicyResults: "read policy results"
        case .triagePolicyIssues: "triage policy issues"
        }
    }
}

extension Principal {
    /// The caller's role in `organization` if it grants `permission`. Non-members learn nothing about whether the
    /// organization exists.
    public func check(_ permission: Permission, in organization: String) throws(RegistryError) -> Role {
        guard let role = role(in: organization) else { throw RegistryError.organizationNotFound }
        if permission.requiredRole == .admin && role != .admin { throw RegistryError.forbidden(permission.action) }
        return role
    }
}

/// The one place permissions are checked. Every refusal is recorded in the audit trail before it is reported,
/// so an organization's admins see who tried what.
public struct Authorizer: Sendable {
    let audit: any AuditStore
    let clock: WallClock

    public init(audit: any AuditStore, clock: WallClock = .system) {
        self.audit = audit
        self.clock = clock
    }

    /// The caller's role in `organization`, if it grants `permission`. `target` names what was acted on in the
    /// audit event of a refusal.
    @discardableResult
    public func require(
        _ permission: Permission, in organization: String, target: String, caller: Principal
    ) async throws -> Role {
        do {
            return try caller.check(permission, in: organization)
        } catch {
            try? await audit.recordAudit(
                caller.event(
                    AuditAction.authorizationDenied, in: organization, target: "\(target): \(permission.action)",
                    at: clock.now()))
            throw error
        }
    }
}
