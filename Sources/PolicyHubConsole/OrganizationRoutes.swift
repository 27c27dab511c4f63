import Foundation
import Hummingbird
import PolicyHubCore
import PolicyHubHTTP

/// An organization's overview: its packs, groups, latest policy results and, for admins, recent audit events.
struct OrganizationRoutes {
    let console: Console

    func register(on router: Router<BasicRequestContext>) {
        router.get("/orgs/:org") { request, context in try await overview(request, context: context) }
    }

    private func overview(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let visitor = try await console.visitor(request)
        let org = try PageName.organization(context)
        let caller = visitor.principal
        let services = console.services
        let packs = try await services.packs.list(organization: org, name: nil, caller: caller)
        let groups = try await services.groups.list(organization: org, caller: caller)
        let totals = try await services.results.totals(organization: org, caller: caller)
        let bySeverity = try await services.results.issueValues(
            organization: org, scope: .open, field: "severity", filter: nil, caller: caller)
        let page = Paging(request, total: packs.count)
        let groupPage = Paging(request, total: groups.count, parameter: "groups")
        var values: [String: Any] = [
            "packs": packs[page.range].map { pack -> [String: Any] in
                let latest = pack.versions.indices.last
                return [
                    "name": pack.name, "link": Links.pack(org.text, pack.name), "displayName": pack.displayName,
                    "latest": latest.map {
                        pack.versionTags[$0].isEmpty ? String(pack.versions[$0]) : pack.versionTags[$0]
                    }
                        ?? "",
                    "versions": pack.versions.count, "applied": !pack.appliedVersions.isEmpty,
                ]
            },
            "hasPacks": !packs.isEmpty, "paging": page.view(basePath: Links.organization(org.text)),
            "groups": groups[groupPage.range].map { group -> [String: Any] in
                [
                    "name": group.name, "link": Links.group(org.text, group.name), "mode": group.mode.rawValue,
                    "stacks": group.stackCount, "packs": group.packCount, "isDefault": group.isOrgDefault,
                ]
            },
            "groupPaging": groupPage.view(basePath: Links.organization(org.text)),
            "results": [
                "stacks": totals.stacksEvaluated, "resources": totals.resources,
                "resourcesWithIssues": totals.resourcesWithIssues,
                "policies": totals.policies, "policiesWithIssues": totals.policiesWithIssues,
                "severities": bySeverity.map {
                    ["severity": $0.value.isEmpty ? "unspecified" : $0.value, "count": $0.count]
                },
                "hasIssues": !bySeverity.isEmpty,
            ] as [String: Any],
            "complianceLink": Links.compliance(org.text),
            "isAdmin": visitor.isAdmin(of: org.text),
        ]
        if visitor.isAdmin(of: org.text) {
            let events = try await services.audit.events(
                organization: org, from: nil, to: nil, action: nil, continuationToken: nil, caller: caller
            ).events.prefix(10)
            values["events"] = events.map { event -> [String: Any] in
                [
                    "time": Formats.time(event.time), "actor": event.actor, "action": event.action,
                    "target": event.target,
                ]
            }
            values["hasEvents"] = !events.isEmpty
        }
        return console.pages.page("organization", values, frame: visitor.frame(org.text, organization: org.text))
    }
}
