import Foundation
import OpenAPIRuntime
import PolicyHubAPI
import PolicyHubCore

extension APIHandler {
    /// The generated protocol's form of the operation. `PolicyResultsReportRoute` serves its route, reading the
    /// large body without the generated decoding; this one answers the same for any other transport.
    func updateStackPolicyResults(
        _ input: Operations.UpdateStackPolicyResults.Input
    ) async throws -> Operations.UpdateStackPolicyResults.Output {
        guard case .json(let body) = input.body else { throw RegistryError.invalid("The body must be JSON.") }
        let report = PolicyReportInput(
            updateVersion: input.path.version, claimID: body.claimId, succeeded: body.results.succeeded,
            violations: (body.results.violations ?? []).map {
                .init(
                    message: $0.message, policyName: $0.policyName, policyPackName: $0.policyPackName,
                    policyPackVersion: $0.policyPackVersion, enforcementLevel: $0.enforcementLevel, kind: $0.kind,
                    resourceURN: $0.resourceURN)
            },
            evaluations: body.results.evaluations?.map {
                .init(
                    resourceURN: $0.resourceURN, policyPackName: $0.policyPackName,
                    policyPackVersion: $0.policyPackVersion, passed: $0.passed ?? [], failed: $0.failed ?? [])
            })
        let receipt = try await results.report(
            organization: try PathName.organization(input.path.orgName),
            stack: try PathName.stack(project: input.path.projectName, name: input.path.stackName), input: report,
            caller: try RequestInfo.caller())
        return .ok(
            .init(
                body: .json(
                    .init(
                        recorded: receipt.recorded, violations: receipt.violations,
                        unknownPolicyPacks: receipt.unknownPacks))))
    }

    func listPolicyIssues(_ input: Operations.ListPolicyIssues.Input) async throws -> Operations.ListPolicyIssues.Output
    {
        let request = Self.gridRequest(input.body.flatMap { if case .json(let body) = $0 { body } else { nil } })
        let page = try await results.issues(
            organization: try PathName.organization(input.path.orgName), scope: try Self.scope(input.query.closed),
            request: request, caller: try RequestInfo.caller())
        let groups: Components.Schemas.ListPolicyIssuesResponse.GroupDataPayload =
            try request.groupBy.isEmpty || page.issues.count > 0
            ? []
            : page.groups.map { group in
                let field = request.groupBy[request.groupKeys.count]
                return Components.Schemas.ListPolicyIssuesResponse.GroupDataPayloadPayload(
                    additionalProperties: try OpenAPIObjectContainer(
                        unvalidatedValue: [field: group.value, "count": group.count]))
            }
        return .ok(
            .init(
                body: .json(
                    .init(
                        policyIssues: page.issues.map(Components.Schemas.PolicyIssue.init), groupData: groups,
                        rowCount: page.rowCount))))
    }

    func getPolicyIssuesFilters(
        _ input: Operations.GetPolicyIssuesFilters.Input
    ) async throws -> Operations.GetPolicyIssuesFilters.Output {
        guard case .json(let body) = input.body else { throw RegistryError.invalid("The body must be JSON.") }
        let values = try await results.issueValues(
            organization: try PathName.organization(input.path.orgName), scope: try Self.scope(input.query.closed),
            field: body.field, filter: body.filterModel.map(Self.condition), caller: try RequestInfo.caller())
        return .ok(
            .init(body: .json(.init(field: body.field, values: values.map { .init(name: $0.value, count: $0.count) }))))
    }

