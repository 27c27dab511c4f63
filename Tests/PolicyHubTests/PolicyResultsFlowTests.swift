import Foundation
import HTTPTypes
import PolicyHubCore
import PolicyHubTestSupport
import Testing

/// README's flow, end to end with the real binaries: `policyhub fetch --exec -- pulumi up` (a stand-in `pulumi`
/// writing Pulumi's event log) fails on a mandatory violation, a second run after the fix passes, and the issues
/// and compliance answers say what happened — on SQLite and on PostgreSQL.
extension ReportCommandTests {
    /// The second run: the bucket passes `no-public-read` now, and is still untagged.
    static let fixedLog: String = {
        [
            line(0, "preludeEvent", #"{"config":{}}"#),
            line(1, "policyEvent", violation("tagged", level: "warning")),
            line(
                2, "policyAnalyzeSummaryEvent",
                #"{"resourceUrn":"\#(bucket)","policyPackName":"guard","policyPackVersion":"1","#
                    + #""policyPackVersionTag":"1.0.0","passed":["versioned","no-public-read"],"failed":["tagged"]}"#),
            line(3, "summaryEvent", #"{"maybeCorrupt":false,"durationSeconds":1,"resourceChanges":{}}"#),
        ].joined(separator: "\n") + "\n"
    }()

    @Test(arguments: MetadataBackendKind.available)
    func fromFetchExecToTheComplianceAnswer(_ backend: MetadataBackendKind) async throws {
        let database = backend == .postgres ? try await TestDatabase.create("flow") : nil
        let extra = database.map { ["--database-url", $0.url] } ?? []
        let port = try PolicyHubBinary.freePort()
        do {
            try await withServer(port: port, applyGuard: true, extraArguments: extra) { server, token in
                let pulumi = try standInPulumi()
                func up(_ events: String, ending: Ending) async throws -> Int32 {
                    let run = try await PolicyHubBinary.run(
                        [
                            "fetch", "--server", "http://127.0.0.1:\(port)", "--token", token, "--stack", Self.stack,
                            "--dest", cache.path, "--exec", "--", pulumi.path, "up", "--yes",
                        ],
                        environment: [
                            "ARGUMENTS_FILE": directory.appendingPathComponent("arguments").path, "EVENTS": events,
                            "ENDING": ending.rawValue,
                        ])
                    #expect(run.stderr.contains("reported "), "\(run.stderr)")
                    return run.status
                }
                func post(_ path: String, _ body: JSONValue = [:]) async throws -> JSONValue {
                    let answer = try await server.withClient { api in
                        try await api.send(.post, "/api/orgs/default/policyresults/\(path)", token: token, json: body)
                    }
                    #expect(answer.status == .ok, "\(path): \(answer.text)")
                    return answer.json
                }
                func statuses(closed: String) async throws -> [String: String] {
                    let issues = try await post("issues?closed=\(closed)")["policyIssues"]?.arrayValue ?? []
                    return Dictionary(
                        uniqueKeysWithValues: issues.map {
                            ($0["policyName"]?.stringValue ?? "", $0["status"]?.stringValue ?? "")
                        })
                }

                // The first run fails on the mandatory violation, and fetch keeps pulumi's status.
                #expect(try await up(Self.log(mandatory: true), ending: .failsAMandatoryPolicy) == 1)
                let opened = try await post("issues")
                #expect(opened["rowCount"] == 2, "\(opened)")
                let mandatory = try #require(
                    opened["policyIssues"]?.arrayValue?.first { $0["policyName"]?.stringValue == "no-public-read" })
                #expect(mandatory["level"]?.stringValue == "mandatory")
                #expect(mandatory["resourceURN"]?.stringValue == Self.bucket)
                #expect(mandatory["resourceType"]?.stringValue == "aws:s3/bucket:Bucket")
                #expect(mandatory["policyGroupName"]?.stringValue == "default-policy-group")
                #expect(mandatory["unknownPolicyPack"] == false)

                // The fix: the second run passes; its summary shows the policy passed, so the issue is fixed.
                #expect(try await up(Self.fixedLog, ending: .passes) == 0)
                #expect(try await statuses(closed: "false") == ["tagged": "open"])
                #expect(try await statuses(closed: "true") == ["no-public-read": "fixed"])

                // Compliance from the newest run: 2 of the bucket's 3 policies pass, and nothing has drifted.
                let compliance = try await post("compliance", ["entity": "stack"])
                #expect(compliance["columns"] == ["guard"], "\(compliance)")
                let row = try #require(compliance["rows"]?.arrayValue?.first, "\(compliance)")
                #expect(row["entityName"]?.stringValue == "web/dev")
                #expect(row["scores"] == [66])
                #expect(row["drift"] == [], "\(row)")
                let policies = try await post("policies")["policies"]?.arrayValue ?? []
                let tagged = try #require(policies.first { $0["policyName"]?.stringValue == "tagged" })
                #expect(tagged["governedResources"] == 1)
                #expect(tagged["failingResources"] == 1)
                #expect(tagged["percentCompliant"] == 0)
                let totals = try await server.withClient { api in
                    try await api.send(.get, "/api/orgs/default/policyresults/metadata", token: token)
                }
                #expect(totals.json["resourcesTotalCount"] == 1, "\(totals.text)")
                #expect(totals.json["resourcesWithIssuesCount"] == 1, "\(totals.text)")
            }
        } catch {
            try? await database?.drop()
            throw error
        }
        try await database?.drop()
    }
}
