import Foundation

/// Where an issue is in its triage. Open and in-progress issues are open; the others are closed.
public enum IssueStatus: String, CaseIterable, Codable, Hashable, Sendable {
    case open
    case inProgress = "in_progress"
    case byDesign = "by_design"
    case fixed
    case ignored

    public var isClosed: Bool { self == .fixed || self == .ignored || self == .byDesign }

    /// The status after a newer evaluation reports the violation again: a fix that did not hold reopens;
    /// a person's decision that it is acceptable (ignored, by design) stands.
    public var reportedAgain: IssueStatus { self == .fixed ? .open : self }
}

public enum IssuePriority: String, CaseIterable, Codable, Hashable, Sendable {
    case p0, p1, p2, p3, p4

    /// An untriaged issue's priority, from its policy's severity: critical p0 down to unknown p4.
    public init(severity: PolicySeverity?) {
        switch severity {
        case .critical: self = .p0
        case .high: self = .p1
        case .medium: self = .p2
        case .low: self = .p3
        case nil: self = .p4
        }
    }
}

/// Which issues a list asks for.
public enum IssueScope: Hashable, Sendable {
    case open, closed, all
}

/// One (stack, resource, pack, policy) violation and its triage, as stored.
public struct PolicyIssueRecord: Hashable, Sendable {
    public var id: String
    public var stack: StackReference
    public var key: IssueKey
    /// The update and pack version that last reported it.
    public var stackVersion: Int64
    public var packVersion: String
    public var resource: ResourceParts
    public var message: String
    public var level: EnforcementLevel
    public var severity: PolicySeverity?
    public var status: IssueStatus
    public var kind: IssueKind
    public var priority: IssuePriority?
    public var assignee: Assignee?
    public var groupName: String?
    public var groupMode: PolicyGroupMode?
    public var firstObservedAt: Date
    public var observedAt: Date
    public var lastModified: Date
    /// The pack version it was reported with is not published in the organization.
    public var unknownPack: Bool

    public struct Assignee: Hashable, Sendable {
        public var login: String
        public var displayName: String

        public init(login: String, displayName: String) {
            self.login = login
            self.displayName = displayName
        }
    }

    public init(
        id: String, stack: StackReference, key: IssueKey, stackVersion: Int64, packVersion: String,
        resource: ResourceParts, message: String, level: EnforcementLevel, severity: PolicySeverity?,
        status: IssueStatus, kind: IssueKind, priority: IssuePriority?, assignee: Assignee?, groupName: String?,
        groupMode: PolicyGroupMode?, firstObservedAt: Date, observedAt: Date, lastModified: Date, unknownPack: Bool
    ) {
        self.id = id
        self.stack = stack
        self.key = key
        self.stackVersion = stackVersion
        self.packVersion = packVersion
        self.resource = resource
        self.message = message
        self.level = level
        self.severity = severity
        self.status = status
        self.kind = kind
        self.priority = priority
        self.assignee = assignee
        self.groupName = groupName
        self.groupMode = groupMode
        self.firstObservedAt = firstObservedAt
        self.observedAt = observedAt
        self.lastModified = lastModified
        self.unknownPack = unknownPack
    }
}

/// The parts of a resource's URN an issue shows; all empty for a stack policy.
public struct ResourceParts: Hashable, Sendable {
    public var type: String
    public var name: String
    public var provider: String

    public init(type: String, name: String, provider: String) {
        self.type = type
        self.name = name
        self.provider = provider
    }

    public init(urn: String) {
        let parsed = ResourceURN(urn)
        self.init(type: parsed?.type ?? "", name: parsed?.name ?? "", provider: parsed?.provider ?? "")
    }
}

/// A triage change; nil fields stay as they are.
public struct IssueChange: Hashable, Sendable {
    public var status: IssueStatus?
    public var priority: IssuePriority?
    /// `.some(nil)` unassigns.
    public var assignee: String??

    public init(status: IssueStatus? = nil, priority: IssuePriority? = nil, assignee: String?? = nil) {
        self.status = status
        self.priority = priority
        self.assignee = assignee
    }
}

