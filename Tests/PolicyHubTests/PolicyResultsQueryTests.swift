import Foundation
import HTTPTypes
import PolicyHubCore
import Testing

/// The read side of policy results, through HTTP as the console and the CLI read it: the issues grid, its filter
/// menus and CSV export, compliance by stack and severity with drift, compliance per policy, the totals, the
/// current violations, and that one organization never sees another's results.
@Suite struct PolicyResultsQueryTests {
    /// A violation of `pack`'s `policy` on the resource named `resource` of the reported stack.
    struct Violation {
        var pack, policy, resource: String
        var message: String?
    }

    /// The policies of `pack` that passed and failed on one resource.
    struct Evaluation {
        var pack, resource: String
        var passed: [String], failed: [String] = []
        var version = "1.0.0"
    }

    static func fail(_ pack: String, _ policy: String, _ resource: String, _ message: String? = nil) -> Violation {
        Violation(pack: pack, policy: policy, resource: resource, message: message)
    }

    static func ran(_ pack: String, _ resource: String, _ passed: [String], failed: [String] = []) -> Evaluation {
        Evaluation(pack: pack, resource: resource, passed: passed, failed: failed)
    }

    /// Reports and reads the policy results of one organization as one user.
    struct Hub {
        let api: APIClient
        let token: String
        var org = "default"

        /// Publishes `guard` (no-public-read high, tagged low, versioned critical) and `cost` (small-instance
        /// medium, no-gpu without a severity) at `tag`.
        func publishPacks(tag: String = "1.0.0", taggedSeverity: String = "low") async throws {
            func policy(_ name: String, _ severity: String?) -> JSONValue {
                guard case .object(var members) = Fixtures.policy(name) else { return .null }
                members["severity"] = severity.map(JSONValue.string)
                return .object(members)
            }
            let guardPolicies = [("no-public-read", "high"), ("tagged", taggedSeverity), ("versioned", "critical")]
            try await api.publish(
                org, "guard", tag: tag, token: token, policies: guardPolicies.map { policy($0.0, $0.1) })
            try await api.publish(
                org, "cost", tag: tag, token: token,
                policies: [policy("small-instance", "medium"), policy("no-gpu", nil)])
        }

        /// Reports one completed evaluation of `project/stack` (at the violations' version, 1.0.0).
        func report(
            _ project: String, _ stack: String, update: Int, _ violations: [Violation], evaluations: [Evaluation]? = nil
        ) async throws {
            func urn(_ resource: String) -> JSONValue {
                .string("urn:pulumi:\(stack)::\(project)::aws:s3/bucket:Bucket::\(resource)")
            }
            let found: [JSONValue] = violations.map {
                [
                    "message": .string($0.message ?? "\($0.policy) failed on \($0.resource)"),
                    "policyName": .string($0.policy), "policyPackName": .string($0.pack), "policyPackVersion": "1.0.0",
                    "enforcementLevel": "mandatory", "resourceURN": urn($0.resource),
                ]
            }
            let ran: [JSONValue]? = evaluations?.map {
                [
                    "resourceURN": urn($0.resource), "policyPackName": .string($0.pack),
                    "policyPackVersion": .string($0.version), "passed": .array($0.passed.map(JSONValue.string)),
                    "failed": .array($0.failed.map(JSONValue.string)),
                ]
            }
            var results: [String: JSONValue] = ["succeeded": true, "violations": .array(found)]
            results["evaluations"] = ran.map(JSONValue.array)
            let path = "/api/preview/insights/\(org)/policy/stacks/\(project)/\(stack)/updates/\(update)/results"
            let sent = try await api.send(
                .put, path, token: token, json: ["claimId": "q", "results": .object(results)])
            #expect(sent.status == .ok, "report \(project)/\(stack) \(update): \(sent.text)")
        }

        func send(_ method: HTTPRequest.Method, _ path: String, _ body: JSONValue? = [:], headers: HTTPFields = [:])
            async throws -> APIResponse
        {
            try await api.send(
                method, "/api/orgs/\(org)/policyresults/\(path)", token: token, json: body, headers: headers)
        }

        /// A 200 answer's JSON; a GET when there is no body.
        func read(_ path: String, _ body: JSONValue? = [:]) async throws -> JSONValue {
            let answer = try await send(body == nil ? .get : .post, path, body)
            #expect(answer.status == .ok, "\(path): \(answer.text)")
            return answer.json
        }

        /// A 400 answer's message, after checking it is a 400 with its code in the body (not a 500).
        func rejected(_ path: String, _ body: JSONValue? = [:]) async throws -> String {
            let answer = try await send(body == nil ? .get : .post, path, body)
            #expect(answer.status == .badRequest && answer.code == 400, "\(path): \(answer.text)")
            return answer.message ?? ""
        }

        /// Every issue a filter selects, checking `rowCount` agrees.
        func issues(_ filter: JSONValue? = nil, closed: String = "false", extra: [String: JSONValue] = [:])
            async throws -> [JSONValue]
        {
            var body = extra.merging(["startRow": 0, "endRow": 1000]) { own, _ in own }
            body["filterModel"] = filter
            let page = try await read("issues?closed=\(closed)", .object(body))
            let rows = page["policyIssues"]?.arrayValue ?? []
            #expect(page["rowCount"] == .int(Int64(rows.count)), "\(page)")
            return rows
        }

