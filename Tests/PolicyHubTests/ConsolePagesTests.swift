import Foundation
import HTTPTypes
import PolicyHubCore
import Testing

/// The console's pages for each kind of visitor (admin, member, someone of another organization, nobody), and what
/// an admin changes through them: over real HTTP, against the same services as the API.
@Suite("Console: pages and permissions")
struct ConsolePagesTests {
    static let schema: JSONValue = [
        "type": "object",
        "properties": [
            "maxAge": ["type": "integer", "minimum": 1, "default": 30, "description": "Days to keep logs."],
            "region": ["type": "string", "enum": ["eu", "us"]],
        ],
        "required": ["maxAge"],
    ]

    /// `guard` 1.0.0 (two policies) and 2.0.0 (one changed, one removed, one added), and a member `bob`.
    static func seed(_ server: TestServer, _ api: APIClient) async throws -> String {
        try await api.publish(
            "default", "guard", tag: "1.0.0", token: server.adminToken,
            policies: [Fixtures.policy("retention", level: "advisory", schema: schema), Fixtures.policy("tags")])
        try await api.publish(
            "default", "guard", tag: "2.0.0", token: server.adminToken,
            policies: [Fixtures.policy("retention", level: "mandatory", schema: schema), Fixtures.policy("owner")])
        return try await server.makeUser("bob", in: "default")
    }

