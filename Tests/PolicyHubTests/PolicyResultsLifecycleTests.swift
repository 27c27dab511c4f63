import AsyncHTTPClient
import Foundation
import HTTPTypes
import NIOCore
import NIOHTTP1
import PolicyHubCore
import PolicyHubHTTP
import Testing

/// Reporting what policies found, and the lifecycle of the issues it opens: over real HTTP, on SQLite and (when
/// configured) PostgreSQL.
@Suite("Policy results: reports and the issue lifecycle")
struct PolicyResultsLifecycleTests {
    static let logs = "urn:pulumi:prod::web::aws:s3/bucket:Bucket::logs"
    static let data = "urn:pulumi:prod::web::aws:s3/bucket:Bucket::data"

    /// A violation of `guard` 1.0.0 on web/prod.
    static func violation(_ policy: String, on urn: String = logs, level: String = "mandatory") -> JSONValue {
        [
            "message": .string("\(policy) failed on \(urn.split(separator: ":").last ?? "")"),
            "policyName": .string(policy), "policyPackName": "guard", "policyPackVersion": "1.0.0",
            "enforcementLevel": .string(level), "kind": "preventative", "resourceURN": .string(urn),
        ]
    }

    static func evaluation(_ urn: String, passed: [String], failed: [String] = []) -> JSONValue {
        [
            "resourceURN": .string(urn), "policyPackName": "guard", "policyPackVersion": "1.0.0",
            "passed": .array(passed.map(JSONValue.string)), "failed": .array(failed.map(JSONValue.string)),
        ]
    }

    static func body(_ violations: [JSONValue], evaluations: [JSONValue]? = nil, succeeded: Bool = true)
        -> JSONValue
    {
        var results: [String: JSONValue] = ["succeeded": .bool(succeeded), "violations": .array(violations)]
        if let evaluations { results["evaluations"] = .array(evaluations) }
        return ["claimId": "run", "results": .object(results)]
    }

    struct World {
        let server: TestServer
        let api: APIClient
        var admin: String { server.adminToken }

        func report(_ update: Int, _ body: JSONValue, stack: String = "web/prod", token: String? = nil)
            async throws -> APIResponse
        {
            try await api.send(
                .put, "/api/preview/insights/default/policy/stacks/\(stack)/updates/\(update)/results",
                token: token ?? admin, json: body)
        }

        /// Policy name to (status, issue) of web/prod's issues on `logs`, whatever their state.
        func issues() async throws -> [String: JSONValue] {
            let page = try await api.send(
                .post, "/api/orgs/default/policyresults/issues?closed=all", token: admin, json: [:])
            #expect(page.status == .ok, "\(page.text)")
            var found: [String: JSONValue] = [:]
            for issue in page.json["policyIssues"]?.arrayValue ?? [] {
                let urn = issue["resourceURN"]?.stringValue ?? ""
                let key =
                    (issue["policyName"]?.stringValue ?? "") + (urn == PolicyResultsLifecycleTests.logs ? "" : "@data")
                found[key] = issue
            }
            return found
        }

        func expectRecorded(_ update: Int, _ body: JSONValue) async throws {
            let answer = try await report(update, body)
            #expect(answer.status == .ok, "update \(update): \(answer.text)")
        }

        func statuses() async throws -> [String: String] {
            try await issues().mapValues { $0["status"]?.stringValue ?? "" }
        }

        func triage(_ id: String, _ change: JSONValue, token: String? = nil) async throws -> APIResponse {
            try await api.send(
                .patch, "/api/orgs/default/policyresults/issues/\(id)", token: token ?? admin, json: change)
        }
    }

    /// Publishes `guard` 1.0.0 (public-read is high severity) and applies it to the default group.
    static func with(_ backend: MetadataBackendKind, _ body: @Sendable (World) async throws -> Void) async throws {
        try await TestServer.with(metadata: backend) { server, api in
            let policies: [JSONValue] = [
                [
                    "name": "public-read", "displayName": "No public read", "description": "Buckets are private.",
                    "enforcementLevel": "mandatory", "message": "", "severity": "high",
                    "remediationSteps": "Set the ACL to private.",
                ],
                Fixtures.policy("tags", level: "advisory"), Fixtures.policy("versioned"),
            ]
            try await api.publish("default", "guard", tag: "1.0.0", token: server.adminToken, policies: policies)
            let applied = try await api.send(
                .patch, "/api/orgs/default/policygroups/default-policy-group", token: server.adminToken,
                json: ["addPolicyPack": ["name": "guard", "versionTag": "1.0.0"]])
            #expect(applied.status == .noContent, "\(applied.text)")
            try await body(World(server: server, api: api))
        }
    }

