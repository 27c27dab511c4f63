import Foundation
import Hummingbird
import PolicyHubCore
import PolicyHubHTTP

/// A policy group: its stacks and applied packs; admins add and remove both and edit a pack's version and config.
/// Every change goes through `PolicyGroupService.update`, which decides who may make it and what is valid.
struct GroupRoutes {
    let console: Console

    func register(on router: Router<BasicRequestContext>) {
        router.get("/orgs/:org/groups/:group") { request, context in try await group(request, context: context) }
        router.post("/orgs/:org/groups/:group/stacks") { request, context in
            try await changeStacks(request, context: context)
        }
        router.get("/orgs/:org/groups/:group/packs/:pack") { request, context in
            try await configure(request, context: context)
        }
        router.post("/orgs/:org/groups/:group/packs/:pack") { request, context in
            try await apply(request, context: context)
        }
        router.post("/orgs/:org/groups/:group/packs/:pack/remove") { request, context in
            try await remove(request, context: context)
        }
        router.post("/orgs/:org/groups/:group/packs") { request, context in
            // The "apply a pack" chooser: on to that pack's form.
            let org = try PageName.organization(context)
            let group = try PageName.group(context)
            let form = try await FormData.read(request, context: context)
            try await console.visitor(request).checkForm(form)
            let pack = try Name(form["pack"] ?? "", field: "policy pack")
            return PageRenderer.redirect(to: Self.packLink(org.text, group.text, pack.text))
        }
    }

    static func packLink(_ org: String, _ group: String, _ pack: String) -> String {
        Links.group(org, group) + "/packs/" + Links.pathEscaped(pack)
    }

    private func group(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let visitor = try await console.visitor(request)
        let (org, name) = (try PageName.organization(context), try PageName.group(context))
        let group = try await console.services.groups.group(organization: org, name: name, caller: visitor.principal)
        let isAdmin = visitor.isAdmin(of: org.text)
        let applied = Set(group.packs.map(\.version.name))
        let choices =
            isAdmin
            ? try await console.services.packs.list(organization: org, name: nil, caller: visitor.principal)
                .filter { !applied.contains($0.name) }.map(\.name) : []
        let page = Paging(request, total: group.stacks.count)
        let values: [String: Any] = [
            "group": group.name, "mode": group.mode.rawValue, "isDefault": group.isOrgDefault,
            "stacks": group.stacks[page.range].map { stack -> [String: Any] in
                [
                    "project": stack.project, "name": stack.name, "link": Links.stack(org.text, stack),
                    "label": stack.project.isEmpty ? stack.name : "\(stack.project)/\(stack.name)",
                ]
            },
            "hasStacks": !group.stacks.isEmpty, "stackCount": group.stacks.count,
            "paging": page.view(basePath: Links.group(org.text, group.name)),
            "packs": group.packs.map { applied -> [String: Any] in
                [
                    "name": applied.version.name, "version": applied.version.label,
                    "link": Links.pack(org.text, applied.version.name, version: applied.version.version),
                    "configure": Self.packLink(org.text, group.name, applied.version.name),
                    "config": applied.config.flatMap { try? Self.pretty(.object($0)) } ?? "",
                ]
            },
            "hasPacks": !group.packs.isEmpty,
            "choices": OptionList.html(choices, selected: nil), "hasChoices": !choices.isEmpty,
            "isAdmin": isAdmin, "self": Links.group(org.text, group.name),
        ]
        return console.pages.page("group", values, frame: visitor.frame(group.name, organization: org.text))
    }

    private func changeStacks(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let visitor = try await console.visitor(request)
        let (org, name) = (try PageName.organization(context), try PageName.group(context))
        let form = try await FormData.read(request, context: context)
        try visitor.checkForm(form)
        let stack = StackReference(
            project: try Name(form["project"] ?? "", field: "project"),
            name: try Name(form["stack"] ?? "", field: "stack"))
        let update =
            form["action"] == "remove" ? PolicyGroupUpdate(removeStack: stack) : PolicyGroupUpdate(addStack: stack)
        try await console.services.groups.update(
            organization: org, name: name, update: update, caller: visitor.principal)
        return PageRenderer.redirect(to: Links.group(org.text, name.text))
    }

    private func remove(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let visitor = try await console.visitor(request)
        let (org, name, pack) = (
            try PageName.organization(context), try PageName.group(context), try PageName.pack(context)
        )
        try visitor.checkForm(try await FormData.read(request, context: context))
        try await console.services.groups.update(
            organization: org, name: name, update: PolicyGroupUpdate(removePolicyPack: PackSelector(name: pack.text)),
            caller: visitor.principal)
        return PageRenderer.redirect(to: Links.group(org.text, name.text))
    }

    // MARK: A pack's version and config in a group

    private func configure(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let visitor = try await console.visitor(request)
        let (org, name, pack) = (
            try PageName.organization(context), try PageName.group(context), try PageName.pack(context)
        )
        let group = try await console.services.groups.group(organization: org, name: name, caller: visitor.principal)
        let applied = group.packs.first { $0.version.name == pack.text }
        let number = request.uri.queryParameters["version"].flatMap { Int(String($0)) } ?? applied?.version.version
        let form = ConfigForm(applied: applied)
        return try await configPage(
            visitor, org: org, group: group, pack: pack, versionNumber: number, form: form, status: .ok)
    }

