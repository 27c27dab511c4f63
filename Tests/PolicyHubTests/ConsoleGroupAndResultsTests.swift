import Foundation
import HTTPTypes
import PolicyHubCore
import Testing

/// What an admin does in the console to apply packs, and what the console shows of the results: over real HTTP,
/// checked through the API the CLI uses.
@Suite("Console: applying packs and reading results")
struct ConsoleGroupAndResultsTests {
    @Test func anAdminAppliesAPackWithConfigThatTheValidatorChecksFieldByField() async throws {
        try await TestServer.with { server, api in
            _ = try await ConsolePagesTests.seed(server, api)
            let browser = ConsoleBrowser(api)
            try await browser.signIn(server.adminToken)
            let groupPath = "/orgs/default/groups/default-policy-group"
            let group = try await browser.get(groupPath)
            let csrf = try ConsoleBrowser.csrf(group)

            // The chooser leads to the pack's form in this group.
            let chosen = try await browser.post(groupPath + "/packs", [("csrf", csrf), ("pack", "guard")])
            #expect(chosen.status == .seeOther && chosen.location == groupPath + "/packs/guard")
            let form = try await browser.get(groupPath + "/packs/guard")
            #expect(form.status == .ok && form.text.contains(#"name="config.retention""#), "\(form.text)")

            // A config the schema refuses: the page comes back with the error next to the field, nothing applied.
            let refused = try await browser.post(
                groupPath + "/packs/guard",
                [
                    ("csrf", csrf), ("version", "2"), ("level.retention", "mandatory"),
                    ("config.retention", #"{"maxAge": 0, "region": "mars"}"#), ("level.owner", ""),
                ])
            #expect(refused.status == .badRequest)
            let fieldset = try #require(
                refused.text.firstMatch(of: /id="config-retention"[^>]*aria-invalid="true"[\s\S]*?<\/ul>/))
            #expect(fieldset.0.contains("maxAge"), "\(fieldset.0)")
            #expect(
                refused.text.contains(
                    #"{"maxAge": 0, "region": "mars"}"#.replacingOccurrences(of: "\"", with: "&quot;")),
                "what the admin typed is kept")
            var applied = try await api.send(
                .get, "/api/orgs/default/policygroups/default-policy-group", token: server.adminToken)
            #expect(applied.json["appliedPolicyPacks"]?.arrayValue?.isEmpty ?? true, "\(applied.text)")

            let unreadable = try await browser.post(
                groupPath + "/packs/guard", [("csrf", csrf), ("version", "2"), ("config.retention", "maxAge=3")])
            #expect(unreadable.status == .badRequest && unreadable.text.contains("must be a JSON object"))

            // A config that passes is applied, as `pulumi policy enable` would apply it.
            let accepted = try await browser.post(
                groupPath + "/packs/guard",
                [
                    ("csrf", csrf), ("version", "2"), ("level.retention", "mandatory"),
                    ("config.retention", #"{"maxAge": 7, "region": "eu"}"#),
                ])
            #expect(accepted.status == .seeOther && accepted.location == groupPath, "\(accepted.text)")
            applied = try await api.send(
                .get, "/api/orgs/default/policygroups/default-policy-group", token: server.adminToken)
            let pack = try #require(applied.json["appliedPolicyPacks"]?.arrayValue?.first)
            #expect(pack["name"]?.stringValue == "guard" && pack["version"] == .int(2), "\(applied.text)")

            // The stack now must run it, with that config, in the console as for `pulumi`.
            try await browser.post(
                groupPath + "/stacks", [("csrf", csrf), ("action", "add"), ("project", "web"), ("stack", "prod")])
            let stack = try await browser.get("/orgs/default/stacks/web/prod")
            #expect(stack.status == .ok && stack.text.contains(">guard</a></td><td>2.0.0</td>"), "\(stack.text)")
            #expect(stack.text.contains("&quot;maxAge&quot; : 7") || stack.text.contains("&quot;maxAge&quot;: 7"))
            let required = try await api.send(
                .get, "/api/stacks/default/web/prod/policypacks", token: server.adminToken)
            #expect(required.text.contains("\"maxAge\":7"), "\(required.text)")

            // Removing the pack and the stack undoes both.
            try await browser.post(groupPath + "/packs/guard/remove", [("csrf", csrf)])
            try await browser.post(
                groupPath + "/stacks", [("csrf", csrf), ("action", "remove"), ("project", "web"), ("stack", "prod")])
            applied = try await api.send(
                .get, "/api/orgs/default/policygroups/default-policy-group", token: server.adminToken)
            #expect(applied.json["appliedPolicyPacks"]?.arrayValue?.isEmpty ?? true)
            #expect(applied.json["stacks"]?.arrayValue?.isEmpty ?? true, "\(applied.text)")
        }
    }

    @Test func theStackAndCompliancePagesShowWhatPoliciesFoundFilteredAndPaged() async throws {
        try await TestServer.with { server, api in
            try await api.publish(
                "default", "guard", tag: "1.0.0", token: server.adminToken,
                policies: [Fixtures.policy("retention"), Fixtures.policy("tags", level: "advisory")])
            let enabled = try await api.send(
                .patch, "/api/orgs/default/policygroups/default-policy-group", token: server.adminToken,
                json: ["addPolicyPack": ["name": "guard", "versionTag": "1.0.0"]])
            #expect(enabled.status == .noContent, "\(enabled.text)")
            // 60 buckets fail `retention` on web/prod; one fails `tags` on web/dev.
            var violations: [JSONValue] = []
            for index in 0..<60 {
                violations.append(
                    [
                        "message": .string("bucket \(index) keeps logs forever"), "policyName": "retention",
                        "policyPackName": "guard", "policyPackVersion": "1.0.0", "enforcementLevel": "mandatory",
                        "kind": "preventative",
                        "resourceURN": .string("urn:pulumi:prod::web::aws:s3/bucket:Bucket::b\(index)"),
                    ])
            }
            for (stack, found) in [
                ("web/prod", violations),
                (
                    "web/dev",
                    [
                        [
                            "message": "<b>untagged</b>", "policyName": "tags", "policyPackName": "guard",
                            "policyPackVersion": "1.0.0", "enforcementLevel": "advisory", "kind": "preventative",
                            "resourceURN": "urn:pulumi:dev::web::aws:s3/bucket:Bucket::x",
                        ] as JSONValue
                    ]
                ),
            ] {
                let sent = try await api.send(
                    .put, "/api/preview/insights/default/policy/stacks/\(stack)/updates/1/results",
                    token: server.adminToken,
                    json: ["claimId": "c", "results": ["succeeded": true, "violations": .array(found)]])
                #expect(sent.status == .ok, "\(sent.text)")
            }
            let browser = ConsoleBrowser(api)
            try await browser.signIn(server.adminToken)

            let stack = try await browser.get("/orgs/default/stacks/web/prod")
            #expect(stack.text.contains("Open issues (60)") && stack.text.contains("Evaluated "), "\(stack.text)")
            #expect(stack.text.contains("Page 1 of 2"))
            #expect(stack.text.components(separatedBy: "keeps logs forever").count - 1 == 50, "50 issues a page")
            let second = try await browser.get("/orgs/default/stacks/web/prod?page=2")
            #expect(second.text.components(separatedBy: "keeps logs forever").count - 1 == 10)

            let all = try await browser.get("/orgs/default/compliance")
            #expect(all.status == .ok && all.text.contains("61 issues."), "\(all.text)")
            #expect(all.text.contains("&lt;b&gt;untagged&lt;/b&gt;"), "messages are text")
            let tags = try await browser.get("/orgs/default/compliance?policy=tags")
            #expect(tags.text.contains("1 issue.") && tags.text.contains("web/dev"))
            #expect(tags.text.contains(#"href="/orgs/default/packs/guard#policy-tags""#), "links to the remediation")
            #expect(tags.text.contains(#"<option value="tags" selected>"#))
            let dev = try await browser.get("/orgs/default/compliance?stack=web%2Fdev&state=all")
            #expect(dev.text.contains("1 issue."))
            let closed = try await browser.get("/orgs/default/compliance?state=closed")
            #expect(closed.text.contains("0 issues."))
            let wrong = try await browser.get("/orgs/default/compliance?state=maybe")
            #expect(wrong.status == .badRequest && wrong.text.contains("state must be open, closed or all"))
            let page2 = try await browser.get("/orgs/default/compliance?state=open&page=2")
            #expect(page2.text.contains("Page 2 of 2"))

            let overview = try await browser.get("/orgs/default")
            #expect(overview.text.contains("Open issues by severity"), "\(overview.text)")
            #expect(overview.text.contains("<dt>Stacks evaluated</dt><dd>2</dd>"))
            #expect(overview.text.contains("<dt>Resources with open issues</dt><dd>61</dd>"))
        }
    }
}
