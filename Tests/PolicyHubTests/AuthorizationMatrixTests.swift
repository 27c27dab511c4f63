import Foundation
import HTTPTypes
import MetadataStoreSQL
import NIOCore
import PolicyHubCore
import Testing

/// Every route of the API against every kind of caller: each cell must get exactly the status the API defines,
/// no response may show another organization's packs or groups, and afterwards the stores hold exactly the
/// fixtures plus what the org's admin changed.
@Suite("Authorization matrix")
struct AuthorizationMatrixTests {
    @Test func everyRouteAnswersEveryCallerAsTheAPIDefines() async throws {
        try await TestServer.with { server, api in
            let fixture = try await MatrixFixture.build(server, api)
            let routes = fixture.routes
            var expected = try await fixture.snapshot()
            // The fixtures are really there, so an unchanged store means something.
            #expect(expected.orgs[MatrixFixture.org]?.versions.count == 7)
            #expect(expected.orgs[MatrixFixture.org]?.pending.count == 4)
            #expect(expected.orgs[MatrixFixture.org]?.groups.count == 3)
            #expect(expected.orgs[MatrixFixture.otherOrg]?.groups["rival-prod"]?.count == 2)
            var cells = 0
            // The org's admin comes last, so every other caller meets the fixtures untouched.
            for caller in MatrixCaller.allCases {
                for route in routes {
                    let response = try await fixture.send(route, as: caller)
                    let want = route.expectedStatus(for: caller)
                    let cell = "\(caller) \(route.label)"
                    #expect(response.status == want, "\(cell): \(response.status) \(response.text)")
                    MatrixFixture.checkBody(response, of: route, for: caller, cell: cell)
                    if response.status == want, want.kind == .successful { route.effect?(&expected) }
                    cells += 1
                }
            }
            #expect(try await fixture.snapshot() == expected)
            #expect(cells == MatrixCaller.allCases.count * routes.count)
            // Every refusal of a signed-in caller by an organization route is in that organization's audit trail.
            let refusals = MatrixCaller.allCases.reduce(0) { count, caller in
                count + routes.filter { [.forbidden, .notFound].contains($0.expectedStatus(for: caller)) }.count
            }
            let denied = try await server.store.auditEvents(
                AuditQuery(
                    organization: MatrixFixture.org, action: AuditAction.authorizationDenied, limit: 10_000),
                after: nil)
            #expect(denied.count == refusals, "\(denied.map(\.target))")
            print(
                "authorization matrix: \(MatrixCaller.allCases.count) callers x \(routes.count) routes = \(cells) cells"
            )
        }
    }
}

/// The matrix's routes come from a list written by hand; the API document decides what must be on it.
@Suite("Authorization matrix coverage")
struct AuthorizationMatrixCoverageTests {
    /// `METHOD /path/{template}` for every operation of `openapi.yaml`.
    static func documentedOperations() throws -> Set<String> {
        let document = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Sources/PolicyHubAPI/openapi.yaml")
        var operations: Set<String> = []
        var path: String?
        for line in try String(contentsOf: document, encoding: .utf8).split(separator: "\n") {
            if line.hasPrefix("  /"), line.hasSuffix(":") {
                path = String(line.dropFirst(2).dropLast())
            } else if line.hasPrefix("  "), !line.hasPrefix("   ") {
                path = nil
            } else if let path, line.hasPrefix("    "), !line.hasPrefix("     "),
                let method = ["get", "put", "post", "delete", "patch", "head"].first(where: { line == "    \($0):" })
            {
                operations.insert("\(method.uppercased()) \(path)")
            }
        }
        return operations
    }