    @Test(arguments: MetadataBackendKind.available)
    func anIssueOpensStaysOpenIsFixedWhenItsPolicyPassesAndReopens(_ backend: MetadataBackendKind) async throws {
        try await Self.with(backend) { world in
            let first = try await world.report(
                1,
                Self.body(
                    [Self.violation("public-read"), Self.violation("tags", level: "advisory")],
                    evaluations: [
                        Self.evaluation(Self.logs, passed: ["versioned"], failed: ["public-read", "tags"]),
                        Self.evaluation(Self.data, passed: ["versioned", "public-read", "tags"]),
                    ]))
            #expect(first.status == .ok, "\(first.text)")
            #expect(first.json["recorded"] == true)
            #expect(first.json["unknownPolicyPacks"] == [])
            var issues = try await world.issues()
            #expect(Set(issues.keys) == ["public-read", "tags"])
            let publicRead = try #require(issues["public-read"])
            #expect(publicRead["status"]?.stringValue == "open")
            #expect(publicRead["severity"]?.stringValue == "high", "the severity comes from the published pack")
            #expect(publicRead["level"]?.stringValue == "mandatory")
            #expect(publicRead["policyGroupName"]?.stringValue == "default-policy-group")
            #expect(publicRead["resourceName"]?.stringValue == "logs")
            #expect(publicRead["resourceProvider"]?.stringValue == "aws")
            let id = try #require(publicRead["id"]?.stringValue)

            // Still reported: still open, now from update 2.
            #expect(
                try await world.report(2, Self.body([Self.violation("public-read"), Self.violation("tags")])).status
                    == .ok)
            issues = try await world.issues()
            #expect(issues["public-read"]?["status"]?.stringValue == "open")
            #expect(issues["public-read"]?["stackVersion"] == 2)
            #expect(issues["public-read"]?["id"]?.stringValue == id)

            // Update 3 ran public-read on logs and it passed: fixed. tags is still reported.
            #expect(
                try await world.report(
                    3,
                    Self.body(
                        [Self.violation("tags")],
                        evaluations: [
                            Self.evaluation(Self.logs, passed: ["public-read", "versioned"], failed: ["tags"])
                        ]
                    )
                ).status == .ok)
            #expect(try await world.statuses() == ["public-read": "fixed", "tags": "open"])
            let open = try await world.api.send(
                .post, "/api/orgs/default/policyresults/issues", token: world.admin, json: [:])
            #expect(open.json["rowCount"] == 1, "the default list holds open issues only: \(open.text)")

