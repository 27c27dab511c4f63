import Crypto
import Foundation
import Logging

/// What a report did.
public struct ReportReceipt: Hashable, Sendable {
    /// False when the same report had been recorded already.
    public var recorded: Bool
    public var violations: Int
    /// `name@version` of the reported pack versions not published in the organization.
    public var unknownPacks: [String]
}

/// An issue with the policy and pack version it concerns, when they are published here.
public struct IssueDetail: Hashable, Sendable {
    public var issue: PolicyIssueRecord
    public var policy: Policy?
    public var pack: RegistryEntry?
}

/// A page of compliance scores: one row per entity, one score per column.
public struct ComplianceTable: Hashable, Sendable {
    public struct Row: Hashable, Sendable {
        public var entity: String
        public var scores: [Int]
        public var evaluation: StackEvaluationSummary?
        public var drift: [PolicyDrift]
    }

    public var columns: [String]
    public var rows: [Row]
    public var continuationToken: String?
}

public enum ComplianceEntity: String, CaseIterable, Sendable {
    case stack, account, severity
}

/// Settings of the results room.
public struct ResultsSettings: Hashable, Sendable {
    public var limits: ReportLimits
    /// A stack whose newest report is older than this has drifted.
    public var staleAfter: TimeInterval

    public init(limits: ReportLimits = .init(), staleAfter: TimeInterval = 7 * 86_400) {
        self.limits = limits
        self.staleAfter = staleAfter
    }
}

/// Records what policies found and answers issues and compliance.
public struct PolicyResultsService: Sendable {
    public static let pageSize = 100
    public static let maxPageSize = 1_000

    let store: any ResultsStore
    let packs: any PackStore
    let authorizer: Authorizer
    let settings: ResultsSettings
    let clock: WallClock
    let logger: Logger

    public init(
        store: any ResultsStore, packs: any PackStore, authorizer: Authorizer, settings: ResultsSettings = .init(),
        clock: WallClock = .system, logger: Logger
    ) {
        self.store = store
        self.packs = packs
        self.authorizer = authorizer
        self.settings = settings
        self.clock = clock
        self.logger = logger
    }

    // MARK: - Ingestion

    /// Records one evaluation of a stack. Any member may report for any stack of the organization.
    public func report(organization: Name, stack: StackReference, input: PolicyReportInput, caller: Principal)
        async throws -> ReportReceipt
    {
        let org = organization.text
        try await authorizer.require(
            .reportPolicyResults, in: org, target: "\(stack.project)/\(stack.name)", caller: caller)
        let report = try PolicyReport(input, stack: stack, limits: settings.limits)
        let required = GroupApplications(try await store.groupApplications(organization: org)).required(for: stack)

        // The policies of each pack version the report names, from the registry (nil when not published here).
        var published: [String: [String: Policy]?] = [:]
        let named =
            report.violations.map { ($0.packName, $0.packVersion) }
            + (report.evaluations ?? []).map { ($0.packName, $0.packVersion) }
        for (pack, version) in named where published["\(pack)@\(version)"] == nil {
            published["\(pack)@\(version)"] = try await publishedPolicies(org, pack, version)
        }
        func policy(_ pack: String, _ version: String, _ name: String) -> Policy? {
            published["\(pack)@\(version)"]??[name]
        }
        let unknownPacks = published.filter { $0.value == nil }.keys.sorted()

        let findings = report.violations.map { violation in
            let group = required[violation.packName]?.group
            return Finding(
                violation: violation, resource: ResourceParts(urn: violation.resourceURN),
                severity: policy(violation.packName, violation.packVersion, violation.policyName)?.severity,
                groupName: group?.name, groupMode: group?.mode,
                unknownPack: published["\(violation.packName)@\(violation.packVersion)"] == .some(nil))
        }

        let coverage = EvaluationCoverage(report)
        let tallies = coverage.counts.map { count in
            let group = required[count.packName]?.group
            return PolicyTally(
                packName: count.packName, packVersion: count.packVersion, policyName: count.policyName,
                severity: policy(count.packName, count.packVersion, count.policyName)?.severity,
                groupName: group?.name ?? "", groupMode: group?.mode, governed: count.governed,
                failing: count.failing)
        }

        // A completed run covered every resource of the packs it ran; without evaluations, the packs the stack
        // must run are taken to have run too (they were fetched for it).
        var completedPacks = Set<String>()
        if report.succeeded {
            completedPacks = Set(coverage.packsRun.keys)
            if report.evaluations == nil { completedPacks.formUnion(required.keys) }
        }
        let record = EvaluationRecord(
            organization: org, report: report, reporter: caller.login, receivedAt: clock.now(),
            digest: Self.digest(of: report), findings: findings, tallies: tallies,
            resourceCount: coverage.resourceCount, packsRun: coverage.packsRun, unknownPacks: unknownPacks,
            fixRule: FixRule(passed: coverage.passed, completedPacks: completedPacks))
        let recorded = try await store.recordEvaluation(record)
        logger.info(
            "policy results",
            metadata: [
                "organization": "\(org)", "stack": "\(stack.project)/\(stack.name)",
                "update": "\(report.updateVersion)", "violations": "\(report.violations.count)",
                "recorded": "\(recorded)", "unknownPacks": "\(unknownPacks.joined(separator: ","))",
            ])
        return ReportReceipt(recorded: recorded, violations: report.violations.count, unknownPacks: unknownPacks)
    }