    @Test func everyDocumentedOperationIsInTheMatrix() async throws {
        let documented = try Self.documentedOperations()
        #expect(documented.count > 40, "the document's operations were not found")
        try await TestServer.with { server, api in
            let routes = try await MatrixFixture.build(server, api).routes
            let missing = documented.filter { operation in
                let parts = operation.split(separator: " ", maxSplits: 1).map(String.init)
                let pattern = "^" + parts[1].replacing(/\{[^}]+\}/, with: "[^/]+") + "$"
                return !routes.contains { route in
                    route.method.rawValue == parts[0]
                        && (route.path.split(separator: "?").first.map(String.init) ?? "").wholeMatch(
                            of: try! Regex(pattern))
                            != nil
                }
            }
            #expect(missing.isEmpty, "operations of openapi.yaml the matrix does not call: \(missing.sorted())")
        }
    }
}

/// Who calls. The four bad tokens belong (or would belong) to the org's admin, so only the token check stops them.
enum MatrixCaller: String, CaseIterable, CustomStringConvertible {
    case noToken, malformedToken, unknownToken, revokedToken, expiredToken
    case nonMember, member, adminOfAnotherOrg, admin

    var description: String { rawValue }

    var hasBadToken: Bool { [.malformedToken, .unknownToken, .revokedToken, .expiredToken].contains(self) }

    var organizations: Set<String> {
        switch self {
        case .member, .admin: [MatrixFixture.org]
        case .adminOfAnotherOrg: [MatrixFixture.otherOrg]
        default: []
        }
    }
}

/// One route and who may call it.
struct MatrixRoute {
    enum Access {
        /// Any valid token, whatever its organizations.
        case session
        /// No token needed; a present bad token is 401.
        case anonymousList
        /// Members and admins of the organization.
        case member
        /// Admins of the organization; members are forbidden.
        case admin
        /// The signed link in the path is the only credential; an Authorization header is ignored.
        case signedLink
        /// No credential at all.
        case open
    }

    var method: HTTPRequest.Method
    var path: String
    var access: Access
    var success: HTTPResponse.Status
    var json: JSONValue? = nil
    var upload: [UInt8]? = nil
    /// A name the body must show to members of the organization (so that "nothing" is not mistaken for right).
    var shows: String? = nil
    /// What a success by the org's admin changes in the expected state.
    var effect: ((inout MatrixState) -> Void)? = nil

    var label: String {
        for (prefix, parameter) in [("/api/uploads/", "{uploadToken}"), ("/api/downloads/", "{downloadToken}")]
        where path.hasPrefix(prefix) {
            return "\(method) \(prefix)\(parameter)"
        }
        return "\(method) \(path)"
    }

    func expectedStatus(for caller: MatrixCaller) -> HTTPResponse.Status {
        switch access {
        case .open, .signedLink: return success
        case .anonymousList: return caller.hasBadToken ? .unauthorized : success
        case .session: return caller.hasBadToken || caller == .noToken ? .unauthorized : success
        case .member, .admin:
            switch caller {
            case .noToken, .malformedToken, .unknownToken, .revokedToken, .expiredToken: return .unauthorized
            case .nonMember, .adminOfAnotherOrg: return .notFound
            case .member: return access == .admin ? .forbidden : success
            case .admin: return success
            }
        }
    }
}

/// What the stores hold per organization: completed and pending versions (`pack@tag`) and each group's
/// stacks and applied packs.
struct MatrixState: Equatable {
    struct Org: Equatable {
        var versions: Set<String> = []
        var pending: Set<String> = []
        var groups: [String: Set<String>] = [:]
    }

    var orgs: [String: Org] = [:]

    mutating func removePack(_ name: String, in org: String = MatrixFixture.org) {
        guard var state = orgs[org] else { return }
        state.versions = state.versions.filter { !$0.hasPrefix(name + "@") }
        state.pending = state.pending.filter { !$0.hasPrefix(name + "@") }
        orgs[org] = state
    }

    mutating func complete(_ version: String, in org: String = MatrixFixture.org) {
        orgs[org]?.pending.remove(version)
        orgs[org]?.versions.insert(version)
    }
}

/// Two organizations with packs, versions, pending versions and groups, a user for every kind of caller, and
/// one target per mutating route, so that each route meets its target whatever ran before it.
struct MatrixFixture {
    static let org = "acme"
    static let otherOrg = "rival"