            // Reported again: the same issue reopens.
            #expect(
                try await world.report(4, Self.body([Self.violation("public-read"), Self.violation("tags")])).status
                    == .ok)
            issues = try await world.issues()
            #expect(issues["public-read"]?["status"]?.stringValue == "open")
            #expect(issues["public-read"]?["id"]?.stringValue == id)

            // The detail carries the policy and the pack it came from.
            let detail = try await world.api.send(
                .get, "/api/orgs/default/policyresults/issues/\(id)", token: world.admin)
            #expect(detail.status == .ok, "\(detail.text)")
            #expect(detail.json["policy"]?["remediationSteps"]?.stringValue == "Set the ACL to private.")
            #expect(detail.json["policyPack"]?["name"]?.stringValue == "guard")
            #expect(detail.json["policyPack"]?["version"]?.stringValue == "1.0.0")
        }
    }

    @Test(arguments: MetadataBackendKind.available)
    func ignoredAndByDesignIssuesStaySoWhenReportedAgain(_ backend: MetadataBackendKind) async throws {
        try await Self.with(backend) { world in
            let both = Self.body([Self.violation("public-read"), Self.violation("tags")])
            #expect(try await world.report(1, both).status == .ok)
            let issues = try await world.issues()
            let publicRead = try #require(issues["public-read"]?["id"]?.stringValue)
            let tags = try #require(issues["tags"]?["id"]?.stringValue)
            let member = try await world.server.makeUser("dev", in: "default", role: .member)

            // Members read but may not triage, and the refusal is audited.
            let refused = try await world.triage(tags, ["status": "ignored"], token: member)
            #expect(refused.status == .forbidden, "\(refused.text)")
            #expect(try await world.statuses()["tags"] == "open")

            let ignored = try await world.triage(tags, ["status": "ignored", "priority": "p3", "assignedTo": "dev"])
            #expect(ignored.status == .ok, "\(ignored.text)")
            #expect(ignored.json["policyIssue"]?["status"]?.stringValue == "ignored")
            #expect(ignored.json["policyIssue"]?["priority"]?.stringValue == "p3")
            #expect(ignored.json["policyIssue"]?["assignedTo"]?["githubLogin"]?.stringValue == "dev")
            #expect(try await world.triage(publicRead, ["status": "by_design"]).status == .ok)

            #expect(try await world.report(2, both).status == .ok)
            #expect(try await world.statuses() == ["public-read": "by_design", "tags": "ignored"])
            let stillAssigned = try await world.issues()["tags"]
            #expect(stillAssigned?["assignedTo"]?["githubLogin"]?.stringValue == "dev")
            #expect(stillAssigned?["priority"]?.stringValue == "p3")

            // Bad triage is a clear 400 and changes nothing.
            for (change, field) in [
                (["status": "closed"] as JSONValue, "status"), (["priority": "urgent"], "priority"),
                (["assignedTo": "nobody"], "nobody"), ([:], "Nothing to change"),
            ] {
                let bad = try await world.triage(tags, change)
                #expect(bad.status == .badRequest, "\(change): \(bad.text)")
                #expect(bad.text.contains(field), "\(change): \(bad.text)")
            }
            #expect(try await world.triage("no-such-issue", ["status": "open"]).status == .notFound)
            #expect(try await world.statuses() == ["public-read": "by_design", "tags": "ignored"])

            let audit = try await world.api.send(.get, "/api/orgs/default/auditlogs", token: world.admin)
            let events = (audit.json["auditLogEvents"]?.arrayValue ?? []).compactMap { $0["event"]?.stringValue }
            #expect(events.filter { $0 == "policyissue.update" }.count == 2, "\(audit.text)")
            #expect(events.contains("authorization.denied"))
        }
    }

    @Test(arguments: MetadataBackendKind.available)
    func aResourceThatIsGoneFixesItsIssuesOnlyWhenTheRunCompleted(_ backend: MetadataBackendKind) async throws {
        try await Self.with(backend) { world in
            let onData = Self.violation("public-read", on: Self.data)
            let both = [
                Self.evaluation(Self.data, passed: [], failed: ["public-read"]),
                Self.evaluation(Self.logs, passed: ["public-read"]),
            ]
            try await world.expectRecorded(1, Self.body([onData], evaluations: both))
            // A run that stopped early never looked at `data`: nothing is known about it.
            let onlyLogs = [Self.evaluation(Self.logs, passed: ["public-read"])]
            try await world.expectRecorded(2, Self.body([], evaluations: onlyLogs, succeeded: false))
            #expect(try await world.statuses() == ["public-read@data": "open"])
            // A completed run without `data`: the bucket is gone, and so is its issue.
            try await world.expectRecorded(3, Self.body([], evaluations: onlyLogs))
            #expect(try await world.statuses() == ["public-read@data": "fixed"])

            // Pulumi's own clients send no evaluations: a completed run of the stack's packs that no longer reports
            // a violation fixes it; a failed one does not.
            try await world.expectRecorded(4, Self.body([Self.violation("tags")]))
            try await world.expectRecorded(5, Self.body([], succeeded: false))
            #expect(try await world.statuses()["tags"] == "open")
            try await world.expectRecorded(6, Self.body([]))
            #expect(try await world.statuses()["tags"] == "fixed")
        }
    }

    @Test(arguments: MetadataBackendKind.available)
    func reportsAreIdempotentOrderedAndFlagUnknownPacks(_ backend: MetadataBackendKind) async throws {
        try await Self.with(backend) { world in
            let body = Self.body([Self.violation("public-read")])
            #expect(try await world.report(5, body).json["recorded"] == true)
            let again = try await world.report(5, body)
            #expect(again.status == .ok)
            #expect(again.json["recorded"] == false, "a resend changes nothing: \(again.text)")
            let different = try await world.report(5, Self.body([Self.violation("tags")]))
            #expect(different.status == .conflict, "\(different.text)")
            #expect(different.text.contains("already reported with different results"))

            // An older evaluation arriving late is kept but does not reopen or fix anything.
            #expect(try await world.report(3, Self.body([Self.violation("tags")])).json["recorded"] == true)
            #expect(try await world.statuses() == ["public-read": "open"])

            // A pack this server does not publish is recorded, and flagged.
            var unknown = Self.violation("mystery").objectValue ?? [:]
            unknown["policyPackName"] = "elsewhere"
            unknown["policyPackVersion"] = "9.9.9"
            let flagged = try await world.report(6, Self.body([Self.violation("public-read"), .object(unknown)]))
            #expect(flagged.status == .ok, "\(flagged.text)")
            #expect(flagged.json["unknownPolicyPacks"] == ["elsewhere@9.9.9"])
            let mystery = try await world.issues()["mystery"]
            #expect(mystery?["unknownPolicyPack"] == true)
            #expect(mystery?["severity"]?.stringValue == "")
            #expect(try await world.issues()["public-read"]?["unknownPolicyPack"] == false)
        }
    }

    /// A stored issue is read back as one packed column split on U+001F; a pack version may hold that character.
    @Test(arguments: MetadataBackendKind.available)
    func anIssueWhosePackVersionHoldsAControlCharacterIsTheSameIssueNextTime(_ backend: MetadataBackendKind)
        async throws
    {
        try await Self.with(backend) { world in
            var odd = Self.violation("public-read").objectValue ?? [:]
            odd["policyPackVersion"] = "1.0.0\u{1F}rc"
            let body = Self.body([.object(odd)])
            #expect(try await world.report(1, body).status == .ok)
            let id = try #require(try await world.issues()["public-read"]?["id"]?.stringValue)
            #expect(try await world.report(2, body).status == .ok)
            let issues = try await world.issues()
            #expect(issues.count == 1, "reported again, it is not a second issue: \(issues.keys)")
            #expect(issues["public-read"]?["id"]?.stringValue == id)
            #expect(issues["public-read"]?["stackVersion"] == 2)
            #expect(issues["public-read"]?["policyPackTag"]?.stringValue == "1.0.0\u{1F}rc")
            let menu = try await world.api.send(
                .post, "/api/orgs/default/policyresults/issues/filters", token: world.admin,
                json: ["field": "policyPackTag"])
            #expect(menu.status == .ok, "\(menu.text)")
            #expect(menu.json["values"] == [["name": "1.0.0\u{1F}rc", "count": 1]], "\(menu.text)")
        }
    }

    @Test(arguments: MetadataBackendKind.available)
    func everyFieldIsValidatedAndABadReportChangesNothing(_ backend: MetadataBackendKind) async throws {
        try await Self.with(backend) { world in
            func field(_ name: String, _ value: JSONValue) -> JSONValue {
                var violation = Self.violation("public-read").objectValue ?? [:]
                violation[name] = value
                return Self.body([.object(violation)])
            }
            let cases: [(String, Int, JSONValue, String)] = [
                ("web/prod", 1, field("enforcementLevel", "loud"), "results.violations[0].enforcementLevel"),
                ("web/prod", 1, field("kind", "sometimes"), "results.violations[0].kind"),
                ("web/prod", 1, field("resourceURN", "arn:aws:s3:::logs"), "is not a resource URN"),
                (
                    "web/prod", 1, field("resourceURN", "urn:pulumi:dev::web::aws:s3/bucket:Bucket::logs"),
                    "belongs to stack 'dev'"
                ),
                ("web/prod", 1, field("policyName", "has space"), "results.violations[0].policyName"),
                ("web/prod", 1, field("policyPackVersion", ""), "policyPackVersion"),
                ("web/prod", 1, field("message", .string(String(repeating: "m", count: 20_000))), "message"),
                ("web/prod", 1, ["claimId": "x"], "results"),
                ("web/prod", 1, ["results": ["violations": []]], "succeeded"),
                ("web/prod", 1, ["results": ["succeeded": "yes"]], "'results.succeeded' must be a boolean"),
                ("web/prod", 1, field("policyName", 7), "'results.violations[0].policyName' must be a string"),
                ("web/prod", 1, field("message", "nul \u{0}"), "NUL character"),
                ("web/prod", 1, ["results": ["succeeded": true, "evaluations": [["passed": []]]]], "policyPackName"),
                ("web/bad stack", 1, Self.body([]), "stack"),
            ]
            for (stack, update, body, mention) in cases {
                let refused = try await world.report(
                    update, body, stack: stack.replacingOccurrences(of: " ", with: "%20"))
                #expect(refused.status == .badRequest, "\(mention): \(refused.text)")
                #expect(refused.text.contains(mention), "\(mention): \(refused.text)")
                #expect(refused.json["code"] == 400)
            }
            let notANumber = try await world.api.send(
                .put, "/api/preview/insights/default/policy/stacks/web/prod/updates/latest/results",
                token: world.admin, json: Self.body([]))
            #expect(notANumber.status == .badRequest, "\(notANumber.text)")
            #expect(notANumber.text.contains("non-negative integer"))
            let tooMany = Self.body(Array(repeating: Self.violation("public-read"), count: 20_001))
            let refused = try await world.report(1, tooMany)
            #expect(refused.status == .badRequest, "\(refused.text)")
            #expect(refused.text.contains("at most 20000"))
            // A string that is not UTF-8 is refused at the byte where it starts.
            var message = Self.violation("public-read").objectValue ?? [:]
            message["message"] = "caf-MARK"
            var bytes = Array(try Self.body([.object(message)]).encoded().utf8)
            let mark = Array("MARK".utf8)
            let at = try #require(bytes.indices.first { bytes[$0...].starts(with: mark) })
            bytes.replaceSubrange(at..<(at + mark.count), with: [0xC3, 0x28])
            var headers = APIClient.cliHeaders
            headers[.authorization] = "token \(world.admin)"
            let notUTF8 = try await world.api.raw(
                .put, "/api/preview/insights/default/policy/stacks/web/prod/updates/1/results", headers: headers,
                body: ByteBuffer(bytes: bytes))
            #expect(notUTF8.status == .badRequest && notUTF8.text.contains("not UTF-8"), "\(notUTF8.text)")
            #expect(try await world.issues().isEmpty, "no refused report left anything behind")

            // Reporting needs membership of the organization.
            let outsider = try await world.server.makeUser("outsider")
            let hidden = try await world.report(1, Self.body([Self.violation("public-read")]), token: outsider)
            #expect(hidden.status == .notFound)
            #expect(hidden.json["message"]?.stringValue == "Organization not found")
            #expect(try await world.issues().isEmpty)

            // Text beyond ASCII is taken exactly as sent.
            message["message"] = "naïve café — 漢字 🚀"
            let accepted = try await world.report(1, Self.body([.object(message)]))
            #expect(accepted.status == .ok, "\(accepted.text)")
            #expect(try await world.issues()["public-read"]?["message"] == "naïve café — 漢字 🚀")
        }
    }

    /// Concurrent reports of one new stack (as several CI jobs, through several instances, would send them) all
    /// land, and the stack's counts are those of its newest evaluation, not a sum of races.
    @Test(arguments: MetadataBackendKind.available)
    func concurrentReportsOfANewStackAllLandAndTheNewestWins(_ backend: MetadataBackendKind) async throws {
        try await Self.with(backend) { world in
            let statuses = try await withThrowingTaskGroup(of: HTTPResponse.Status.self) { group in
                for update in 1...12 {
                    group.addTask {
                        let failing = update == 12 ? ["tags"] : ["public-read"]
                        let body = Self.body(
                            [Self.violation(failing[0])],
                            evaluations: [
                                Self.evaluation(
                                    Self.logs, passed: ["versioned", update == 12 ? "public-read" : "tags"],
                                    failed: failing)
                            ])
                        // A connection of its own, as each CI job has: the test client's one connection would
                        // serve the reports one after another.
                        let port = try #require(world.api.port)
                        let answer = try await HTTPClient.shared.api(
                            .PUT,
                            "http://127.0.0.1:\(port)/api/preview/insights/default/policy/stacks/web/prod/updates/"
                                + "\(update)/results", token: world.admin, body: try body.encoded(),
                            timeout: .seconds(120))
                        return HTTPResponse.Status(code: Int(answer.status))
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(statuses.allSatisfy { $0 == .ok }, "\(statuses)")
            let policies = try await world.api.send(
                .post, "/api/orgs/default/policyresults/policies", token: world.admin, json: [:])
            let rows = policies.json["policies"]?.arrayValue ?? []
            #expect(rows.count == 3, "\(policies.text)")
            for row in rows {
                #expect(row["governedResources"] == 1, "one stack, one resource: \(row)")
                let failing: JSONValue = row["policyName"]?.stringValue == "tags" ? 1 : 0
                #expect(row["failingResources"] == failing, "update 12 is the newest: \(row)")
            }
            #expect(try await world.statuses()["tags"] == "open")
            let compliance = try await world.api.send(
                .post, "/api/orgs/default/policyresults/compliance", token: world.admin, json: [:])
            #expect(compliance.json["rows"]?.arrayValue?.first?["lastUpdateVersion"] == 12, "\(compliance.text)")
        }
    }

    @Test func aReportOverTheBodyLimitIs413() async throws {
        try await TestServer.with(httpLimits: HTTPLimits(maxResultsBodyBytes: 2_000)) { server, api in
            let world = World(server: server, api: api)
            let small = try await world.report(1, Self.body([Self.violation("public-read")]))
            #expect(small.status == .ok, "\(small.text)")
            let large = try await world.report(
                2, Self.body(Array(repeating: Self.violation("public-read"), count: 30)))
            #expect(large.status == .contentTooLarge, "\(large.text)")
            #expect(large.text.contains("limit of 2000 bytes"))
        }
    }
}
