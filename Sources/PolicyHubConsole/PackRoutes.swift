import Foundation
import Hummingbird
import PolicyHubCore
import PolicyHubHTTP

/// A pack: its versions, the policies of one version, its README, and what changed between two versions.
struct PackRoutes {
    let console: Console

    func register(on router: Router<BasicRequestContext>) {
        router.get("/orgs/:org/packs/:pack") { request, context in try await pack(request, context: context) }
        router.get("/orgs/:org/packs/:pack/compare") { request, context in
            try await compare(request, context: context)
        }
    }

    private func pack(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let visitor = try await console.visitor(request)
        let (org, pack) = (try PageName.organization(context), try PageName.pack(context))
        let caller = visitor.principal
        let page = try await console.services.registry.versions(
            publisher: org, name: pack, continuationToken: request.uri.queryParameters["after"].map(String.init),
            caller: caller)
        let versions = page.entries.map(\.version)
        guard let lastListed = versions.last else { throw RegistryError.packNotFound(pack.text) }
        // Versions come a page at a time from the oldest: the newest is on this page only if it is the last one.
        let newest =
            page.continuationToken == nil
            ? lastListed
            : try await console.services.registry.version(
                publisher: org, name: pack, version: "latest", caller: caller
            ).version
        let chosen = try await selectedVersion(
            request, org: org, pack: pack, among: versions, newest: newest, caller: caller)
        let values: [String: Any] = [
            "pack": pack.text, "displayName": chosen.draft.displayName,
            "description": chosen.draft.description ?? "",
            "versions": versions.reversed().map { version -> [String: Any] in
                [
                    "label": version.label, "number": version.version,
                    "link": Links.pack(org.text, pack.text, version: version.version),
                    "published": version.completedAt.map(Formats.time) ?? "",
                    "publisher": version.publishedBy ?? "",
                    "size": version.archive.map { Formats.bytes($0.size) } ?? "",
                    "sha256": version.archive?.sha256 ?? "", "applied": version.applied,
                    "selected": version.version == chosen.version,
                ]
            },
            "moreVersions": page.continuationToken.map {
                Links.pack(org.text, pack.text) + "?after=" + Links.queryEscaped($0)
            } ?? "",
            "version": chosen.label, "versionNumber": chosen.version,
            "policies": chosen.draft.policies.map(Self.policyView),
            "readme": chosen.draft.readme.map(ConsoleMarkdown.html) ?? "",
            "canCompare": versions.count > 1, "compareLink": Links.pack(org.text, pack.text) + "/compare",
            // Preselected: the second newest version listed, against the newest.
            "versionChoices": versions.reversed().map { version -> [String: Any] in
                [
                    "number": version.version, "label": version.label, "isTo": version.version == lastListed.version,
                    "isFrom": versions.count > 1 && version.version == versions[versions.count - 2].version,
                ]
            },
            "organizationLink": Links.organization(org.text),
        ]
        return console.pages.page("pack", values, frame: visitor.frame(pack.text, organization: org.text))
    }

    /// `?version=N`, else the newest version.
    private func selectedVersion(
        _ request: Request, org: Name, pack: Name, among versions: [PackVersion], newest: PackVersion,
        caller: Principal
    ) async throws -> PackVersion {
        guard let text = request.uri.queryParameters["version"].map(String.init) else { return newest }
        guard let number = Int(text), number > 0 else {
            throw RegistryError.invalid("version must be a version number, not '\(text)'.")
        }
        if let listed = versions.first(where: { $0.version == number }) { return listed }
        return try await console.services.registry.version(
            publisher: org, name: pack, version: String(number), caller: caller
        ).version
    }