/// A reported violation with what the server knows about it: the policy's severity and the group that applies
/// its pack to the stack.
public struct Finding: Hashable, Sendable {
    public var violation: ReportedViolation
    public var resource: ResourceParts
    public var severity: PolicySeverity?
    public var groupName: String?
    public var groupMode: PolicyGroupMode?
    public var unknownPack: Bool
}

/// How many resources one policy governed in one evaluation of a stack, and how many failed it.
public struct PolicyTally: Hashable, Sendable {
    public var packName: String
    public var packVersion: String
    public var policyName: String
    public var severity: PolicySeverity?
    public var groupName: String
    public var groupMode: PolicyGroupMode?
    public var governed: Int
    public var failing: Int
}

/// An issue as the lifecycle sees it.
public struct ExistingIssue: Hashable, Sendable {
    public var id: String
    public var key: IssueKey
    public var status: IssueStatus

    public init(id: String, key: IssueKey, status: IssueStatus) {
        self.id = id
        self.key = key
        self.status = status
    }
}

/// What a newer evaluation of a stack does to the stack's issues.
public struct IssueChanges: Sendable {
    public var opened: [Finding] = []
    /// Reported again: each keeps its ID and takes the status given.
    public var observed: [(id: String, finding: Finding, status: IssueStatus)] = []
    public var fixed: [String] = []
}

/// One evaluation of a stack ready to store: the report, what it found, what it counted and which open issues
/// it shows fixed.
public struct EvaluationRecord: Sendable {
    public var organization: String
    public var report: PolicyReport
    public var reporter: String
    public var receivedAt: Date
    /// SHA-256 of the report's content: the same (stack, version) with another digest is a conflict.
    public var digest: String
    public var findings: [Finding]
    public var tallies: [PolicyTally]
    /// Distinct resources the evaluation looked at.
    public var resourceCount: Int
    /// Pack name to the version it ran.
    public var packsRun: [String: String]
    public var unknownPacks: [String]
    public var fixRule: FixRule

    /// What this evaluation does to the stack's issues when it is the stack's newest. `existing` holds at least the
    /// stack's open issues and its closed issues with a key this evaluation reports; other closed issues are left
    /// as they are whether given or not.
    public func changes(to existing: [ExistingIssue]) -> IssueChanges {
        var changes = IssueChanges()
        let byKey = Dictionary(existing.map { ($0.key, $0) }, uniquingKeysWith: { first, _ in first })
        var reported = Set<IssueKey>()
        for finding in findings {
            let key = finding.violation.issueKey
            guard reported.insert(key).inserted else { continue }
            if let issue = byKey[key] {
                changes.observed.append((issue.id, finding, issue.status.reportedAgain))
            } else {
                changes.opened.append(finding)
            }
        }
        for issue in existing
        where !issue.status.isClosed && !reported.contains(issue.key) && fixRule.showsFixed(issue.key) {
            changes.fixed.append(issue.id)
        }
        return changes
    }
}

/// When an evaluation shows that an issue it did not report is gone.
public struct FixRule: Hashable, Sendable {
    /// The policies that passed on each resource a pack was evaluated on; nil when the reporter sent no
    /// evaluations.
    public var passed: [PackResource: [String]]?
    /// Packs known to have run over the whole stack: those of a completed run.
    public var completedPacks: Set<String>

    public init(passed: [PackResource: [String]]?, completedPacks: Set<String>) {
        self.passed = passed
        self.completedPacks = completedPacks
    }

    /// Fixed when the policy ran on the resource and passed, or when a completed run of the pack no longer
    /// has the resource. Without evaluations, a completed run of the pack that did not report it.
    public func showsFixed(_ key: IssueKey) -> Bool {
        let evaluated = passed?[PackResource(packName: key.packName, resourceURN: key.resourceURN)]
        if evaluated?.contains(key.policyName) == true { return true }
        guard completedPacks.contains(key.packName) else { return false }
        return passed == nil || evaluated == nil
    }
}