    let server: TestServer
    let api: APIClient
    let headers: [MatrixCaller: String?]
    let uploadPath: String
    let downloadPath: String
    let archive: [UInt8]
    /// An issue of acme's stack web/prod, opened by a report.
    let issueID: String

    static func build(_ server: TestServer, _ api: APIClient) async throws -> MatrixFixture {
        let identity = server.identity
        for organization in [org, otherOrg] {
            try await identity.createOrganization(try Name(organization, field: "org"))
        }
        let admin = try await server.makeUser("boss", in: org, role: .admin)
        let member = try await server.makeUser("reader", in: org, role: .member)
        let outsider = try await server.makeUser("outsider")
        let rival = try await server.makeUser("rival-admin", in: otherOrg, role: .admin)
        let revoked = try await identity.createToken(login: "boss", description: "revoked")
        let revokedID = try #require(try await identity.listTokens(login: "boss").first { $0.description == "revoked" })
        try await identity.revokeToken(id: revokedID.id)
        let expired = try await identity.createToken(login: "boss", description: "expiring", lifetime: 60)

        let archive = Fixtures.packArchive()
        let schema: JSONValue = ["type": "object", "properties": ["limit": ["type": "integer"]]]
        let policies = [Fixtures.policy("rule", schema: schema)]
        try await api.publish(org, "acme-guard", tag: "1.0.0", token: admin, policies: policies, archive: archive)
        for name in ["acme-del-org", "acme-del-reg", "acme-del-prev"] {
            try await api.publish(org, name, tag: "1.0.0", token: admin, archive: archive)
        }
        for tag in ["1.0.1", "1.0.2", "1.0.3"] {
            try await api.publish(org, "acme-scratch", tag: tag, token: admin, archive: archive)
        }
        for tag in ["2.0.1", "2.0.2", "2.0.3"] {
            _ = try await pending(api, "acme-scratch", tag: tag, token: admin, archive: archive)
        }
        let uploadURI = try await pending(api, "acme-upload", tag: "1.0.0", token: admin, archive: archive)
        try await group(api, org, "acme-prod", pack: "acme-guard", token: admin)
        try await group(api, org, "acme-doomed", pack: nil, token: admin)
        try await api.publish(otherOrg, "rival-guard", tag: "1.0.0", token: rival, archive: archive)
        try await group(api, otherOrg, "rival-prod", pack: "rival-guard", token: rival)

        #expect(
            try await api.send(.put, reportPath, token: admin, json: report(update: 1)).status == .ok)
        let issues = try await api.send(.post, "/api/orgs/\(org)/policyresults/issues", token: admin, json: [:])
        let issueID = try #require(issues.json["policyIssues"]?.arrayValue?.first?["id"]?.stringValue, "\(issues.text)")