    private func compare(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let visitor = try await console.visitor(request)
        let (org, pack) = (try PageName.organization(context), try PageName.pack(context))
        func version(_ name: String) async throws -> PackVersion {
            let text = request.uri.queryParameters[Substring(name)].map(String.init) ?? ""
            guard let number = Int(text), number > 0 else {
                throw RegistryError.invalid("Choose two versions to compare: \(name) is not a version number.")
            }
            return try await console.services.packs.completedVersion(
                organization: org, pack: pack, reference: String(number), caller: visitor.principal)
        }
        let (from, to) = (try await version("from"), try await version("to"))
        let diff = PolicyDiff(from: from.draft.policies, to: to.draft.policies)
        let values: [String: Any] = [
            "pack": pack.text, "packLink": Links.pack(org.text, pack.text), "from": from.label, "to": to.label,
            "fromLink": Links.pack(org.text, pack.text, version: from.version),
            "toLink": Links.pack(org.text, pack.text, version: to.version),
            "added": diff.added.map(\.name), "removed": diff.removed.map(\.name),
            "changed": diff.changed.map { ["name": $0.name, "changes": $0.changes] },
            "same": diff.added.isEmpty && diff.removed.isEmpty && diff.changed.isEmpty,
        ]
        return console.pages.page(
            "compare", values,
            frame: visitor.frame("\(pack.text): \(from.label) to \(to.label)", organization: org.text))
    }

    static func policyView(_ policy: Policy) -> [String: Any] {
        let schema = SchemaTable(policy.configSchema)
        return [
            "name": policy.name, "displayName": policy.displayName, "description": policy.description,
            "level": policy.enforcementLevel.rawValue, "severity": policy.severity?.rawValue ?? "",
            "framework": policy.framework.map { framework in
                [framework.name, framework.version, framework.reference, framework.specification]
                    .compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: " · ")
            } ?? "",
            "tags": policy.tags ?? [], "hasTags": !(policy.tags ?? []).isEmpty,
            "remediation": policy.remediationSteps ?? "",
            "url": policy.url.flatMap(Self.webLink) ?? "",
            "properties": schema.rows.map(\.view), "hasSchema": !schema.rows.isEmpty,
            "anchor": "policy-" + policy.name,
        ]
    }

    /// A link only to the web: a pack's URL field is user input, and a `javascript:` link would run on click.
    static func webLink(_ text: String) -> String? {
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme)
        else { return nil }
        return text
    }
}

/// What differs between the policies of two versions of a pack.
struct PolicyDiff {
    struct Change {
        var name: String
        var changes: [String]
    }

    var added: [Policy] = []
    var removed: [Policy] = []
    var changed: [Change] = []

    init(from old: [Policy], to new: [Policy]) {
        let before = Dictionary(old.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        let after = Dictionary(new.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        added = new.filter { before[$0.name] == nil }
        removed = old.filter { after[$0.name] == nil }
        for policy in new {
            guard let earlier = before[policy.name] else { continue }
            var changes: [String] = []
            if earlier.enforcementLevel != policy.enforcementLevel {
                changes.append(
                    "enforcement level \(earlier.enforcementLevel.rawValue) → \(policy.enforcementLevel.rawValue)")
            }
            if earlier.severity != policy.severity {
                changes.append(
                    "severity \(earlier.severity?.rawValue ?? "none") → \(policy.severity?.rawValue ?? "none")")
            }
            if earlier.configSchema != policy.configSchema {
                let (was, now) = (SchemaTable(earlier.configSchema), SchemaTable(policy.configSchema))
                let names = (Set(was.rows.map(\.name)), Set(now.rows.map(\.name)))
                let added = names.1.subtracting(names.0).sorted()
                let removed = names.0.subtracting(names.1).sorted()
                let altered = now.rows.filter { row in was.rows.contains { $0.name == row.name && $0 != row } }
                var parts: [String] = []
                if !added.isEmpty { parts.append("added " + added.joined(separator: ", ")) }
                if !removed.isEmpty { parts.append("removed " + removed.joined(separator: ", ")) }
                if !altered.isEmpty { parts.append("changed " + altered.map(\.name).joined(separator: ", ")) }
                changes.append("config schema: " + (parts.isEmpty ? "changed" : parts.joined(separator: "; ")))
            }
            if earlier.description != policy.description { changes.append("description changed") }
            if earlier.remediationSteps != policy.remediationSteps { changes.append("remediation steps changed") }
            if !changes.isEmpty { changed.append(Change(name: policy.name, changes: changes)) }
        }
    }
}