        /// Eight open issues: web/prod 4 (at the clock's start), web/dev 2 and api/prod 2 (a minute on).
        func seedIssues(_ clock: TestClock) async throws {
            try await publishPacks()
            try await report(
                "web", "prod", update: 1,
                [
                    fail("guard", "no-public-read", "logs", "Bucket logs is public"), fail("guard", "tagged", "logs"),
                    fail("guard", "tagged", "assets"), fail("cost", "small-instance", "vm"),
                ])
            clock.advance(by: 60)
            try await report(
                "web", "dev", update: 1,
                [fail("guard", "no-public-read", "logs", "Bucket logs is PUBLIC"), fail("guard", "versioned", "logs")])
            try await report(
                "api", "prod", update: 1,
                [fail("cost", "no-gpu", "gpu", #"=HYPERLINK("http://evil","x")"#), fail("guard", "tagged", "db")])
        }
    }

    static func text(_ column: String, _ type: String, _ filter: String = "", kind: String = "text") -> JSONValue {
        ["colId": .string(column), "filterType": .string(kind), "type": .string(type), "filter": .string(filter)]
    }

    static func join(_ type: String, _ conditions: JSONValue...) -> JSONValue {
        ["type": .string(type), "conditions": .array(conditions)]
    }

    /// `project/stack/resource` of each issue.
    static func places(_ rows: [JSONValue]) -> Set<String> {
        Set(
            rows.map { row in
                ["entityProject", "entityId", "resourceName"].map { row[$0]?.stringValue ?? "" }.joined(separator: "/")
            })
    }

    static func field(_ rows: [JSONValue]?, _ key: String) -> [String] {
        (rows ?? []).map { $0[key]?.stringValue ?? "" }
    }

    /// True when a field is absent (or null).
    static func isAbsent(_ value: JSONValue?) -> Bool {
        switch value {
        case .none, .some(.null): true
        default: false
        }
    }

    /// Each value's count, from `[{<key>: value, "count": n}]`.
    static func counts(_ values: JSONValue?, key: String = "name") -> [String: Int] {
        var counts: [String: Int] = [:]
        for value in values?.arrayValue ?? [] {
            if case .int(let count)? = value["count"] { counts[value[key]?.stringValue ?? "?"] = Int(count) }
        }
        return counts
    }

    @Test(arguments: MetadataBackendKind.available)
    func theIssuesGridFiltersSortsPagesAndGroups(_ backend: MetadataBackendKind) async throws {
        try await TestServer.with(metadata: backend) { server, api in
            let hub = Hub(api: api, token: server.adminToken)
            try await hub.seedIssues(server.clock)
            #expect(try await hub.issues().count == 8)

            // Text filters: equals; contains ignores case and takes % and _ literally; set; blank.
            let tagged = try await hub.issues(Self.text("policyName", "equals", "tagged"))
            #expect(Self.places(tagged) == ["web/prod/logs", "web/prod/assets", "api/prod/db"])
            let publicOnes = try await hub.issues(Self.text("message", "contains", "Public"))
            #expect(Self.places(publicOnes) == ["web/prod/logs", "web/dev/logs"] && publicOnes.count == 2)
            #expect(try await hub.issues(Self.text("message", "contains", "_")).isEmpty)
            #expect(Self.places(try await hub.issues(Self.text("message", "startsWith", "=HYPER"))) == ["api/prod/gpu"])
            let severe = try await hub.issues(Self.text("severity", "", "high, critical", kind: "set"))
            #expect(Set(Self.field(severe, "policyName")) == ["no-public-read", "versioned"] && severe.count == 3)
            #expect(Self.field(try await hub.issues(Self.text("severity", "blank")), "policyName") == ["no-gpu"])

            // AND, and an OR nested in an AND.
            let prodGuard = Self.join(
                "AND", Self.text("entityId", "equals", "prod"), Self.text("policyPack", "equals", "guard"))
            #expect(try await hub.issues(prodGuard).count == 4)
            let versionedOrMedium = Self.join(
                "OR", Self.text("policyName", "equals", "versioned"), Self.text("severity", "equals", "medium"))
            let nested = Self.join("AND", Self.text("entityProject", "equals", "web"), versionedOrMedium)
            #expect(Self.places(try await hub.issues(nested)) == ["web/dev/logs", "web/prod/vm"])

            // A date filter: web/prod reported a minute before the others.
            let halfMinuteIn = ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: 1_800_000_030))
            let early = try await hub.issues(Self.text("observedAt", "lessThan", halfMinuteIn, kind: "date"))
            #expect(Self.places(early) == ["web/prod/logs", "web/prod/assets", "web/prod/vm"] && early.count == 4)

            // Sorting by a text column, both ways.
            let names = ["assets", "db", "gpu", "logs", "logs", "logs", "logs", "vm"]
            for (direction, expected) in [("asc", names), ("desc", names.reversed())] {
                let sorted = try await hub.issues(extra: [
                    "sortModel": [["colId": "resourceName", "sort": .string(direction)]]
                ])
                #expect(Self.field(sorted, "resourceName") == expected, "\(direction)")
            }

            // Pages of the default order (the rows of a report share observedAt) neither overlap nor miss a row.
            var seen: [String] = []
            for start in stride(from: 0, to: 9, by: 3) {
                let page = try await hub.read(
                    "issues", ["startRow": .int(Int64(start)), "endRow": .int(Int64(start + 3))])
                #expect(page["rowCount"] == 8)
                seen += Self.field(page["policyIssues"]?.arrayValue, "id")
            }
            let everyID = Set(Self.field(try await hub.issues(), "id"))
            #expect(seen.count == 8 && Set(seen) == everyID, "\(seen)")

            // Grouping: one group per policy with its count, then the rows of an opened group.
            let groupBy: JSONValue = [["field": "policyName"]]
            let groups = try await hub.read("issues", ["rowGroupCols": groupBy, "groupKeys": []])
            let perPolicy = ["no-gpu": 1, "no-public-read": 2, "small-instance": 1, "tagged": 3, "versioned": 1]
            #expect(Self.counts(groups["groupData"], key: "policyName") == perPolicy, "\(groups)")
            #expect(groups["rowCount"] == 5 && groups["policyIssues"] == [])
            let opened = try await hub.issues(extra: ["rowGroupCols": groupBy, "groupKeys": ["tagged"]])
            #expect(Self.field(opened, "policyName") == ["tagged", "tagged", "tagged"])
            // A number column's group too (its key comes as text).
            let byUpdate = try await hub.issues(extra: [
                "rowGroupCols": [["field": "stackVersion"]], "groupKeys": ["1"],
            ])
            #expect(byUpdate.count == 8)

            // closed=true lists what triage closed; the default lists what is open.
            let versioned = try #require(try await hub.issues(Self.text("policyName", "equals", "versioned")).first)
            let ignore = try await hub.send(
                .patch, "issues/\(versioned["id"]?.stringValue ?? "")", ["status": "ignored"])
            #expect(ignore.status == .ok, "\(ignore.text)")
            #expect(try await hub.issues().count == 7)
            let closed = try await hub.issues(closed: "true")
            #expect(Self.places(closed) == ["web/dev/logs"] && Self.field(closed, "status") == ["ignored"])
            #expect(try await hub.issues(closed: "all").count == 8)

            // Mistakes are 400s that say what is wrong.
            #expect(
                try await hub.rejected("issues", ["filterModel": Self.text("nope", "equals", "x")]).contains("'nope'"))
            #expect(try await hub.rejected("issues", ["sortModel": [["colId": "bogus"]]]).contains("'bogus'"))
            let tooMany = try await hub.rejected("issues", ["startRow": 5, "endRow": 1006])
            #expect(tooMany.contains("at most 1000 rows"), "\(tooMany)")
            let badDate = Self.text("observedAt", "lessThan", "yesterday", kind: "date")
            #expect(try await hub.rejected("issues", ["filterModel": badDate]).contains("'yesterday'"))
        }
    }

