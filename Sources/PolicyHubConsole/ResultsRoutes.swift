import Foundation
import Hummingbird
import PolicyHubCore
import PolicyHubHTTP

/// What policies found: a stack's required packs and latest results, and the organization's issues, filtered.
struct ResultsRoutes {
    let console: Console

    func register(on router: Router<BasicRequestContext>) {
        router.get("/orgs/:org/stacks/:project/:stack") { request, context in
            try await stack(request, context: context)
        }
        router.get("/orgs/:org/compliance") { request, context in try await compliance(request, context: context) }
    }

    private func stack(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let visitor = try await console.visitor(request)
        let (org, stack) = (try PageName.organization(context), try PageName.stack(context))
        let caller = visitor.principal
        let services = console.services
        let required = try await services.stacks.requiredPolicies(organization: org, stack: stack, caller: caller)
        let evaluation = try await services.results.stackEvaluation(organization: org, stack: stack, caller: caller)
        let filter = IssueFilter(stack: stack)
        let number = Paging.asked(request)
        let issues = try await services.results.issues(
            organization: org, scope: .open, request: filter.request(rows: Paging.rows(ofPage: number)),
            caller: caller)
        let page = Paging(number: number, total: issues.rowCount)
        let ran = evaluation?.packsRun ?? [:]
        let values: [String: Any] = [
            "stack": "\(stack.project)/\(stack.name)",
            "required": required.map { policy -> [String: Any] in
                let version = policy.version
                let reported = ran[version.name]
                return [
                    "name": version.name, "version": version.label,
                    "link": Links.pack(org.text, version.name, version: version.version),
                    "config": policy.config.flatMap { try? GroupRoutes.pretty(.object($0)) } ?? "",
                    "ran": reported ?? "", "hasRun": reported != nil,
                    "drifted": reported.map { $0 != version.label && $0 != String(version.version) } ?? false,
                ]
            },
            "hasRequired": !required.isEmpty,
            "evaluated": evaluation?.evaluatedAt.map(Formats.time) ?? "",
            "hasEvaluation": evaluation?.evaluatedAt != nil,
            "updateVersion": evaluation?.updateVersion.map(String.init) ?? "",
            "packTotals": (evaluation?.packTotals ?? [:]).keys.sorted().map { pack -> [String: Any] in
                let count = evaluation?.packTotals[pack] ?? PairCount(governed: 0, failing: 0)
                return [
                    "pack": pack, "governed": count.governed, "failing": count.failing,
                    "percent": Compliance.percent(passing: count.governed - count.failing, of: count.governed),
                ]
            },
            "issues": issues.issues.map { Self.issueView($0, org: org.text) }, "issueCount": issues.rowCount,
            "hasIssues": !issues.issues.isEmpty,
            "paging": page.view(basePath: Links.stack(org.text, stack)),
            "complianceLink": Links.compliance(org.text) + "?stack="
                + Links.queryEscaped("\(stack.project)/\(stack.name)"),
        ]
        return console.pages.page(
            "stack", values, frame: visitor.frame("\(stack.project)/\(stack.name)", organization: org.text))
    }