    private func apply(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let visitor = try await console.visitor(request)
        let (org, name, pack) = (
            try PageName.organization(context), try PageName.group(context), try PageName.pack(context)
        )
        let submitted = try await FormData.read(request, context: context)
        try visitor.checkForm(submitted)
        var form = ConfigForm(submitted: submitted)
        let number = submitted["version"].flatMap(Int.init)
        do {
            let config = try form.config()
            try await console.services.groups.update(
                organization: org, name: name,
                update: PolicyGroupUpdate(
                    addPolicyPack: PackSelector(name: pack.text, version: number, config: config)),
                caller: visitor.principal)
            return PageRenderer.redirect(to: Links.group(org.text, name.text))
        } catch let error as RegistryError where error.kind == .invalid {
            form.record(error)
            let group = try await console.services.groups.group(
                organization: org, name: name, caller: visitor.principal)
            return try await configPage(
                visitor, org: org, group: group, pack: pack, versionNumber: number, form: form, status: .badRequest)
        }
    }

    private func configPage(
        _ visitor: Visitor, org: Name, group: PolicyGroup, pack: Name, versionNumber: Int?, form: ConfigForm,
        status: HTTPResponse.Status
    ) async throws -> Response {
        let caller = visitor.principal
        let reference = versionNumber.map(String.init) ?? "latest"
        let version = try await console.services.packs.completedVersion(
            organization: org, pack: pack, reference: reference, caller: caller)
        let summary = try await console.services.packs.list(organization: org, name: pack, caller: caller).first
        let numbers = summary?.versions ?? [version.version]
        let tags = summary?.versionTags ?? []
        let levels = ["", "advisory", "mandatory", "remediate", "disabled"]
        let values: [String: Any] = [
            "group": group.name, "groupLink": Links.group(org.text, group.name), "pack": pack.text,
            "action": Self.packLink(org.text, group.name, pack.text),
            "isApplied": group.packs.contains { $0.version.name == pack.text },
            "isAdmin": visitor.isAdmin(of: org.text),
            "versions": numbers.indices.reversed().map { index -> [String: Any] in
                let tag = tags.indices.contains(index) ? tags[index] : ""
                return [
                    "number": numbers[index], "label": tag.isEmpty ? String(numbers[index]) : tag,
                    "selected": numbers[index] == version.version,
                ]
            },
            "problem": form.problem ?? "", "hasProblem": form.problem != nil,
            "policies": version.draft.policies.map { policy -> [String: Any] in
                let chosen = form.levels[policy.name] ?? ""
                let errors = form.problems[policy.name] ?? []
                return [
                    "name": policy.name, "defaultLevel": policy.enforcementLevel.rawValue,
                    "levels": levels.map {
                        ["value": $0, "label": $0.isEmpty ? "as published" : $0, "selected": $0 == chosen]
                    },
                    "hasSchema": policy.configSchema != nil,
                    "properties": SchemaTable(policy.configSchema).rows.map(\.view),
                    "config": form.properties[policy.name] ?? "",
                    "errors": errors, "hasErrors": !errors.isEmpty, "fieldID": "config-" + policy.name,
                ]
            },
        ]
        return console.pages.page(
            "group-pack", values, frame: visitor.frame("\(pack.text) in \(group.name)", organization: org.text),
            status: status)
    }

    static func pretty(_ value: JSONValue) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }
}

/// A pack's config as the form shows it: per policy, an enforcement level and the other properties as JSON text;
/// and the problems of a submission, each next to the policy it concerns.
struct ConfigForm {
    var levels: [String: String] = [:]
    var properties: [String: String] = [:]
    var problems: [String: [String]] = [:]
    var problem: String?

    init(applied: AppliedPack?) {
        for (policy, value) in applied?.config ?? [:] {
            guard var members = value.objectValue else { continue }
            levels[policy] = members["enforcementLevel"]?.stringValue
            members["enforcementLevel"] = nil
            if !members.isEmpty { properties[policy] = (try? GroupRoutes.pretty(.object(members))) ?? "" }
        }
    }

    init(submitted form: FormData) {
        for (policy, level) in form.fields(prefixed: "level.") where !level.isEmpty { levels[policy] = level }
        for (policy, text) in form.fields(prefixed: "config.")
        where !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            properties[policy] = text
        }
    }

    /// The config the form describes; properties that are not a JSON object are refused here, by policy.
    mutating func config() throws -> JSONValue? {
        var config: [String: JSONValue] = [:]
        var unreadable: [FieldProblem] = []
        for policy in Set(levels.keys).union(properties.keys).sorted() {
            var members: [String: JSONValue] = [:]
            if let text = properties[policy] {
                guard let object = (try? JSONValue(jsonText: text))?.objectValue else {
                    unreadable.append(
                        FieldProblem(
                            resource: "config", attribute: "/" + policy, errorType: .invalid,
                            customMessage: "The config of \(policy) must be a JSON object, like {\"key\": \"value\"}."))
                    continue
                }
                members = object
            }
            if let level = levels[policy] { members["enforcementLevel"] = .string(level) }
            config[policy] = .object(members)
        }
        guard unreadable.isEmpty else {
            throw RegistryError.invalid(
                unreadable.compactMap(\.customMessage).joined(separator: " "), details: unreadable)
        }
        return config.isEmpty ? nil : .object(config)
    }

    /// Files each problem of `error` under the policy its JSON pointer starts with; the rest are shown on top.
    mutating func record(_ error: RegistryError) {
        var general: [String] = []
        for detail in error.details {
            let message = detail.customMessage ?? error.message
            if let pointer = detail.attribute, pointer.hasPrefix("/") {
                let first = pointer.dropFirst().split(separator: "/", omittingEmptySubsequences: false).first ?? ""
                let policy = first.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
                problems[policy, default: []].append(message)
            } else {
                general.append(message)
            }
        }
        if error.details.isEmpty { general.append(error.message) }
        problem =
            general.isEmpty
            ? "The config was not applied: fix the fields marked below." : general.joined(separator: " ")
    }
}
