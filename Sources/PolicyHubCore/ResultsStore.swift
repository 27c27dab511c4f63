import Foundation

/// The columns of the issues grid, named as the JSON fields of Pulumi's `PolicyIssue`.
public enum IssueColumn: String, GridColumn {
    case id, entityProject, entityId, stackVersion, policyPack, policyPackTag, policyName, resourceURN
    case resourceProvider, resourceType, resourceName, message, observedAt, lastModified, firstObservedAt
    case level, severity, status, kind, priority, assignedTo, policyGroupName, policyGroupType

    public var valueKind: GridValueKind {
        switch self {
        case .stackVersion: .number
        case .observedAt, .lastModified, .firstObservedAt: .time
        default: .text
        }
    }
}

/// The columns of the per-policy compliance grid, named as the JSON fields of Pulumi's `PolicyComplianceRow`.
public enum PolicyComplianceColumn: String, GridColumn {
    case policyName, policyPack, severity, failingResources, governedResources, percentCompliant
    case policyGroupName, policyGroupType

    public var valueKind: GridValueKind {
        switch self {
        case .failingResources, .governedResources, .percentCompliant: .number
        default: .text
        }
    }
}

/// A page of issues, or of issue groups when the request groups rows.
public struct IssuePage: Hashable, Sendable {
    public var issues: [PolicyIssueRecord]
    public var groups: [GroupCount]
    /// Issues (or groups) over all pages.
    public var rowCount: Int

    public init(issues: [PolicyIssueRecord], groups: [GroupCount], rowCount: Int) {
        self.issues = issues
        self.groups = groups
        self.rowCount = rowCount
    }
}

/// A value of a field and how many rows have it.
public struct GroupCount: Hashable, Sendable {
    public var value: String
    public var count: Int

    public init(value: String, count: Int) {
        self.value = value
        self.count = count
    }
}

/// Compliance of one policy over every stack's newest evaluation.
public struct PolicyComplianceRecord: Hashable, Sendable {
    public var packName: String
    public var policyName: String
    public var severity: PolicySeverity?
    public var groupName: String
    public var groupMode: PolicyGroupMode?
    public var governed: Int
    public var failing: Int

    public init(
        packName: String, policyName: String, severity: PolicySeverity?, groupName: String,
        groupMode: PolicyGroupMode?, governed: Int, failing: Int
    ) {
        self.packName = packName
        self.policyName = policyName
        self.severity = severity
        self.groupName = groupName
        self.groupMode = groupMode
        self.governed = governed
        self.failing = failing
    }

    /// Governed resources that pass, in whole percent, rounded down; 100 when nothing is governed.
    public var percentCompliant: Int { Compliance.percent(passing: governed - failing, of: governed) }
}

/// A stack's newest evaluation, with what it counted per pack.
public struct StackEvaluationSummary: Hashable, Sendable {
    public var stack: StackReference
    /// Nil for a stack a group lists that never reported.
    public var updateVersion: Int64?
    public var evaluatedAt: Date?
    public var packsRun: [String: String]
    /// Pack name to (governed, failing) resource-policy pairs.
    public var packTotals: [String: PairCount]

    public init(
        stack: StackReference, updateVersion: Int64?, evaluatedAt: Date?, packsRun: [String: String],
        packTotals: [String: PairCount]
    ) {
        self.stack = stack
        self.updateVersion = updateVersion
        self.evaluatedAt = evaluatedAt
        self.packsRun = packsRun
        self.packTotals = packTotals
    }
}

public struct PairCount: Hashable, Sendable {
    public var governed: Int
    public var failing: Int

    public init(governed: Int, failing: Int) {
        self.governed = governed
        self.failing = failing
    }
}

/// Totals over the newest evaluation of every stack.
public struct ResultsTotals: Hashable, Sendable {
    public var policies: Int
    public var policiesWithIssues: Int
    public var resources: Int
    public var resourcesWithIssues: Int
    /// Stacks that reported at least once.
    public var stacksEvaluated: Int

    public init(policies: Int, policiesWithIssues: Int, resources: Int, resourcesWithIssues: Int, stacksEvaluated: Int)
    {
        self.policies = policies
        self.policiesWithIssues = policiesWithIssues
        self.resources = resources
        self.resourcesWithIssues = resourcesWithIssues
        self.stacksEvaluated = stacksEvaluated
    }
}