    private func compliance(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let visitor = try await console.visitor(request)
        let org = try PageName.organization(context)
        let caller = visitor.principal
        let results = console.services.results
        let query = request.uri.queryParameters
        func parameter(_ name: String) -> String? {
            query[Substring(name)].map(String.init).flatMap { $0.isEmpty ? nil : $0 }
        }
        var filter = IssueFilter(
            pack: parameter("pack"), policy: parameter("policy"), severity: parameter("severity"))
        if let text = parameter("stack") {
            let parts = text.split(separator: "/", maxSplits: 1).map(String.init)
            guard parts.count == 2 else {
                throw RegistryError.invalid("stack must be written project/stack, not '\(text)'.")
            }
            filter.stack = StackReference(project: parts[0], name: parts[1])
        }
        let state = parameter("state") ?? "open"
        let scope: IssueScope
        switch state {
        case "open": scope = .open
        case "closed": scope = .closed
        case "all": scope = .all
        default: throw RegistryError.invalid("state must be open, closed or all, not '\(state)'.")
        }
        let number = Paging.asked(request)
        let issues = try await results.issues(
            organization: org, scope: scope, request: filter.request(rows: Paging.rows(ofPage: number)),
            caller: caller)
        let page = Paging(number: number, total: issues.rowCount)
        func choices(_ field: String, chosen: String?) async throws -> String {
            let values = try await results.issueValues(
                organization: org, scope: scope, field: field, filter: nil, caller: caller)
            var names = values.map(\.value).filter { !$0.isEmpty }.sorted()
            if let chosen, !names.contains(chosen) { names.insert(chosen, at: 0) }
            return OptionList.html(names, selected: chosen)
        }
        let values: [String: Any] = [
            "packs": try await choices("policyPack", chosen: filter.pack),
            "policies": try await choices("policyName", chosen: filter.policy),
            "severities": try await choices("severity", chosen: filter.severity),
            "stackFilter": parameter("stack") ?? "",
            "states": OptionList.html(["open", "closed", "all"], selected: state),
            "issues": issues.issues.map { Self.issueView($0, org: org.text) },
            "issueCount": issues.rowCount == 1 ? "1 issue" : "\(issues.rowCount) issues",
            "hasIssues": !issues.issues.isEmpty,
            "paging": page.view(basePath: Links.compliance(org.text), query: filter.query(state: state)),
            "action": Links.compliance(org.text),
        ]
        return console.pages.page("compliance", values, frame: visitor.frame("Compliance", organization: org.text))
    }

    static func issueView(_ issue: PolicyIssueRecord, org: String) -> [String: Any] {
        [
            "stack": "\(issue.stack.project)/\(issue.stack.name)", "stackLink": Links.stack(org, issue.stack),
            "resource": issue.resource.name.isEmpty ? issue.key.resourceURN : issue.resource.name,
            "resourceType": issue.resource.type, "urn": issue.key.resourceURN,
            "pack": issue.key.packName, "packVersion": issue.packVersion, "policy": issue.key.policyName,
            // The policy's remediation steps are on its pack page, under its name.
            "policyLink": Links.pack(org, issue.key.packName) + "#policy-"
                + Links.pathEscaped(issue.key.policyName),
            "severity": issue.severity?.rawValue ?? "", "level": issue.level.rawValue, "status": issue.status.rawValue,
            "message": issue.message, "observed": Formats.time(issue.observedAt), "unknownPack": issue.unknownPack,
        ]
    }
}

/// The issue filters the console offers, as a grid request for the results service.
struct IssueFilter {
    var pack: String?
    var policy: String?
    var severity: String?
    var stack: StackReference?

    func request(rows: Range<Int>) -> GridRequestInput {
        var conditions: [GridRequestInput.Condition] = []
        func equals(_ column: String, _ value: String?) {
            guard let value else { return }
            conditions.append(.init(colId: column, filterType: "text", type: "equals", filter: value, conditions: nil))
        }
        equals("policyPack", pack)
        equals("policyName", policy)
        equals("severity", severity)
        equals("entityProject", stack?.project)
        equals("entityId", stack?.name)
        return GridRequestInput(
            startRow: rows.lowerBound, endRow: rows.upperBound,
            filter: conditions.isEmpty
                ? nil : .init(colId: nil, filterType: nil, type: "AND", filter: nil, conditions: conditions))
    }

    /// The filters as a query string, for the pager's links.
    func query(state: String) -> String {
        var parts: [String] = []
        for (name, value) in [("pack", pack), ("policy", policy), ("severity", severity)] {
            if let value { parts.append("\(name)=" + Links.queryEscaped(value)) }
        }
        if let stack { parts.append("stack=" + Links.queryEscaped("\(stack.project)/\(stack.name)")) }
        parts.append("state=" + state)
        return parts.joined(separator: "&")
    }
}
