import Foundation
import PolicyHubFetch
import Testing

/// The body `policyhub report` sends, built from event logs in the format `pulumi preview|up --event-log FILE`
/// writes, and read back as plain JSON: what is checked is what goes over the wire.
@Suite("Results reports")
struct ResultsReportTests {
    typealias Log = EngineEventLogTests
    static let claim = UUID(uuidString: "6F1C3A52-9D0B-4E57-8F0E-2B7C1D9A4E33")!

    /// The body of the report of `log`, as a JSON object.
    static func body(
        _ log: String, succeeded: Bool = true, limits: ResultsReport.Limits = .init()
    ) throws -> (json: [String: Any], bounded: BoundedReport) {
        let report = ResultsReport(findings: EngineEventLog.parse(Data(log.utf8)), succeeded: succeeded, claimId: claim)
        let bounded = try report.bounded(by: limits)
        let json = try #require(try JSONSerialization.jsonObject(with: bounded.body) as? [String: Any])
        return (json, bounded)
    }

    static func results(_ json: [String: Any]) throws -> [String: Any] {
        try #require(json["results"] as? [String: Any])
    }

    static func violations(_ json: [String: Any]) throws -> [[String: Any]] {
        try #require(try results(json)["violations"] as? [[String: Any]])
    }

    @Test func everyEnforcementLevelIsSentAsTheAPINamesIt() throws {
        let (json, _) = try Self.body(Log.preview)
        #expect(json["claimId"] as? String == "6f1c3a52-9d0b-4e57-8f0e-2b7c1d9a4e33")
        #expect(try Self.results(json)["succeeded"] as? Bool == true)
        let violations = try Self.violations(json)
        #expect(
            violations.map { "\($0["policyName"] ?? "") \($0["enforcementLevel"] ?? "")" } == [
                "no-public-buckets mandatory", "tagged advisory", "encrypted remediate", "stack-budget advisory",
            ])
        let first = try #require(violations.first)
        #expect(
            Set(first.keys) == [
                "message", "policyName", "policyPackName", "policyPackVersion", "enforcementLevel", "kind",
                "resourceURN",
            ])
        #expect(first["resourceURN"] as? String == Log.bucket)
        #expect(first["message"] as? String == "no-public-buckets failed")
        #expect(first["policyPackName"] as? String == "guard")
        #expect(first["policyPackVersion"] as? String == "1.2.0", "the version tag, not the number")
        #expect(violations.allSatisfy { $0["kind"] as? String == "preventative" })
        #expect(violations.last?["resourceURN"] == nil, "a stack policy's violation names no resource")
        #expect(violations.allSatisfy { $0["resourceUrn"] == nil && $0["severity"] == nil })

        let disabled = Log.line(0, "policyEvent", Log.violation(Log.bucket, policy: "off", level: "none"))
        #expect(
            try Self.violations(try Self.body(disabled).json).map { $0["enforcementLevel"] as? String } == ["disabled"])
    }

    @Test func aPackWithoutAVersionTagIsNamedByItsNumber() throws {
        let event = Log.violation(Log.bucket, policy: "tagged", level: "mandatory")
            .replacingOccurrences(of: #""policyPackVersionTag":"1.2.0""#, with: #""policyPackVersionTag":"""#)
        let violations = try Self.violations(try Self.body(Log.line(0, "policyEvent", event)).json)
        #expect(violations.map { $0["policyPackVersion"] as? String } == ["3"])
    }

    /// A remediation the log also has a `policyEvent` for is that violation; one without becomes its own.
    @Test func aRemediationIsAViolationOnlyWhenNoPolicyEventNamesIt() throws {
        let alone =
            Log.line(
                0, "policyRemediationEvent",
                #"{"resourceUrn":"\#(Log.bucket)","color":"never","policyName":"add-tags","policyPackName":"guard","#
                    + #""policyPackVersion":"3","policyPackVersionTag":"","before":{},"after":{"tags":{"a":"b"}}}"#)
        let (json, bounded) = try Self.body(Log.preview + alone + "\n")
        let violations = try Self.violations(json)
        #expect(violations.filter { $0["policyName"] as? String == "encrypted" }.count == 1)
        let added = try #require(violations.last)
        #expect(added["policyName"] as? String == "add-tags")
        #expect(added["enforcementLevel"] as? String == "remediate")
        #expect(added["message"] as? String == "remediated by add-tags")
        #expect(added["resourceURN"] as? String == Log.bucket)
        #expect(added["policyPackVersion"] as? String == "3")
        #expect(violations.count == 5)
        #expect(bounded.report.policyCount == 5)
    }

    @Test func summariesBecomeEvaluationsAndTheStacksNamesNoResource() throws {
        let evaluations = try #require(
            try Self.results(try Self.body(Log.preview).json)["evaluations"] as? [[String: Any]])
        #expect(evaluations.count == 2)
        let resource = evaluations[0]
        #expect(resource["resourceURN"] as? String == Log.bucket)
        #expect(resource["policyPackName"] as? String == "guard")
        #expect(resource["policyPackVersion"] as? String == "1.2.0")
        #expect(resource["passed"] as? [String] == ["versioned"])
        #expect(resource["failed"] as? [String] == ["no-public-buckets", "tagged"])
        let stack = evaluations[1]
        #expect(Set(stack.keys) == ["policyPackName", "policyPackVersion", "passed", "failed"])
        #expect(stack["passed"] as? [String] == [])
        #expect(stack["failed"] as? [String] == ["stack-budget"])
    }

    /// Older CLIs write no summaries: the report then has no `evaluations` at all, not an empty list.
    @Test func aLogWithoutSummariesSendsNoEvaluations() throws {
        let log = Log.line(0, "policyEvent", Log.violation(Log.bucket, policy: "tagged", level: "advisory"))
        let results = try Self.results(try Self.body(log).json)
        #expect(results["evaluations"] == nil)
        #expect((results["violations"] as? [Any])?.count == 1)
    }

    @Test func aRunWithoutViolationsSendsAnEmptyList() throws {
        let results = try Self.results(try Self.body(Log.line(0, "preludeEvent", #"{"config":{}}"#)).json)
        #expect((results["violations"] as? [Any])?.isEmpty == true)
    }

    @Test func identicalViolationsAreSentOnce() throws {
        let event = Log.violation(Log.bucket, policy: "tagged", level: "advisory")
        let other = Log.violation(Log.database, policy: "tagged", level: "advisory")
        let log = [
            Log.line(0, "policyEvent", event), Log.line(1, "policyEvent", other), Log.line(2, "policyEvent", event),
        ]
        .joined(separator: "\n")
        let violations = try Self.violations(try Self.body(log).json)
        #expect(violations.map { $0["resourceURN"] as? String } == [Log.bucket, Log.database])
    }

    /// A run killed mid-write did not succeed, whatever its exit status; without one, a mandatory violation fails it.
    @Test func aTruncatedLogIsAFailedRun() {
        let complete = EngineEventLog.parse(Data(Log.preview.utf8))
        let cut = EngineEventLog.parse(Data(Log.preview.dropLast(40).utf8))
        #expect(cut.truncated)
        #expect(ResultsReport.succeeded(complete, exitStatus: 0))
        #expect(!ResultsReport.succeeded(complete, exitStatus: 1))
        #expect(!ResultsReport.succeeded(cut, exitStatus: 0))
        #expect(!ResultsReport.succeeded(complete, exitStatus: nil), "the preview violates a mandatory policy")
        let advisory = EngineEventLog.parse(
            Data(Log.line(0, "policyEvent", Log.violation(Log.bucket, policy: "tagged", level: "advisory")).utf8))
        #expect(ResultsReport.succeeded(advisory, exitStatus: nil))
    }

    @Test func aReportOverTheServersCountsKeepsTheFirstOnes() throws {
        var limits = ResultsReport.Limits()
        limits.maxViolations = 2
        limits.maxEvaluations = 1
        let (json, bounded) = try Self.body(Log.preview, limits: limits)
        #expect(try Self.violations(json).map { $0["policyName"] as? String } == ["no-public-buckets", "tagged"])
        #expect((try Self.results(json)["evaluations"] as? [Any])?.count == 1)
        #expect(bounded.omittedViolations == 2)
        #expect(bounded.omittedEvaluations == 1)
    }

    @Test func aMessageOverTheServersLengthIsCut() throws {
        let long = String(repeating: "é", count: 20_000)
        let event = Log.violation(Log.bucket, policy: "tagged", level: "advisory")
            .replacingOccurrences(of: "tagged failed", with: long)
        let violations = try Self.violations(try Self.body(Log.line(0, "policyEvent", event)).json)
        let message = try #require(violations.first?["message"] as? String)
        #expect(message.count == 16_384)
        #expect(message == String(repeating: "é", count: 16_383) + "…")
    }

    @Test func aReportOverTheServersByteLimitIsCutToFit() throws {
        let long = String(repeating: "x", count: 2000)
        let log = (0..<50).map { index in
            Log.line(
                index, "policyEvent",
                Log.violation("\(Log.bucket)-\(index)", policy: "tagged", level: "advisory")
                    .replacingOccurrences(of: "tagged failed", with: long))
        }.joined(separator: "\n")
        var limits = ResultsReport.Limits()
        limits.maxBodyBytes = 20_000
        let (json, bounded) = try Self.body(log, limits: limits)
        #expect(bounded.body.count <= 20_000)
        let sent = try Self.violations(json)
        #expect(!sent.isEmpty && sent.count < 50)
        #expect(bounded.omittedViolations == 50 - sent.count)
        #expect(sent.first?["resourceURN"] as? String == "\(Log.bucket)-0", "the first ones are kept")
    }
}