/// A violation of a stack's newest evaluation.
public struct CurrentViolation: Hashable, Sendable {
    public var id: String
    public var stack: StackReference
    public var updateVersion: Int64
    public var violation: ReportedViolation
    public var resource: ResourceParts
    public var observedAt: Date

    public init(
        id: String, stack: StackReference, updateVersion: Int64, violation: ReportedViolation,
        resource: ResourceParts, observedAt: Date
    ) {
        self.id = id
        self.stack = stack
        self.updateVersion = updateVersion
        self.violation = violation
        self.resource = resource
        self.observedAt = observedAt
    }
}

/// Keyset position in the violations list: newest first.
public struct ViolationCursor: PageCursor, Hashable, Sendable {
    public var time: Int64
    public var id: String

    public init(time: Int64, id: String) {
        self.time = time
        self.id = id
    }
}

/// A group as drift detection needs it: whom it lists and which pack versions it applies.
public struct GroupApplication: Hashable, Sendable {
    public var name: String
    public var isOrgDefault: Bool
    public var mode: PolicyGroupMode
    public var stacks: [StackReference]
    /// Pack name to the version it applies.
    public var packs: [String: AppliedVersion]

    public init(
        name: String, isOrgDefault: Bool, mode: PolicyGroupMode, stacks: [StackReference],
        packs: [String: AppliedVersion]
    ) {
        self.name = name
        self.isOrgDefault = isOrgDefault
        self.mode = mode
        self.stacks = stacks
        self.packs = packs
    }
}

public struct AppliedVersion: Hashable, Sendable {
    public var number: Int
    public var tag: String?

    public init(number: Int, tag: String?) {
        self.number = number
        self.tag = tag
    }

    /// What a report names this version by: its tag, or its number.
    public var label: String { tag.flatMap { $0.isEmpty ? nil : $0 } ?? String(number) }

    public func matches(_ reported: String) -> Bool { reported == label || reported == String(number) }
}

/// What policies found: evaluations of stacks, the issues they open and close, compliance.
public protocol ResultsStore: Sendable {
    /// Stores an evaluation in one transaction. When it is the stack's newest, it replaces the stack's tallies
    /// and applies `record.changes(to:)` to its issues; an older one is kept for the record only. Returns
    /// false when this (stack, version) was recorded with the same digest; throws a conflict for another digest.
    func recordEvaluation(_ record: EvaluationRecord) async throws -> Bool
    /// Every group of the organization with its stacks and applied versions, in two queries.
    func groupApplications(organization: String) async throws -> [GroupApplication]

    func issues(organization: String, scope: IssueScope, query: GridQuery<IssueColumn>) async throws -> IssuePage
    /// The values of `column` among the issues `filter` selects, most frequent first.
    func issueValues(
        organization: String, scope: IssueScope, column: IssueColumn, filter: GridFilter<IssueColumn>?, limit: Int
    ) async throws -> [GroupCount]
    func issue(organization: String, id: String) async throws -> PolicyIssueRecord?
    /// Applies a triage change; throws not-found for an unknown issue, invalid for an assignee not in the org.
    func updateIssue(organization: String, id: String, change: IssueChange, at time: Date, audit: AuditEvent?)
        async throws -> PolicyIssueRecord

    func policyCompliance(organization: String, query: GridQuery<PolicyComplianceColumn>) async throws -> (
        rows: [PolicyComplianceRecord], total: Int
    )
    /// Stacks that reported or that a group lists by project, ordered by project and name, after `after`.
    func stackEvaluations(organization: String, after: StackReference?, limit: Int) async throws
        -> [StackEvaluationSummary]
    /// One stack's newest evaluation, or nil for a stack that neither reported nor is listed by project.
    func stackEvaluation(organization: String, stack: StackReference) async throws -> StackEvaluationSummary?
    /// Every pack's (governed, failing) pairs per severity.
    func packSeverityTotals(organization: String) async throws -> [String: [PolicySeverity?: PairCount]]
    /// Pack names that any stack's newest evaluation ran, sorted.
    func evaluatedPacks(organization: String) async throws -> [String]
    func resultsTotals(organization: String) async throws -> ResultsTotals
    func currentViolations(organization: String, after: ViolationCursor?, limit: Int) async throws
        -> [CurrentViolation]
}