    @Test func eachVisitorSeesWhatTheirRoleAllowsAndNoMore() async throws {
        try await TestServer.with { server, api in
            let bobToken = try await Self.seed(server, api)
            try await server.identity.createOrganization("other")
            let eve = try await server.makeUser("eve", in: "other", role: .admin)

            let admin = ConsoleBrowser(api)
            try await admin.signIn(server.adminToken)
            let bob = ConsoleBrowser(api)
            try await bob.signIn(bobToken)
            let outsider = ConsoleBrowser(api)
            try await outsider.signIn(eve)
            let nobody = ConsoleBrowser(api)

            let overview = try await admin.get("/orgs/default")
            #expect(overview.text.contains(#"<a href="/orgs/default/packs/guard">guard</a>"#))
            #expect(overview.text.contains("Recent activity") && overview.text.contains("policypack.version.complete"))
            let memberView = try await bob.get("/orgs/default")
            #expect(memberView.status == .ok && memberView.text.contains("guard"))
            #expect(!memberView.text.contains("Recent activity"), "the audit trail is for admins")

            let adminGroup = try await admin.get("/orgs/default/groups/default-policy-group")
            #expect(adminGroup.text.contains("Add stack") && adminGroup.text.contains("Apply a pack"))
            let memberGroup = try await bob.get("/orgs/default/groups/default-policy-group")
            #expect(memberGroup.status == .ok)
            #expect(!memberGroup.text.contains("Add stack") && !memberGroup.text.contains("Apply a pack"))

            // A member's form, forged or not, is refused by the same rule as the API's, and changes nothing.
            let tried = try await bob.post(
                "/orgs/default/groups/default-policy-group/stacks",
                [
                    ("csrf", try ConsoleBrowser.csrf(memberGroup)), ("action", "add"), ("project", "web"),
                    ("stack", "prod"),
                ])
            #expect(
                tried.status == .forbidden
                    && tried.text.contains("You must be an admin of the organization to change policy groups."))
            let group = try await api.send(
                .get, "/api/orgs/default/policygroups/default-policy-group", token: server.adminToken)
            #expect(group.json["stacks"]?.arrayValue?.isEmpty ?? true, "\(group.text)")

            // A member reads every page; the config form is shown disabled, and its submission refused.
            for path in [
                "/orgs/default/packs/guard", "/orgs/default/packs/guard/compare?from=1&to=2",
                "/orgs/default/stacks/web/prod", "/orgs/default/compliance",
            ] {
                #expect(try await bob.get(path).status == .ok, "\(path)")
            }
            let form = try await bob.get("/orgs/default/groups/default-policy-group/packs/guard")
            #expect(form.status == .ok && form.text.contains("Only an organization admin can change"))
            #expect(form.text.contains("<fieldset disabled>") && !form.text.contains("Apply to default-policy-group"))
            let csrf = try ConsoleBrowser.csrf(form)
            let apply = try await bob.post(
                "/orgs/default/groups/default-policy-group/packs/guard", [("csrf", csrf), ("version", "1")])
            #expect(apply.status == .forbidden)
            let remove = try await bob.post(
                "/orgs/default/groups/default-policy-group/packs/guard/remove", [("csrf", csrf)])
            #expect(remove.status == .forbidden)
            let unchanged = try await api.send(
                .get, "/api/orgs/default/policygroups/default-policy-group", token: server.adminToken)
            #expect(unchanged.json["appliedPolicyPacks"]?.arrayValue?.isEmpty ?? true, "\(unchanged.text)")
            // A form of one session is no good in another's: the CSRF token is the session's.
            let borrowed = try await admin.post(
                "/orgs/default/groups/default-policy-group/stacks",
                [("csrf", csrf), ("action", "add"), ("project", "web"), ("stack", "prod")])
            #expect(borrowed.status == .forbidden && borrowed.text.contains("did not come from this console"))

            // Someone of another organization learns nothing about this one; nobody is sent to sign in.
            for path in [
                "/orgs/default", "/orgs/default/packs/guard", "/orgs/default/groups/default-policy-group",
                "/orgs/default/stacks/web/prod", "/orgs/default/compliance",
            ] {
                let foreign = try await outsider.get(path)
                #expect(foreign.status == .notFound, "\(path): \(foreign.status)")
                #expect(!foreign.text.contains("retention"), "\(path)")
                let anonymous = try await nobody.get(path)
                #expect(anonymous.status == .seeOther, "\(path)")
                #expect(anonymous.location == "/sign-in?next=" + path, "\(path)")
            }
            let own = try await outsider.get("/orgs/other")
            #expect(own.status == .ok && !own.text.contains("/orgs/default\""), "navigation lists only own orgs")

            // Someone in two organizations starts from the list of them.
            try await server.identity.addMember(organization: "other", login: "bob", role: .member)
            let start = try await bob.get("/")
            #expect(start.status == .ok && start.text.contains(#"<a href="/orgs/other">other</a>"#), "\(start.text)")
            #expect(start.text.contains(#"<a href="/orgs/default">default</a>"#))
        }
    }

    @Test func aPackPageShowsVersionsPoliciesSchemaAndAComparison() async throws {
        try await TestServer.with { server, api in
            _ = try await Self.seed(server, api)
            let browser = ConsoleBrowser(api)
            try await browser.signIn(server.adminToken)
            let page = try await browser.get("/orgs/default/packs/guard")
            #expect(page.status == .ok)
            let text = page.text
            // Versions newest first, with size and digest; the newest is shown.
            #expect(text.range(of: ">2.0.0</a>")!.lowerBound < text.range(of: ">1.0.0</a>")!.lowerBound)
            #expect(text.contains("Policies of version 2.0.0"))
            #expect(text.contains(#"id="policy-owner""#) && !text.contains(#"id="policy-tags""#))
            #expect(text.contains("<td>admin</td>"), "who published each version")
            let digest = try #require(text.firstMatch(of: /<code class="hash">([0-9a-f]{64})<\/code>/))
            #expect(digest.1.count == 64)
            // The schema as a table: property, type, default, constraints, required.
            #expect(text.contains("<code>maxAge</code> <span class=\"badge\">required</span>"))
            #expect(text.contains("<td>integer</td>") && text.contains("≥ 1") && text.contains("one of &quot;eu&quot;"))

            let older = try await browser.get("/orgs/default/packs/guard?version=1")
            #expect(older.text.contains("Policies of version 1.0.0") && older.text.contains(#"id="policy-tags""#))
            let bad = try await browser.get("/orgs/default/packs/guard?version=x")
            #expect(bad.status == .badRequest && bad.text.contains("version must be a version number"))

            let diff = try await browser.get("/orgs/default/packs/guard/compare?from=1&to=2")
            #expect(diff.status == .ok, "\(diff.text)")
            let added = try #require(diff.text.range(of: "Added policies"))
            let removed = try #require(diff.text.range(of: "Removed policies"))
            #expect(diff.text[added.upperBound..<removed.lowerBound].contains("<code>owner</code>"))
            #expect(diff.text[removed.upperBound...].contains("<code>tags</code>"))
            #expect(diff.text.contains("enforcement level advisory → mandatory"))
        }
    }

    @Test func aPackOfManyVersionsShowsItsNewestAndPagesThroughTheRest() async throws {
        try await TestServer.with { server, api in
            for patch in 1...101 {
                try await api.publish("default", "many", tag: "1.0.\(patch)", token: server.adminToken)
            }
            let browser = ConsoleBrowser(api)
            try await browser.signIn(server.adminToken)
            let first = try await browser.get("/orgs/default/packs/many")
            #expect(first.text.contains("Policies of version 1.0.101"), "the newest, though not on this page")
            let more = try #require(first.text.firstMatch(of: /href="([^"]*\?after=[^"]+)">Later versions/))
            let rest = try await browser.get(String(more.1).replacingOccurrences(of: "&amp;", with: "&"))
            #expect(rest.status == .ok && rest.text.contains(">1.0.101</a>") && !rest.text.contains(">1.0.1</a>"))
            let overview = try await browser.get("/orgs/default")
            #expect(overview.text.contains("<td>1.0.101</td><td>101</td>"), "latest tag and count")
        }
    }

    @Test func hostilePackTextIsShownAsTextAndItsReadmeIsSanitised() async throws {
        try await TestServer.with { server, api in
            let hostile = #"<script>alert(1)</script><img src=x onerror=alert(2)>"#
            var body = Fixtures.createBody(
                "evil", tag: "1.0.0",
                policies: [
                    [
                        "name": "p", "displayName": .string(hostile), "description": .string(hostile),
                        "enforcementLevel": "advisory", "message": "m", "remediationSteps": .string(hostile),
                        "url": "javascript:alert(3)",
                    ]
                ])
            if case .object(var members) = body {
                members["readme"] = .string("# Hello\n\n<script>alert(4)</script>\n\n[click](javascript:alert(5))")
                members["description"] = .string(hostile)
                body = .object(members)
            }
            let created = try await api.send(
                .post, "/api/orgs/default/policypacks", token: server.adminToken, json: body)
            #expect(created.status == .created, "\(created.text)")
            let uploaded = try await api.upload(
                try #require(created.json["uploadURI"]?.stringValue), Fixtures.packArchive())
            #expect(uploaded.status == .ok)
            let completed = try await api.send(
                .post, "/api/orgs/default/policypacks/evil/versions/1.0.0/complete", token: server.adminToken)
            #expect(completed.status == .noContent)

            let browser = ConsoleBrowser(api)
            try await browser.signIn(server.adminToken)
            let page = try await browser.get("/orgs/default/packs/evil")
            #expect(page.status == .ok)
            #expect(!page.text.contains("<script"), "\(page.text)")
            #expect(!page.text.contains("<img"))
            #expect(!page.text.lowercased().contains("href=\"javascript:"))
            #expect(page.text.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "shown as text, escaped")
            #expect(page.text.contains("<h1>Hello</h1>"), "the README's Markdown is rendered")
        }
    }
}