        server.clock.advance(by: 61)  // the expiring token has expired
        let required = try await api.send(.get, "/api/stacks/\(org)/web/prod/policypacks", token: admin)
        let location = try #require(required.json["requiredPolicies"]?.arrayValue?.first?["packLocation"]?.stringValue)
        return MatrixFixture(
            server: server, api: api,
            headers: [
                .noToken: nil, .malformedToken: "token pul-not-a-token",
                .unknownToken: "token \(AccessToken.generate())",
                .revokedToken: "token \(revoked)", .expiredToken: "token \(expired)",
                .nonMember: "token \(outsider)", .member: "token \(member)", .adminOfAnotherOrg: "token \(rival)",
                .admin: "token \(admin)",
            ],
            uploadPath: try path(of: uploadURI), downloadPath: try path(of: location), archive: archive,
            issueID: issueID)
    }

    static let reportPath = "/api/preview/insights/\(org)/policy/stacks/web/prod/updates/1/results"

    /// A report of one violation of acme-guard's `rule` on web/prod.
    static func report(update: Int) -> JSONValue {
        [
            "claimId": "matrix",
            "results": [
                "succeeded": true,
                "violations": [
                    [
                        "message": "broken", "policyName": "rule", "policyPackName": "acme-guard",
                        "policyPackVersion": "1.0.0", "enforcementLevel": "mandatory",
                        "resourceURN": "urn:pulumi:prod::web::aws:s3/bucket:Bucket::logs",
                    ]
                ],
            ],
        ]
    }

    /// Creates a version and uploads its archive without completing it; returns the upload URI.
    static func pending(_ api: APIClient, _ name: String, tag: String, token: String, archive: [UInt8]) async throws
        -> String
    {
        let created = try await api.send(
            .post, "/api/orgs/\(org)/policypacks", token: token, json: Fixtures.createBody(name, tag: tag))
        let uploadURI = try #require(created.json["uploadURI"]?.stringValue, "\(created.text)")
        #expect(try await api.upload(uploadURI, archive).status == .ok)
        return uploadURI
    }

    /// A group applying `pack` 1.0.0 to the stack web/prod.
    static func group(_ api: APIClient, _ organization: String, _ name: String, pack: String?, token: String)
        async throws
    {
        let created = try await api.send(
            .post, "/api/orgs/\(organization)/policygroups", token: token,
            json: ["name": .string(name), "entityType": "stacks"])
        #expect(created.status == .created, "\(created.text)")
        guard let pack else { return }
        let changed = try await api.send(
            .patch, "/api/orgs/\(organization)/policygroups/\(name)", token: token,
            json: [
                "addStack": ["name": "prod", "routingProject": "web"],
                "addPolicyPack": ["name": .string(pack), "versionTag": "1.0.0"],
            ])
        #expect(changed.status == .noContent, "\(changed.text)")
    }

    static func path(of url: String) throws -> String {
        guard let components = URLComponents(string: url), !components.percentEncodedPath.isEmpty else {
            throw TestFailure("not a URL: \(url)")
        }
        return components.percentEncodedPath
    }

    var routes: [MatrixRoute] {
        let org = Self.org
        let packs = "/api/orgs/\(org)/policypacks"
        let groups = "/api/orgs/\(org)/policygroups"
        let results = "/api/orgs/\(org)/policyresults"
        var routes: [MatrixRoute] = [
            .init(method: .get, path: "/api/user", access: .session, success: .ok),
            .init(method: .get, path: "/api/capabilities", access: .session, success: .ok),
            .init(method: .get, path: "/api/user/organizations/default", access: .session, success: .ok),
            .init(method: .get, path: "/api/user/stacks", access: .session, success: .ok),

            .init(method: .get, path: packs, access: .member, success: .ok),
            .init(
                method: .post, path: packs, access: .admin, success: .created,
                json: Fixtures.createBody("acme-new", tag: "1.0.0"),
                effect: { $0.orgs[org]?.pending.insert("acme-new@1.0.0") }),
            .init(
                method: .delete, path: "\(packs)/acme-del-org", access: .admin, success: .ok,
                effect: { $0.removePack("acme-del-org") }),
            .init(method: .get, path: "\(packs)/acme-guard/versions/1.0.0", access: .member, success: .ok),
            .init(
                method: .delete, path: "\(packs)/acme-scratch/versions/1.0.1", access: .admin, success: .ok,
                effect: { $0.orgs[org]?.versions.remove("acme-scratch@1.0.1") }),
            .init(
                method: .post, path: "\(packs)/acme-scratch/versions/2.0.1/complete", access: .admin,
                success: .noContent, effect: { $0.complete("acme-scratch@2.0.1") }),
            .init(method: .get, path: "\(packs)/acme-guard/versions/1.0.0/schema", access: .member, success: .ok),
            .init(
                method: .get, path: "/api/orgs/\(org)/registry/policypacks/acme-guard", access: .member, success: .ok),
        ]
        // The registry's stable and preview paths, each with its own targets.
        for (prefix, suffix, listBody) in [
            ("/api/registry/policypacks", "reg", ["access": "available"] as JSONValue),
            ("/api/preview/registry/policypacks", "prev", ["access": "available", "orgLogin": .string(org)]),
        ] {
            let pack = "\(prefix)/private/\(org)"
            let tag = suffix == "reg" ? "2" : "3"
            routes += [
                .init(
                    method: .get, path: "\(prefix)?orgLogin=\(org)", access: .anonymousList, success: .ok,
                    shows: "acme-guard"),
                .init(
                    method: .post, path: prefix, access: .anonymousList, success: .ok, json: listBody,
                    shows: "acme-guard"),
                .init(
                    method: .delete, path: "\(pack)/acme-del-\(suffix)", access: .admin, success: .noContent,
                    effect: { $0.removePack("acme-del-\(suffix)") }),
                .init(method: .get, path: "\(pack)/acme-guard/versions", access: .member, success: .ok),
                .init(
                    method: .post, path: "\(pack)/acme-new-\(suffix)/versions", access: .admin, success: .created,
                    json: Fixtures.createBody("acme-new-\(suffix)", tag: "1.0.0", tagKey: "version"),
                    effect: { $0.orgs[org]?.pending.insert("acme-new-\(suffix)@1.0.0") }),
                .init(method: .get, path: "\(pack)/acme-guard/versions/1.0.0", access: .member, success: .ok),
                .init(
                    method: .delete, path: "\(pack)/acme-scratch/versions/1.0.\(tag)", access: .admin,
                    success: .noContent, effect: { $0.orgs[org]?.versions.remove("acme-scratch@1.0.\(tag)") }),
                .init(
                    method: .post, path: "\(pack)/acme-scratch/versions/2.0.\(tag)/complete", access: .admin,
                    success: .noContent, effect: { $0.complete("acme-scratch@2.0.\(tag)") }),
            ]
        }
        routes += [
            .init(method: .get, path: groups, access: .member, success: .ok),
            .init(
                method: .post, path: groups, access: .admin, success: .created,
                json: ["name": "acme-new", "entityType": "stacks"], effect: { $0.orgs[org]?.groups["acme-new"] = [] }),
            .init(method: .get, path: "\(groups)/acme-prod", access: .member, success: .ok),
            .init(
                method: .patch, path: "\(groups)/acme-prod", access: .admin, success: .noContent,
                json: ["addStack": ["name": "staging", "routingProject": "web"]],
                effect: { $0.orgs[org]?.groups["acme-prod"]?.insert("stack web/staging") }),
            .init(
                method: .delete, path: "\(groups)/acme-doomed", access: .admin, success: .noContent,
                effect: { $0.orgs[org]?.groups["acme-doomed"] = nil }),
            .init(method: .get, path: "\(groups)/acme-prod/stacks", access: .member, success: .ok),

            .init(method: .get, path: "/api/stacks/\(org)/web/prod", access: .member, success: .ok),
            .init(method: .get, path: "/api/stacks/\(org)/web/prod/policypacks", access: .member, success: .ok),
            .init(method: .get, path: "/api/stacks/\(org)/web/prod/policygroups", access: .member, success: .ok),

            .init(method: .get, path: "/api/orgs/\(org)/auditlogs", access: .admin, success: .ok),

            // Reporting the same evaluation again changes nothing, so every successful caller gets 200.
            .init(method: .put, path: Self.reportPath, access: .member, success: .ok, json: Self.report(update: 1)),
            .init(
                method: .post, path: "\(results)/issues", access: .member, success: .ok, json: [:], shows: "acme-guard"),
            .init(
                method: .post, path: "\(results)/issues/filters", access: .member, success: .ok,
                json: ["field": "policyPack"], shows: "acme-guard"),
            .init(
                method: .post, path: "\(results)/issues/export", access: .member, success: .ok, json: [:],
                shows: "acme-guard"),
            .init(method: .get, path: "\(results)/issues/\(issueID)", access: .member, success: .ok, shows: "rule"),
            .init(
                method: .patch, path: "\(results)/issues/\(issueID)", access: .admin, success: .ok,
                json: ["status": "in_progress", "priority": "p1"]),
            .init(
                method: .post, path: "\(results)/compliance", access: .member, success: .ok, json: [:],
                shows: "web/prod"),
            .init(
                method: .post, path: "\(results)/policies", access: .member, success: .ok, json: [:],
                shows: "acme-guard"),
            .init(method: .get, path: "\(results)/metadata", access: .member, success: .ok),
            .init(method: .get, path: "\(results)/violationsv2", access: .member, success: .ok, shows: "broken"),
            .init(method: .post, path: "\(results)/violationsv2", access: .member, success: .ok, shows: "broken"),

            // Re-uploading a pending version's archive replaces it, which the snapshot does not see.
            .init(method: .put, path: uploadPath, access: .signedLink, success: .ok, upload: archive),
            .init(method: .get, path: downloadPath, access: .signedLink, success: .ok),
            .init(method: .head, path: downloadPath, access: .signedLink, success: .ok),

            .init(method: .get, path: "/healthz", access: .open, success: .ok),
            .init(method: .get, path: "/readyz", access: .open, success: .ok),
            .init(method: .get, path: "/api/openapi.yaml", access: .open, success: .ok),
        ]
        return routes
    }

    func send(_ route: MatrixRoute, as caller: MatrixCaller) async throws -> APIResponse {
        var extra: HTTPFields = [:]
        if let header = headers[caller] ?? nil { extra[.authorization] = header }
        if route.path.hasPrefix("/api/downloads/") {
            return try await api.download(route.path, method: route.method, headers: extra)
        }
        if let upload = route.upload {
            // As the CLI uploads: no JSON content type.
            extra[.userAgent] = "pulumi-cli/1 (v3.259.0; linux)"
            return try await api.raw(route.method, route.path, headers: extra, body: ByteBuffer(bytes: upload))
        }
        return try await api.send(route.method, route.path, token: nil, json: route.json, headers: extra)
    }

    /// Error bodies carry the status as `code`; org routes hide the organization from outsiders; no body shows
    /// the packs or groups of an organization the caller is not in.
    static func checkBody(_ response: APIResponse, of route: MatrixRoute, for caller: MatrixCaller, cell: String) {
        if response.status.kind != .successful && route.method != .head {
            #expect(response.code == Int64(response.status.code), "\(cell): \(response.text)")
        }
        if response.status == .notFound && [.member, .admin].contains(route.access) {
            #expect(response.message == "Organization not found", "\(cell): \(response.text)")
        }
        if let shown = route.shows, response.status.kind == .successful, caller.organizations.contains(org) {
            #expect(response.text.contains(shown), "\(cell): \(response.text)")
        }
        guard route.access != .signedLink && route.access != .open else { return }
        // Pack and group names; the rival admin's login may rightly show in acme's audit log of refused attempts.
        for (organization, marker) in [(org, "acme-"), (otherOrg, "rival-guard"), (otherOrg, "rival-prod")]
        where !caller.organizations.contains(organization) {
            #expect(!response.text.contains(marker), "\(cell) shows \(organization)'s data: \(response.text)")
        }
    }

    /// The packs, versions and groups of every organization, read from the store.
    func snapshot() async throws -> MatrixState {
        let store = server.store
        let pending = try await store.pendingVersions(before: .distantFuture)
        var state = MatrixState()
        for organization in [Self.org, Self.otherOrg, IdentityService.initialOrganization] {
            var org = MatrixState.Org()
            for pack in try await store.listPacks(organization: organization, name: nil) {
                for (number, tag) in zip(pack.versions, pack.versionTags) {
                    org.versions.insert("\(pack.name)@\(tag.isEmpty ? String(number) : tag)")
                }
            }
            org.pending = Set(pending.filter { $0.organization == organization }.map { "\($0.name)@\($0.label)" })
            for summary in try await store.listGroups(organization: organization) {
                let group = try await store.group(organization: organization, name: summary.name)
                org.groups[summary.name] = Set(
                    group.stacks.map { "stack \($0.project)/\($0.name)" }
                        + group.packs.map { "pack \($0.version.name)@\($0.version.label)" })
            }
            state.orgs[organization] = org
        }
        return state
    }
}
