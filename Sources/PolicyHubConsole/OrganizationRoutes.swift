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
            "groups": groups.map { group -> [String: Any] in
                [
                    "name": group.name, "link": Links.group(org.text, group.name), "mode": group.mode.rawValue,
                    "stacks": group.stackCount, "packs": group.packCount, "isDefault": group.isOrgDefault,
                ]
            },
            "results": [
                "resources": totals.resources, "resourcesWithIssues": totals.resourcesWithIssues,
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

/// Names from the console's paths, validated as the API validates them.
enum PageName {
    static func organization(_ context: BasicRequestContext) throws -> Name {
        try Name(try context.parameters.require("org"), field: "organization")
    }

    static func pack(_ context: BasicRequestContext) throws -> Name {
        try Name(try context.parameters.require("pack"), field: "policy pack")
    }

    static func group(_ context: BasicRequestContext) throws -> Name {
        try Name(try context.parameters.require("group"), field: "policy group")
    }

    static func stack(_ context: BasicRequestContext) throws -> StackReference {
        StackReference(
            project: try Name(try context.parameters.require("project"), field: "project"),
            name: try Name(try context.parameters.require("stack"), field: "stack"))
    }
}

/// The console's addresses, built in one place so that every name in a path is escaped.
enum Links {
    static func organization(_ org: String) -> String { "/orgs/" + SignInRoutes.pathEscaped(org) }

    static func pack(_ org: String, _ pack: String, version: Int? = nil) -> String {
        organization(org) + "/packs/" + SignInRoutes.pathEscaped(pack) + (version.map { "?version=\($0)" } ?? "")
    }

    static func group(_ org: String, _ group: String) -> String {
        organization(org) + "/groups/" + SignInRoutes.pathEscaped(group)
    }

    static func stack(_ org: String, _ stack: StackReference) -> String {
        organization(org) + "/stacks/" + SignInRoutes.pathEscaped(stack.project) + "/"
            + SignInRoutes.pathEscaped(stack.name)
    }

    static func compliance(_ org: String) -> String { organization(org) + "/compliance" }
}

/// Which slice of a long list a page shows: `?page=N`, 50 rows a page.
struct Paging {
    static let size = 50

    let number: Int
    let total: Int

    /// A page of a list of `total` rows: the one asked for, or the last.
    init(_ request: Request, total: Int) {
        let last = max(1, (total + Self.size - 1) / Self.size)
        number = min(Self.asked(request), last)
        self.total = total
    }

    /// The page asked for of a list the store pages, once the store has said how long it is.
    init(number: Int, total: Int) {
        self.number = number
        self.total = total
    }

    static func asked(_ request: Request) -> Int {
        // Bounded, so that no page number overflows the row arithmetic.
        min(max(1, request.uri.queryParameters["page"].flatMap { Int(String($0)) } ?? 1), 1_000_000)
    }

    /// The rows of page `number`.
    static func rows(ofPage number: Int) -> Range<Int> { (number - 1) * size..<number * size }

    var range: Range<Int> { min(total, (number - 1) * Self.size)..<min(total, number * Self.size) }

    /// The pager's links; `query` keeps the page's other parameters.
    func view(basePath: String, query: String = "") -> [String: Any] {
        let last = max(1, (total + Self.size - 1) / Self.size)
        func link(_ page: Int) -> String { basePath + "?" + query + (query.isEmpty ? "" : "&") + "page=\(page)" }
        return [
            "number": number, "last": last, "show": last > 1,
            "previous": number > 1 ? link(number - 1) : "", "hasPrevious": number > 1,
            "next": number < last ? link(number + 1) : "", "hasNext": number < last,
        ]
    }
}

enum Formats {
    static func time(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withFullDate, .withTime, .withColonSeparatorInTime, .withSpaceBetweenDateAndTime]
        return formatter.string(from: date) + " UTC"
    }

    static func bytes(_ size: Int64) -> String {
        if size < 1024 { return "\(size) B" }
        if size < 1 << 20 { return String(format: "%.1f KiB", Double(size) / 1024) }
        return String(format: "%.1f MiB", Double(size) / Double(1 << 20))
    }
}