    func exportPolicyIssues(
        _ input: Operations.ExportPolicyIssues.Input
    ) async throws -> Operations.ExportPolicyIssues.Output {
        let request = Self.gridRequest(input.body.flatMap { if case .json(let body) = $0 { body } else { nil } })
        let pages = try await results.allIssues(
            organization: try PathName.organization(input.path.orgName), scope: try Self.scope(input.query.closed),
            request: request, caller: try RequestInfo.caller())
        let header = IssueCSV.header
        let rows = pages.map { page in ArraySlice(page.map(IssueCSV.line).joined().utf8) }
        let stream = AsyncThrowingStream<ArraySlice<UInt8>, any Error> { continuation in
            let task = Task {
                continuation.yield(ArraySlice(header.utf8))
                do {
                    for try await chunk in rows { continuation.yield(chunk) }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
        let body = HTTPBody(stream, length: .unknown, iterationBehavior: .single)
        // Pulumi's SDK asks for text/plain; a client that names text/csv (and not text/plain) gets that. Without an
        // Accept header the generated layer lists every type.
        let accepted = input.headers.accept.map(\.contentType)
        let wantsCSV = accepted.contains(.csv) && !accepted.contains(.plainText)
        return .ok(.init(body: wantsCSV ? .csv(body) : .plainText(body)))
    }

    func getPolicyIssue(_ input: Operations.GetPolicyIssue.Input) async throws -> Operations.GetPolicyIssue.Output {
        let detail = try await results.issue(
            organization: try PathName.organization(input.path.orgName), id: input.path.issueId,
            caller: try RequestInfo.caller())
        return .ok(.init(body: .json(.init(detail))))
    }

    func updatePolicyIssue(_ input: Operations.UpdatePolicyIssue.Input) async throws
        -> Operations.UpdatePolicyIssue.Output
    {
        guard case .json(let body) = input.body else { throw RegistryError.invalid("The body must be JSON.") }
        var change = IssueChange()
        if let status = body.status {
            guard let parsed = IssueStatus(rawValue: status) else {
                throw Self.badField("status", status, IssueStatus.allCases.map(\.rawValue))
            }
            change.status = parsed
        }
        if let priority = body.priority {
            guard let parsed = IssuePriority(rawValue: priority) else {
                throw Self.badField("priority", priority, IssuePriority.allCases.map(\.rawValue))
            }
            change.priority = parsed
        }
        if let assignee = body.assignedTo { change.assignee = .some(assignee.isEmpty ? nil : assignee) }
        let detail = try await results.updateIssue(
            organization: try PathName.organization(input.path.orgName), id: input.path.issueId, change: change,
            caller: try RequestInfo.caller())
        return .ok(.init(body: .json(.init(detail))))
    }

    func getPolicyComplianceResults(
        _ input: Operations.GetPolicyComplianceResults.Input
    ) async throws -> Operations.GetPolicyComplianceResults.Output {
        let body = input.body.flatMap { if case .json(let body) = $0 { body } else { nil } }
        let table = try await results.compliance(
            organization: try PathName.organization(input.path.orgName), entity: body?.entity,
            continuationToken: body?.continuationToken, size: body?.size, caller: try RequestInfo.caller())
        let rows = table.rows.map { row in
            Components.Schemas.PolicyComplianceResult(
                entityName: row.entity, scores: row.scores, lastEvaluatedAt: row.evaluation?.evaluatedAt,
                lastUpdateVersion: row.evaluation?.updateVersion.map(Int.init),
                drift: row.evaluation == nil
                    ? nil
                    : row.drift.map {
                        .init(
                            kind: .init(rawValue: $0.kind.rawValue) ?? .stale, policyPack: $0.pack,
                            reportedVersion: $0.reportedVersion, requiredVersion: $0.requiredVersion,
                            message: $0.message)
                    })
        }
        return .ok(
            .init(body: .json(.init(columns: table.columns, rows: rows, continuationToken: table.continuationToken))))
    }

    func listPoliciesCompliance(
        _ input: Operations.ListPoliciesCompliance.Input
    ) async throws -> Operations.ListPoliciesCompliance.Output {
        let request = Self.gridRequest(input.body.flatMap { if case .json(let body) = $0 { body } else { nil } })
        let page = try await results.policies(
            organization: try PathName.organization(input.path.orgName), request: request,
            caller: try RequestInfo.caller())
        let rows = page.rows.map { row in
            Components.Schemas.PolicyComplianceRow(
                policyName: row.policyName, severity: row.severity?.rawValue ?? "",
                failingResources: row.failing, governedResources: row.governed,
                percentCompliant: row.percentCompliant, policyPack: row.packName, policyGroupName: row.groupName,
                policyGroupType: .init(rawValue: (row.groupMode ?? .preventative).rawValue) ?? .preventative)
        }
        return .ok(.init(body: .json(.init(policies: rows, totalCount: page.total))))
    }

    func getPolicyResultsMetadata(
        _ input: Operations.GetPolicyResultsMetadata.Input
    ) async throws -> Operations.GetPolicyResultsMetadata.Output {
        let totals = try await results.totals(
            organization: try PathName.organization(input.path.orgName), caller: try RequestInfo.caller())
        return .ok(
            .init(
                body: .json(
                    .init(
                        policyTotalCount: totals.policies, policyWithIssuesCount: totals.policiesWithIssues,
                        resourcesTotalCount: totals.resources, resourcesWithIssuesCount: totals.resourcesWithIssues))))
    }

    func listPolicyViolationsV2(
        _ input: Operations.ListPolicyViolationsV2.Input
    ) async throws -> Operations.ListPolicyViolationsV2.Output {
        .ok(
            .init(
                body: .json(
                    try await violationsPage(
                        input.path.orgName, input.query.continuationToken, input.query.size))))
    }

    func listPolicyViolationsV2Post(
        _ input: Operations.ListPolicyViolationsV2Post.Input
    ) async throws -> Operations.ListPolicyViolationsV2Post.Output {
        .ok(
            .init(
                body: .json(
                    try await violationsPage(
                        input.path.orgName, input.query.continuationToken, input.query.size))))
    }

    private func violationsPage(_ organization: String, _ token: String?, _ size: String?) async throws
        -> Components.Schemas.ListPolicyViolationsV2Response
    {
        let page = try await results.violations(
            organization: try PathName.organization(organization), continuationToken: token, size: size,
            caller: try RequestInfo.caller())
        let violations = page.violations.map { current in
            Components.Schemas.PolicyViolationV2(
                id: current.id, projectName: current.stack.project, stackName: current.stack.name,
                stackVersion: Int(current.updateVersion), policyPack: current.violation.packName,
                policyPackTag: current.violation.packVersion, policyName: current.violation.policyName,
                resourceURN: current.violation.resourceURN, resourceType: current.resource.type,
                resourceName: current.resource.name, message: current.violation.message,
                observedAt: current.observedAt, level: current.violation.level.rawValue,
                kind: .init(rawValue: current.violation.kind.rawValue) ?? .preventative)
        }
        return .init(policyViolations: violations, continuationToken: page.continuationToken)
    }

    // MARK: - Translation

    static func scope(_ closed: String?) throws(RegistryError) -> IssueScope {
        switch closed?.lowercased() {
        case nil, "", "false": .open
        case "true": .closed
        case "all": .all
        case let other?: throw badField("closed", other, ["true", "false", "all"])
        }
    }

    static func badField(_ field: String, _ value: String, _ allowed: [String]) -> RegistryError {
        RegistryError.invalid(
            "Invalid \(field) '\(value.prefix(100))': it must be one of \(allowed.joined(separator: ", ")).",
            details: [.init(resource: "request", attribute: field, errorType: .invalid)])
    }

    static func gridRequest(_ body: Components.Schemas.AngularGridGetRowsRequest?) -> GridRequestInput {
        GridRequestInput(
            startRow: body?.startRow, endRow: body?.endRow, filter: body?.filterModel.map(condition),
            sort: (body?.sortModel ?? []).map { (colId: $0.colId, sort: $0.sort) },
            groupBy: (body?.rowGroupCols ?? []).map { $0.field ?? $0.id ?? "" }, groupKeys: body?.groupKeys ?? [])
    }

    static func condition(_ model: Components.Schemas.AngularGridFilterModel) -> GridRequestInput.Condition {
        GridRequestInput.Condition(
            colId: model.colId, filterType: model.filterType, type: model._type, filter: model.filter,
            conditions: model.conditions?.map(condition))
    }
}

/// The CSV of an issue export: one header line, then one line per issue, RFC 4180 quoting.
enum IssueCSV {
    static let columns = [
        "id", "status", "priority", "severity", "level", "kind", "project", "stack", "policyPack", "policyPackTag",
        "policyName", "resourceURN", "resourceType", "resourceName", "message", "assignedTo", "policyGroupName",
        "stackVersion", "firstObservedAt", "observedAt", "lastModified",
    ]

    static var header: String { columns.joined(separator: ",") + "\r\n" }

    static func line(_ issue: PolicyIssueRecord) -> String {
        let time = ISO8601DateFormatter()
        let fields = [
            issue.id, issue.status.rawValue, issue.priority?.rawValue ?? "", issue.severity?.rawValue ?? "",
            issue.level.rawValue, issue.kind.rawValue, issue.stack.project, issue.stack.name, issue.key.packName,
            issue.packVersion, issue.key.policyName, issue.key.resourceURN, issue.resource.type, issue.resource.name,
            issue.message, issue.assignee?.login ?? "", issue.groupName ?? "", String(issue.stackVersion),
            time.string(from: issue.firstObservedAt), time.string(from: issue.observedAt),
            time.string(from: issue.lastModified),
        ]
        return fields.map(field).joined(separator: ",") + "\r\n"
    }

    /// Quotes when needed, and defuses text a spreadsheet would run as a formula.
    static func field(_ value: String) -> String {
        var text = value
        if let first = text.first, "=+-@\t\r".contains(first) { text = "'" + text }
        guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}

// MARK: - Conversions from the domain

extension Components.Schemas.PolicyIssue {
    init(_ issue: PolicyIssueRecord) {
        self.init(
            id: issue.id, entityType: .stack, entityProject: issue.stack.project, entityId: issue.stack.name,
            stackVersion: Int(issue.stackVersion), policyPack: issue.key.packName, policyPackTag: issue.packVersion,
            policyName: issue.key.policyName, resourceURN: issue.key.resourceURN,
            resourceProvider: issue.resource.provider, resourceType: issue.resource.type,
            resourceName: issue.resource.name, message: issue.message, observedAt: issue.observedAt,
            lastModified: issue.lastModified, level: issue.level.rawValue, severity: issue.severity?.rawValue ?? "",
            status: .init(rawValue: issue.status.rawValue) ?? .open,
            kind: .init(rawValue: issue.kind.rawValue) ?? .preventative,
            priority: .init(rawValue: (issue.priority ?? IssuePriority(severity: issue.severity)).rawValue) ?? .p4,
            assignedTo: issue.assignee.map { .init(name: $0.displayName, githubLogin: $0.login, avatarUrl: "") },
            policyGroupName: issue.groupName, policyGroupType: issue.groupMode.flatMap { .init(rawValue: $0.rawValue) },
            firstObservedAt: issue.firstObservedAt, unknownPolicyPack: issue.unknownPack)
    }
}

extension Components.Schemas.GetPolicyIssueResponse {
    init(_ detail: IssueDetail) {
        self.init(
            policyIssue: .init(detail.issue), policy: detail.policy.map(Components.Schemas.AppPolicy.init),
            policyPack: detail.pack.map(Components.Schemas.RegistryPolicyPack.init))
    }
}