    /// The policies of a published, completed pack version by name, or nil when there is none.
    private func publishedPolicies(_ organization: String, _ pack: String, _ version: String) async throws
        -> [String: Policy]?
    {
        do {
            let found = try await packs.version(organization: organization, pack: pack, reference: version)
            guard found.status == .complete else { return nil }
            return Dictionary(found.draft.policies.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        } catch let error as RegistryError where error.kind == .notFound || error.kind == .invalid {
            return nil
        }
    }

    /// A digest of everything the report states, so a resend can be told from a different report.
    ///
    /// Each part is hashed as `LENGTH:TEXT` (lists joined with commas). Stored reports keep their digests, so
    /// these bytes must never change; they are gathered in one buffer because hashing them one by one was a
    /// tenth of a large report's time.
    static func digest(of report: PolicyReport) -> String {
        var hasher = SHA256()
        var buffer: [UInt8] = []
        buffer.reserveCapacity(1 << 16)
        func flushIfFull() {
            guard buffer.count >= 1 << 15 else { return }
            buffer.withUnsafeBytes { hasher.update(bufferPointer: $0) }
            buffer.removeAll(keepingCapacity: true)
        }
        func add(_ parts: String...) {
            for part in parts {
                buffer.append(contentsOf: String(part.utf8.count).utf8)
                buffer.append(UInt8(ascii: ":"))
                buffer.append(contentsOf: part.utf8)
            }
            flushIfFull()
        }
        func add(joined list: [String]) {
            let length = list.reduce(max(0, list.count - 1)) { $0 + $1.utf8.count }
            buffer.append(contentsOf: String(length).utf8)
            buffer.append(UInt8(ascii: ":"))
            for (index, item) in list.enumerated() {
                if index > 0 { buffer.append(UInt8(ascii: ",")) }
                buffer.append(contentsOf: item.utf8)
            }
            flushIfFull()
        }
        add(report.claimID ?? "", report.succeeded ? "1" : "0")
        for violation in report.violations {
            add(
                violation.resourceURN, violation.packName, violation.packVersion, violation.policyName,
                violation.level.rawValue, violation.kind.rawValue, violation.message)
        }
        add(report.evaluations == nil ? "-" : "+")
        for evaluation in report.evaluations ?? [] {
            add(evaluation.resourceURN, evaluation.packName, evaluation.packVersion)
            add(joined: evaluation.passed)
            add(joined: evaluation.failed)
        }
        buffer.withUnsafeBytes { hasher.update(bufferPointer: $0) }
        return hasher.finalize().map { String(format: "%02x", $0) }.joined()
    }

    // MARK: - Issues

    public func issues(organization: Name, scope: IssueScope, request: GridRequestInput, caller: Principal)
        async throws -> IssuePage
    {
        try await require(.readPolicyResults, organization, "policy issues", caller)
        let query = try GridQuery<IssueColumn>(request, defaultSort: Self.issueOrder)
        return try await store.issues(organization: organization.text, scope: scope, query: query)
    }

    /// Every issue the request selects, in its order, a page at a time, for an export.
    public func allIssues(organization: Name, scope: IssueScope, request: GridRequestInput, caller: Principal)
        async throws -> AsyncThrowingStream<[PolicyIssueRecord], any Error>
    {
        try await require(.readPolicyResults, organization, "policy issues", caller)
        var base = try GridQuery<IssueColumn>(request, defaultSort: Self.issueOrder)
        base.groupBy = []
        base.groupKeys = []
        let (store, org, page, first) = (self.store, organization.text, GridQuery<IssueColumn>.maxPage, base)
        return AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    var query = first
                    var start = 0
                    while !Task.isCancelled {
                        query.startRow = start
                        query.endRow = start + page
                        let rows = try await store.issues(organization: org, scope: scope, query: query).issues
                        if !rows.isEmpty { continuation.yield(rows) }
                        if rows.count < page { break }
                        start += page
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    public func issueValues(
        organization: Name, scope: IssueScope, field: String, filter: GridRequestInput.Condition?, caller: Principal
    ) async throws -> [GroupCount] {
        try await require(.readPolicyResults, organization, "policy issues", caller)
        let column = try GridQuery<IssueColumn>.column(field, at: "field")
        let query = try GridQuery<IssueColumn>(GridRequestInput(filter: filter), defaultSort: Self.issueOrder)
        return try await store.issueValues(
            organization: organization.text, scope: scope, column: column,
            filter: query.filter?.removing(column), limit: Self.maxPageSize)
    }

    public func issue(organization: Name, id: String, caller: Principal) async throws -> IssueDetail {
        try await require(.readPolicyResults, organization, "policy issue \(id)", caller)
        guard let issue = try await store.issue(organization: organization.text, id: id) else {
            throw Self.issueNotFound(id)
        }
        return try await detail(of: issue, organization: organization, caller: caller)
    }

    /// Triage: admins only, audited.
    public func updateIssue(organization: Name, id: String, change: IssueChange, caller: Principal) async throws
        -> IssueDetail
    {
        try await require(.triagePolicyIssues, organization, "policy issue \(id)", caller)
        var parts: [String] = []
        if let status = change.status { parts.append("status=\(status.rawValue)") }
        if let priority = change.priority { parts.append("priority=\(priority.rawValue)") }
        if let assignee = change.assignee { parts.append("assignedTo=\(assignee ?? "")") }
        guard !parts.isEmpty else {
            throw RegistryError.invalid("Nothing to change: give status, priority or assignedTo.")
        }
        let now = clock.now()
        let issue = try await store.updateIssue(
            organization: organization.text, id: id, change: change, at: now,
            audit: caller.event(
                AuditAction.issueUpdated, in: organization.text, target: "\(id): \(parts.joined(separator: " "))",
                at: now))
        return try await detail(of: issue, organization: organization, caller: caller)
    }

    private func detail(of issue: PolicyIssueRecord, organization: Name, caller: Principal) async throws
        -> IssueDetail
    {
        guard !issue.unknownPack,
            let version = try? await packs.version(
                organization: organization.text, pack: issue.key.packName, reference: issue.packVersion),
            version.status == .complete
        else { return IssueDetail(issue: issue, policy: nil, pack: nil) }
        return IssueDetail(
            issue: issue, policy: version.draft.policies.first { $0.name == issue.key.policyName },
            pack: RegistryEntry(
                version: version, accessLevel: AccessLevel(caller.role(in: organization.text) ?? .member)))
    }

    static let issueOrder: [GridSort<IssueColumn>] = [GridSort(.observedAt, ascending: false)]

    static func issueNotFound(_ id: String) -> RegistryError {
        RegistryError(.notFound, "Policy issue '\(id)' not found")
    }

    private func require(_ permission: Permission, _ organization: Name, _ target: String, _ caller: Principal)
        async throws
    {
        try await authorizer.require(permission, in: organization.text, target: target, caller: caller)
    }
}