    @Test(arguments: MetadataBackendKind.available)
    func filterMenusCountAndExportsAreCompleteAndDefused(_ backend: MetadataBackendKind) async throws {
        try await TestServer.with(metadata: backend) { server, api in
            let hub = Hub(api: api, token: server.adminToken)
            try await hub.seedIssues(server.clock)

            // A menu's values, most frequent first; its own field's conditions do not narrow it.
            let policies = try await hub.read("issues/filters", ["field": "policyName"])
            #expect(Self.field(policies["values"]?.arrayValue, "name").prefix(2) == ["tagged", "no-public-read"])
            #expect(
                Self.counts(policies["values"])
                    == ["tagged": 3, "no-public-read": 2, "small-instance": 1, "versioned": 1, "no-gpu": 1])
            let inWeb = Self.join(
                "AND", Self.text("policyName", "equals", "tagged"), Self.text("entityProject", "equals", "web"))
            let webMenu = try await hub.read("issues/filters", ["field": "policyName", "filterModel": inWeb])
            #expect(
                Self.counts(webMenu["values"]) == [
                    "tagged": 2, "no-public-read": 2, "small-instance": 1, "versioned": 1,
                ])
            #expect(try await hub.rejected("issues/filters", ["field": "nope"]).contains("'nope'"))

