import Foundation

/// Where a compliance page resumes: after this stack, or after this many rows.
struct ComplianceCursor: PageCursor, Hashable {
    var project: String?
    var stack: String?
    var offset: Int?

    init(project: String? = nil, stack: String? = nil, offset: Int? = nil) {
        self.project = project
        self.stack = stack
        self.offset = offset
    }
}

extension PolicyResultsService {
    /// Scores by stack (columns: packs), by severity (rows: packs) or by account (none here).
    public func compliance(
        organization: Name, entity: String?, continuationToken: String?, size: Int?, caller: Principal
    ) async throws -> ComplianceTable {
        let org = organization.text
        try await authorizer.require(.readPolicyResults, in: org, target: "policy compliance", caller: caller)
        guard let entity = ComplianceEntity(rawValue: entity ?? "stack") else {
            throw RegistryError.invalid(
                "Invalid entity '\(entity ?? "")': it must be stack, account or severity.",
                details: [.init(resource: "request", attribute: "entity", errorType: .invalid)])
        }
        // Pulumi's SDK always sends a size, 0 when the caller gave none.
        let limit = try Self.pageSize(size == 0 ? nil : size)
        let cursor = try continuationToken.flatMap { $0.isEmpty ? nil : $0 }.map(ComplianceCursor.init(token:))
        switch entity {
        case .account:
            return ComplianceTable(columns: try await store.evaluatedPacks(organization: org), rows: [])
        case .severity:
            let totals = try await store.packSeverityTotals(organization: org)
            let packs = totals.keys.sorted()
            let start = cursor?.offset ?? 0
            let page = packs.dropFirst(start).prefix(limit)
            let rows = page.map { pack in
                ComplianceTable.Row(
                    entity: pack,
                    scores: Compliance.severityColumns.map { severity in
                        guard let count = totals[pack]?[severity], count.governed > 0 else {
                            return Compliance.notApplicable
                        }
                        return Compliance.percent(passing: count.governed - count.failing, of: count.governed)
                    }, evaluation: nil, drift: [])
            }
            let next = start + page.count < packs.count ? ComplianceCursor(offset: start + page.count).token : nil
            return ComplianceTable(
                columns: Compliance.severityColumns.map { $0?.rawValue ?? "unspecified" }, rows: rows,
                continuationToken: next)
        case .stack:
            let columns = try await store.evaluatedPacks(organization: org)
            let applications = GroupApplications(try await store.groupApplications(organization: org))
            let after = cursor.flatMap { cursor in
                cursor.project.flatMap { project in cursor.stack.map { StackReference(project: project, name: $0) } }
            }
            let summaries = try await store.stackEvaluations(organization: org, after: after, limit: limit + 1)
            let now = clock.now()
            let rows = summaries.prefix(limit).map { summary in
                ComplianceTable.Row(
                    entity: "\(summary.stack.project)/\(summary.stack.name)",
                    scores: columns.map { pack in
                        guard let count = summary.packTotals[pack], count.governed > 0 else {
                            return Compliance.notApplicable
                        }
                        return Compliance.percent(passing: count.governed - count.failing, of: count.governed)
                    }, evaluation: summary,
                    drift: applications.drift(of: summary, now: now, staleAfter: settings.staleAfter))
            }
            let next =
                summaries.count > limit
                ? rows.last?.evaluation.map { ComplianceCursor(project: $0.stack.project, stack: $0.stack.name).token }
                : nil
            return ComplianceTable(columns: columns, rows: Array(rows), continuationToken: next)
        }
    }

    /// Compliance per (group, pack, policy), as a grid.
    public func policies(organization: Name, request: GridRequestInput, caller: Principal) async throws -> (
        rows: [PolicyComplianceRecord], total: Int
    ) {
        try await authorizer.require(
            .readPolicyResults, in: organization.text, target: "policy compliance", caller: caller)
        let query = try GridQuery<PolicyComplianceColumn>(
            request,
            defaultSort: [GridSort(.percentCompliant, ascending: true), GridSort(.failingResources, ascending: false)])
        return try await store.policyCompliance(organization: organization.text, query: query)
    }

    /// A stack's newest evaluation: when it ran which packs, and what they found.
    public func stackEvaluation(organization: Name, stack: StackReference, caller: Principal) async throws
        -> StackEvaluationSummary?
    {
        try await authorizer.require(
            .readPolicyResults, in: organization.text, target: "\(stack.project)/\(stack.name)", caller: caller)
        return try await store.stackEvaluation(organization: organization.text, stack: stack)
    }

    public func totals(organization: Name, caller: Principal) async throws -> ResultsTotals {
        try await authorizer.require(
            .readPolicyResults, in: organization.text, target: "policy results", caller: caller)
        return try await store.resultsTotals(organization: organization.text)
    }

    /// The violations of every stack's newest evaluation, newest first.
    public func violations(organization: Name, continuationToken: String?, size: String?, caller: Principal)
        async throws -> (violations: [CurrentViolation], continuationToken: String?)
    {
        try await authorizer.require(
            .readPolicyResults, in: organization.text, target: "policy violations", caller: caller)
        var limit = Self.pageSize
        if let size {
            guard let number = Int(size) else {
                throw RegistryError.invalid(
                    "Invalid size '\(size)': it must be an integer from 1 to \(Self.maxPageSize).",
                    details: [.init(resource: "request", attribute: "size", errorType: .invalid)])
            }
            limit = try Self.pageSize(number)
        }
        let cursor = try continuationToken.flatMap { $0.isEmpty ? nil : $0 }.map(ViolationCursor.init(token:))
        let rows = try await store.currentViolations(organization: organization.text, after: cursor, limit: limit + 1)
        let page = Array(rows.prefix(limit))
        let next =
            rows.count > limit
            ? page.last.map { ViolationCursor(time: $0.observedAt.milliseconds, id: $0.id).token } : nil
        return (page, next)
    }

    static func pageSize(_ size: Int?) throws(RegistryError) -> Int {
        guard let size else { return pageSize }
        guard (1...maxPageSize).contains(size) else {
            throw RegistryError.invalid(
                "Invalid size \(size): it must be from 1 to \(maxPageSize).",
                details: [.init(resource: "request", attribute: "size", errorType: .invalid)])
        }
        return size
    }
}