            // The export: a header and one line per issue, formulas defused.
            func export(_ body: JSONValue = [:], closed: String = "false", accept: String? = nil) async throws
                -> (type: String, lines: [String])
            {
                let headers: HTTPFields = accept.map { [.accept: $0] } ?? [:]
                let answer = try await hub.send(.post, "issues/export?closed=\(closed)", body, headers: headers)
                #expect(answer.status == .ok && answer.text.hasSuffix("\r\n"), "\(answer.text)")
                return (
                    answer.headers[.contentType] ?? "", Array(answer.text.components(separatedBy: "\r\n").dropLast())
                )
            }
            let plain = try await export()
            #expect(plain.lines.count == 9, "\(plain.lines)")
            let header = plain.lines.first?.components(separatedBy: ",") ?? []
            let named = ["id", "status", "severity", "policyPack", "policyName", "resourceURN", "message"]
            #expect(named.allSatisfy { header.contains($0) }, "\(header)")
            #expect(plain.lines.contains { $0.contains(#","'=HYPERLINK(""http://evil"",""x"")","#) }, "\(plain.lines)")
            #expect(!plain.lines.contains { $0.hasPrefix("=") || $0.contains(",=") || $0.contains(",\"=") })
            // text/plain (as Pulumi's SDK and the CLI's Accept get), text/csv only when that alone is asked for.
            let asked: [String?: String] = [
                nil: "text/plain", "text/plain": "text/plain", "text/csv": "text/csv", "application/json": "text/plain",
            ]
            for (accept, type) in asked {
                #expect(try await export(accept: accept).type.hasPrefix(type), "Accept: \(accept ?? "-")")
            }

            // It exports what the filter selects, in the order asked, not one page of it.
            let cost = try await export([
                "filterModel": Self.text("policyPack", "equals", "cost"), "startRow": 0, "endRow": 1,
                "sortModel": [["colId": "resourceName", "sort": "desc"]],
            ])
            #expect(cost.lines.count == 3 && cost.lines[1].contains("::vm,") && cost.lines[2].contains("::gpu,"))
            #expect(try await export(closed: "true").lines.count == 1)

            // More issues than a page of the store: every one is exported, once.
            try await hub.report("bulk", "prod", update: 1, (0..<1_005).map { Self.fail("guard", "tagged", "r\($0)") })
            let all = try await export(["filterModel": Self.text("entityProject", "equals", "bulk")])
            #expect(all.lines.count == 1_006)
            #expect(Set(all.lines.dropFirst().map { line in line.split(separator: ",").first }).count == 1_005)
        }
    }

    /// Unfiltered menus come from counts kept by every report and triage; they must say exactly what counting
    /// every issue says (a filter that selects all of them forces the count), after issues open, are reported
    /// again unchanged and changed, are fixed, reopen and are triaged.
    @Test(arguments: MetadataBackendKind.available)
    func filterMenusFromKeptCountsMatchCountingEveryIssue(_ backend: MetadataBackendKind) async throws {
        try await TestServer.with(metadata: backend) { server, api in
            let hub = Hub(api: api, token: server.adminToken)
            try await hub.publishPacks()
            try await hub.report(
                "web", "prod", update: 1,
                [
                    Self.fail("guard", "tagged", "logs"), Self.fail("guard", "no-public-read", "logs"),
                    Self.fail("cost", "small-instance", "vm"), Self.fail("guard", "versioned", "assets"),
                ])
            try await hub.report(
                "api", "dev", update: 1, [Self.fail("cost", "no-gpu", "gpu")],
                evaluations: [Self.ran("cost", "gpu", ["small-instance"], failed: ["no-gpu"])])
            // Update 2: tagged again as it was, no-public-read with a new message, small-instance passed (fixed),
            // versioned not mentioned (stays open), and a new one.
            try await hub.report(
                "web", "prod", update: 2,
                [
                    Self.fail("guard", "tagged", "logs"),
                    Self.fail("guard", "no-public-read", "logs", "Bucket logs is public to everyone"),
                    Self.fail("guard", "tagged", "assets"),
                ],
                evaluations: [
                    Self.ran("guard", "logs", [], failed: ["tagged", "no-public-read"]),
                    Self.ran("guard", "assets", [], failed: ["tagged"]),
                    Self.ran("cost", "vm", ["small-instance"]),
                ])
            let login = try await api.send(.get, "/api/user", token: hub.token).json["githubLogin"]?.stringValue
            let open = try await hub.issues()
            func id(_ policy: String, _ resource: String) -> String {
                open.first { $0["policyName"]?.stringValue == policy && $0["resourceName"]?.stringValue == resource }?[
                    "id"]?.stringValue ?? "?"
            }
            let triage: [(String, JSONValue)] = [
                (id("tagged", "logs"), ["status": "ignored", "priority": "p1"]),
                (id("versioned", "assets"), ["status": "in_progress", "assignedTo": .string(login ?? "")]),
                (id("no-gpu", "gpu"), ["priority": "p0"]),
            ]
            for (issue, change) in triage {
                let changed = try await hub.send(.patch, "issues/\(issue)", change)
                #expect(changed.status == .ok, "\(changed.text)")
            }
            // Update 3: the fixed small-instance is back (reopens), the ignored and in-progress ones stay so, and
            // no-public-read, no longer reported by a completed run, is fixed.
            try await hub.report(
                "web", "prod", update: 3,
                [
                    Self.fail("guard", "tagged", "logs"), Self.fail("cost", "small-instance", "vm"),
                    Self.fail("guard", "tagged", "assets", "assets untagged"),
                    Self.fail("guard", "versioned", "assets"),
                ])

            let everything: JSONValue = [
                "colId": "stackVersion", "filterType": "number", "type": "greaterThanOrEqual", "filter": "0",
            ]
            let fields = [
                "entityProject", "entityId", "policyPack", "policyPackTag", "policyName", "resourceProvider",
                "resourceType", "level", "severity", "status", "kind", "priority", "assignedTo", "policyGroupName",
                "policyGroupType",
            ]
            var seen = 0
            for closed in ["false", "true", "all"] {
                for field in fields {
                    let kept = try await hub.read("issues/filters?closed=\(closed)", ["field": .string(field)])
                    let counted = try await hub.read(
                        "issues/filters?closed=\(closed)", ["field": .string(field), "filterModel": everything])
                    #expect(kept == counted, "\(field), closed=\(closed)")
                    seen += Self.counts(kept["values"]).values.reduce(0, +)
                }
            }
            #expect(
                Self.counts(try await hub.read("issues/filters?closed=all", ["field": "status"])["values"]) == [
                    "open": 3, "ignored": 1, "in_progress": 1, "fixed": 1,
                ])
            #expect(seen == 2 * 6 * fields.count, "every issue counted once per field in its scope and in all")
        }
    }

    @Test(arguments: MetadataBackendKind.available)
    func complianceByStackScoresAndDrift(_ backend: MetadataBackendKind) async throws {
        try await TestServer.with(metadata: backend, results: ResultsSettings(staleAfter: 3600)) { server, api in
            let hub = Hub(api: api, token: server.adminToken)
            try await hub.publishPacks()
            try await hub.publishPacks(tag: "2.0.0")
            let groups = "/api/orgs/default/policygroups"
            func patch(_ group: String, _ body: JSONValue) async throws {
                let changed = try await api.send(.patch, "\(groups)/\(group)", token: hub.token, json: body)
                #expect(changed.status == .noContent, "\(changed.text)")
            }
            try await patch("default-policy-group", ["addPolicyPack": ["name": "guard", "versionTag": "1.0.0"]])
            let created = try await api.send(
                .post, groups, token: hub.token, json: ["name": "prod", "entityType": "stacks"])
            #expect(created.status == .created, "\(created.text)")
            try await patch("prod", ["addStack": ["name": "prod", "routingProject": "api"]])
            try await patch("prod", ["addStack": ["name": "staging", "routingProject": "web"]])
            try await patch("prod", ["addPolicyPack": ["name": "guard", "versionTag": "1.0.0"]])
            try await patch("prod", ["addPolicyPack": ["name": "cost", "versionTag": "1.0.0"]])

            // web/dev (default group): guard 2 of 3 pass; cost, which it need not run, 1 of 2.
            try await hub.report(
                "web", "dev", update: 1, [Self.fail("guard", "tagged", "logs")],
                evaluations: [
                    Self.ran("guard", "logs", ["no-public-read", "versioned"], failed: ["tagged"]),
                    Self.ran("cost", "vm", ["small-instance"], failed: ["no-gpu"]),
                ])
            // api/prod (group prod): guard 5 of 6 pass; it did not run cost, which it must.
            try await hub.report(
                "api", "prod", update: 7, [Self.fail("guard", "no-public-read", "db")],
                evaluations: [
                    Self.ran("guard", "db", ["tagged", "versioned"], failed: ["no-public-read"]),
                    Self.ran("guard", "cache", ["tagged", "versioned", "no-public-read"]),
                ])

            func table(_ entity: String = "stack") async throws -> (columns: JSONValue?, rows: [String: JSONValue]) {
                let answer = try await hub.read("compliance", ["entity": .string(entity)])
                let rows = (answer["rows"]?.arrayValue ?? []).map { ($0["entityName"]?.stringValue ?? "", $0) }
                return (answer["columns"], Dictionary(rows) { first, _ in first })
            }
            func drift(_ row: JSONValue?) -> [String] {
                (row?["drift"]?.arrayValue ?? []).map { drift in
                    ["kind", "policyPack", "reportedVersion", "requiredVersion"]
                        .map { drift[$0]?.stringValue ?? "-" }.joined(separator: " ")
                }
            }
            var stacks = try await table()
            #expect(stacks.columns == ["cost", "guard"])
            #expect(Set(stacks.rows.keys) == ["api/prod", "web/dev", "web/staging"])
            #expect(stacks.rows["web/dev"]?["scores"] == [50, 66])
            #expect(stacks.rows["api/prod"]?["scores"] == [-1, 83])
            #expect(stacks.rows["web/staging"]?["scores"] == [-1, -1])
            #expect(stacks.rows["api/prod"]?["lastUpdateVersion"] == 7)
            #expect(!Self.isAbsent(stacks.rows["api/prod"]?["lastEvaluatedAt"]))
            #expect(drift(stacks.rows["web/dev"]) == [])
            #expect(drift(stacks.rows["api/prod"]) == ["missing-pack cost - 1.0.0"])
            #expect(drift(stacks.rows["web/staging"]) == ["never-reported - - -"])
            #expect(Self.isAbsent(stacks.rows["web/staging"]?["lastEvaluatedAt"]))

            // Pages of one row walk every stack once, in order, and the last has no token.
            var walked: [String] = []
            var token: JSONValue = ""
            repeat {
                let page = try await hub.read("compliance", ["entity": "stack", "size": 1, "continuationToken": token])
                #expect(page["rows"]?.arrayValue?.count == 1, "\(page)")
                walked += Self.field(page["rows"]?.arrayValue, "entityName")
                token = page["continuationToken"] ?? .null
            } while token != .null && walked.count < 5
            #expect(walked == ["api/prod", "web/dev", "web/staging"])

            // By severity: a row per pack, a column per severity, -1 where the pack has no such policy.
            let severity = try await table("severity")
            #expect(severity.columns == ["critical", "high", "medium", "low", "unspecified"])
            #expect(severity.rows["guard"]?["scores"] == [100, 66, -1, 66, -1])
            #expect(severity.rows["cost"]?["scores"] == [-1, -1, 100, -1, 0])
            #expect(try await hub.read("compliance", ["entity": "account"])["rows"] == [])
            #expect(try await hub.rejected("compliance", ["entity": "region"]).contains("region"))
            #expect(try await hub.rejected("compliance", ["size": 1001]).contains("1001"))
            #expect(try await hub.rejected("compliance", ["continuationToken": "junk"]).contains("continuationToken"))

            // The default group moves to guard 2.0.0: web/dev now runs an outdated pack.
            try await patch("default-policy-group", ["addPolicyPack": ["name": "guard", "versionTag": "2.0.0"]])
            #expect(drift(try await table().rows["web/dev"]) == ["outdated-pack guard 1.0.0 2.0.0"])

            // An hour and a second later, the stacks that reported are stale; one that never did is not.
            server.clock.advance(by: 3601)
            stacks = try await table()
            #expect(drift(stacks.rows["web/dev"]) == ["stale - - -", "outdated-pack guard 1.0.0 2.0.0"])
            #expect(drift(stacks.rows["api/prod"]) == ["stale - - -", "missing-pack cost - 1.0.0"])
            #expect(drift(stacks.rows["web/staging"]) == ["never-reported - - -"])

            // web/dev runs guard 2.0.0, all passing, and no cost: its row is its newest evaluation's only, and
            // as no stack's newest evaluation ran cost, cost is no longer a column.
            let allPass = ["no-public-read", "versioned", "tagged"]
            try await hub.report(
                "web", "dev", update: 2, [],
                evaluations: [Evaluation(pack: "guard", resource: "logs", passed: allPass, version: "2.0.0")])
            stacks = try await table()
            #expect(stacks.columns == ["guard"])
            #expect(stacks.rows["web/dev"]?["scores"] == [100], "\(stacks.rows)")
            #expect(stacks.rows["web/dev"]?["lastUpdateVersion"] == 2 && drift(stacks.rows["web/dev"]) == [])
            #expect(stacks.rows["api/prod"]?["scores"] == [83])
        }
    }

    @Test(arguments: MetadataBackendKind.available)
    func compliancePerPolicyCountsEachStacksNewestEvaluation(_ backend: MetadataBackendKind) async throws {
        try await TestServer.with(metadata: backend) { server, api in
            let hub = Hub(api: api, token: server.adminToken)
            try await hub.publishPacks()
            let apply = try await api.send(
                .patch, "/api/orgs/default/policygroups/default-policy-group", token: hub.token,
                json: ["addPolicyPack": ["name": "guard", "versionTag": "1.0.0"]])
            #expect(apply.status == .noContent, "\(apply.text)")
            let all = ["tagged", "versioned", "no-public-read"]
            try await hub.report(
                "web", "prod", update: 1,
                [Self.fail("guard", "tagged", "logs"), Self.fail("guard", "no-public-read", "logs")],
                evaluations: [
                    Self.ran("guard", "logs", ["versioned"], failed: ["tagged", "no-public-read"]),
                    Self.ran("guard", "assets", all),
                ])
            try await hub.report(
                "web", "dev", update: 1, [Self.fail("guard", "tagged", "logs")],
                evaluations: [
                    Self.ran("guard", "logs", ["versioned", "no-public-read"], failed: ["tagged"]),
                    Self.ran("cost", "vm", ["small-instance"]),
                ])

            func policies(_ body: JSONValue = [:]) async throws -> (rows: [JSONValue], total: JSONValue?) {
                let answer = try await hub.read("policies", body)
                return (answer["policies"]?.arrayValue ?? [], answer["totalCount"])
            }
            func numbers(_ row: JSONValue) -> [JSONValue] {
                ["governedResources", "failingResources", "percentCompliant"].map { row[$0] ?? .null }
            }
            var page = try await policies()
            #expect(page.total == 4)
            // Least compliant first.
            #expect(Self.field(page.rows, "policyName") == ["tagged", "no-public-read", "small-instance", "versioned"])
            #expect(page.rows.map(numbers) == [[3, 2, 33], [3, 1, 66], [1, 0, 100], [3, 0, 100]])
            #expect(Self.field(page.rows, "severity") == ["low", "high", "medium", "critical"])
            let group = "default-policy-group"
            #expect(Self.field(page.rows, "policyGroupName") == [group, group, "", group])

            let guardOnly = try await policies(["filterModel": Self.text("policyPack", "equals", "guard")])
            #expect(guardOnly.total == 3 && Set(Self.field(guardOnly.rows, "policyPack")) == ["guard"])
            let byName: JSONValue = [["colId": "policyName", "sort": "asc"]]
            let second = try await policies(["startRow": 1, "endRow": 2, "sortModel": byName])
            #expect(second.total == 4 && Self.field(second.rows, "policyName") == ["small-instance"])
            #expect(try await hub.rejected("policies", ["sortModel": [["colId": "message"]]]).contains("'message'"))

            // web/prod's newer evaluation has only logs, all passing: it replaces web/prod's counts.
            try await hub.report("web", "prod", update: 2, [], evaluations: [Self.ran("guard", "logs", all)])
            // A late report of an older update changes nothing.
            try await hub.report(
                "web", "prod", update: 0, [Self.fail("guard", "versioned", "old")],
                evaluations: [Self.ran("guard", "old", [], failed: ["versioned"])])
            page = try await policies(["sortModel": byName])
            #expect(Self.field(page.rows, "policyName") == ["no-public-read", "small-instance", "tagged", "versioned"])
            #expect(page.rows.map(numbers) == [[2, 0, 100], [1, 0, 100], [2, 1, 50], [2, 0, 100]], "\(page.rows)")
        }
    }

    @Test(arguments: MetadataBackendKind.available)
    func totalsAndCurrentViolationsFollowEachStacksNewestReport(_ backend: MetadataBackendKind) async throws {
        try await TestServer.with(metadata: backend) { server, api in
            let hub = Hub(api: api, token: server.adminToken)
            try await hub.publishPacks()
            try await hub.report(
                "web", "prod", update: 1,
                ["a", "b", "c"].map { Self.fail("guard", "tagged", $0) } + [Self.fail("guard", "no-public-read", "a")])
            server.clock.advance(by: 10)
            // The newer run reports only a's tagging; a completed run without the others fixes them.
            try await hub.report("web", "prod", update: 2, [Self.fail("guard", "tagged", "a", "still")])
            server.clock.advance(by: 10)
            try await hub.report(
                "web", "dev", update: 5, ["x", "y"].map { Self.fail("guard", "tagged", $0) },
                evaluations: ["x", "y"].map { Self.ran("guard", $0, ["versioned"], failed: ["tagged"]) }
                    + [Self.ran("cost", "vm", ["small-instance"])])
            // A late report of an older update of web/prod shows in neither answer.
            try await hub.report("web", "prod", update: 0, [Self.fail("guard", "tagged", "z")])

            let totals: JSONValue = [
                "policyTotalCount": 3, "policyWithIssuesCount": 1, "resourcesTotalCount": 4,
                "resourcesWithIssuesCount": 3,
            ]
            #expect(try await hub.read("metadata", nil) == totals)

            let current = try await hub.read("violationsv2", nil)["policyViolations"]?.arrayValue ?? []
            // Newest first: web/dev's two, then web/prod's update 2.
            #expect(Set(Self.field(current, "resourceName")) == ["a", "x", "y"] && current.count == 3)
            #expect(Self.field(current, "stackName") == ["dev", "dev", "prod"])
            #expect(current.last?["stackVersion"] == 2 && current.last?["message"] == "still")
            let posted = try await hub.send(.post, "violationsv2", nil)
            #expect(posted.json["policyViolations"]?.arrayValue == current, "\(posted.text)")

            // Pages of one walk them all once, the last without a token.
            var ids: [String] = []
            var token = ""
            for _ in 0..<3 {
                let page = try await hub.read("violationsv2?size=1&continuationToken=\(token)", nil)
                ids += Self.field(page["policyViolations"]?.arrayValue, "id")
                token = page["continuationToken"]?.stringValue ?? ""
            }
            #expect(ids == Self.field(current, "id") && token.isEmpty, "\(ids)")
            #expect(try await hub.rejected("violationsv2?size=0", nil).contains("size"))
            #expect(try await hub.rejected("violationsv2?size=ten", nil).contains("'ten'"))
            #expect(try await hub.rejected("violationsv2?continuationToken=nope", nil).contains("continuationToken"))
            // A made-up token naming the last possible place in web/dev's report resumes after that report.
            let first = try await hub.read("violationsv2?size=1", nil)
            var edge = try ViolationCursor(token: first["continuationToken"]?.stringValue ?? "")
            edge.id = edge.id.split(separator: "-").dropLast().joined(separator: "-") + "-\(Int.max)"
            let resumed = try await hub.read("violationsv2?continuationToken=\(edge.token)", nil)
            #expect(Self.field(resumed["policyViolations"]?.arrayValue, "stackName") == ["prod"], "\(resumed)")
        }
    }

    /// More stacks than one read of the store's stack list holds, some clean, some with several violations, some
    /// evaluated at the same moment: small pages walk every current violation once, in the order of one big page.
    @Test(arguments: MetadataBackendKind.available)
    func violationPagesWalkManyStacksOnce(_ backend: MetadataBackendKind) async throws {
        try await TestServer.with(metadata: backend) { server, api in
            let hub = Hub(api: api, token: server.adminToken)
            try await hub.publishPacks()
            var expected: Set<String> = []
            for index in 0..<180 {
                let resources = (0..<(index % 4)).map { "r\($0)" }
                try await hub.report(
                    "web", "s\(index)", update: 1, resources.map { Self.fail("guard", "tagged", $0) })
                expected.formUnion(resources.map { "s\(index)/\($0)" })
                if index % 3 == 0 { server.clock.advance(by: 1) }
            }
            // A second report replaces a stack's current violations.
            try await hub.report("web", "s5", update: 2, [Self.fail("guard", "versioned", "new")])
            expected.subtract(["s5/r0"])
            expected.insert("s5/new")

            func key(_ violation: JSONValue) -> String {
                "\(violation["stackName"]?.stringValue ?? "")/\(violation["resourceName"]?.stringValue ?? "")"
            }
            let all = try await hub.read("violationsv2?size=500", nil)["policyViolations"]?.arrayValue ?? []
            #expect(all.count == expected.count && Set(all.map(key)) == expected)
            #expect(key(all[0]) == "s5/new", "the newest evaluation comes first")
            var walked: [JSONValue] = []
            var token = ""
            repeat {
                let page = try await hub.read("violationsv2?size=7&continuationToken=\(token)", nil)
                let rows = page["policyViolations"]?.arrayValue ?? []
                #expect(rows.count <= 7 && !rows.isEmpty)
                walked += rows
                token = page["continuationToken"]?.stringValue ?? ""
            } while !token.isEmpty && walked.count <= all.count
            #expect(walked.map(key) == all.map(key))
            #expect(
                Self.field(walked, "id") == Self.field(all, "id") && Set(Self.field(walked, "id")).count == all.count)
        }
    }

    @Test(arguments: MetadataBackendKind.available)
    func anotherOrganizationsResultsAreNotCounted(_ backend: MetadataBackendKind) async throws {
        try await TestServer.with(metadata: backend) { server, api in
            try await server.identity.createOrganization(try Name("other", field: "org"))
            let rivalToken = try await server.makeUser("rival", in: "other", role: .admin)
            let rival = Hub(api: api, token: rivalToken, org: "other")
            let hub = Hub(api: api, token: server.adminToken)
            try await hub.publishPacks()
            try await rival.publishPacks(taggedSeverity: "critical")
            // The other organization's group lists a stack that never reported.
            let groups = "/api/orgs/other/policygroups"
            let group = try await api.send(
                .post, groups, token: rival.token, json: ["name": "secret", "entityType": "stacks"])
            let listed = try await api.send(
                .patch, "\(groups)/secret", token: rival.token,
                json: ["addStack": ["name": "hidden", "routingProject": "web"]])
            #expect(group.status == .created && listed.status == .noContent, "\(group.text) \(listed.text)")

            // The same stack, pack and policies in both organizations.
            try await rival.report(
                "web", "prod", update: 1,
                ["logs", "assets", "db", "gpu"].map { Self.fail("guard", "tagged", $0) },
                evaluations: [Self.ran("guard", "cache", ["tagged", "versioned"])])
            try await hub.report("web", "prod", update: 1, [Self.fail("guard", "tagged", "logs")])
            #expect(try await rival.issues().count == 4)

            #expect(Self.field(try await hub.issues(), "severity") == ["low"])
            #expect(
                Self.counts(try await hub.read("issues/filters", ["field": "policyName"])["values"]) == ["tagged": 1])
            let csv = try await hub.send(.post, "issues/export")
            #expect(csv.text.components(separatedBy: "\r\n").filter { !$0.isEmpty }.count == 2, "\(csv.text)")
            let stacks = try await hub.read("compliance", ["entity": "stack"])
            #expect(stacks["columns"] == ["guard"])
            #expect(Self.field(stacks["rows"]?.arrayValue, "entityName") == ["web/prod"])
            #expect(stacks["rows"]?.arrayValue?.first?["scores"] == [0])
            let policies = try await hub.read("policies")
            #expect(policies["totalCount"] == 1 && policies["policies"]?.arrayValue?.first?["governedResources"] == 1)
            let totals: JSONValue = [
                "policyTotalCount": 1, "policyWithIssuesCount": 1, "resourcesTotalCount": 1,
                "resourcesWithIssuesCount": 1,
            ]
            #expect(try await hub.read("metadata", nil) == totals)
            #expect(try await hub.read("violationsv2", nil)["policyViolations"]?.arrayValue?.count == 1)

            // And a member of one cannot read the other's.
            let peek = try await Hub(api: api, token: server.adminToken, org: "other").send(.post, "issues")
            #expect(peek.status == .notFound, "\(peek.text)")
        }
    }
}
