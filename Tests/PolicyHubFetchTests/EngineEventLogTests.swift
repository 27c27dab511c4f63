import Foundation
import PolicyHubFetch
import Testing

/// Event logs in the format `pulumi preview|up --event-log FILE` writes (pulumi/pulumi
/// `sdk/go/common/apitype/events.go`, one `EngineEvent` a line), and what is read out of them.
@Suite("Engine event logs")
struct EngineEventLogTests {
    static let bucket = "urn:pulumi:prod::web::aws:s3/bucket:Bucket::assets"
    static let database = "urn:pulumi:prod::web::aws:rds/instance:Instance::main"

    /// One line of the log: `sequence`, `timestamp` and the one event member, as the engine encodes them.
    static func line(_ sequence: Int, _ member: String, _ event: String) -> String {
        #"{"sequence":\#(sequence),"timestamp":1764680000,"\#(member)":\#(event)}"#
    }

    static func violation(_ urn: String?, policy: String, level: String, severity: String = "") -> String {
        let resource = urn.map { #""resourceUrn":"\#($0)","# } ?? ""
        return #"{\#(resource)"message":"\#(policy) failed","color":"never","policyName":"\#(policy)","#
            + #""policyPackName":"guard","policyPackVersion":"3","policyPackVersionTag":"1.2.0","#
            + #""enforcementLevel":"\#(level)"\#(severity.isEmpty ? "" : #","severity":"\#(severity)""#)}"#
    }

    /// A preview whose policies report at every enforcement level, remediate a resource and summarise what ran.
    static let preview =
        [
            line(0, "preludeEvent", #"{"config":{"aws:region":"eu-west-1"}}"#),
            line(1, "policyLoadEvent", "{}"),
            line(
                2, "resourcePreEvent",
                #"{"metadata":{"op":"create","urn":"\#(bucket)","type":"aws:s3/bucket:Bucket"},"planning":true}"#),
            line(
                3, "policyEvent", violation(bucket, policy: "no-public-buckets", level: "mandatory", severity: "high")),
            line(4, "policyEvent", violation(bucket, policy: "tagged", level: "advisory")),
            line(5, "policyEvent", violation(database, policy: "encrypted", level: "remediate", severity: "critical")),
            line(6, "policyEvent", violation(nil, policy: "stack-budget", level: "warning")),
            line(
                7, "policyRemediationEvent",
                #"{"resourceUrn":"\#(database)","color":"never","policyName":"encrypted","policyPackName":"guard","#
                    + #""policyPackVersion":"3","policyPackVersionTag":"1.2.0","before":{"storageEncrypted":false},"#
                    + #""after":{"storageEncrypted":true}}"#),
            line(
                8, "policyAnalyzeSummaryEvent",
                #"{"resourceUrn":"\#(bucket)","policyPackName":"guard","policyPackVersion":"3","#
                    + #""policyPackVersionTag":"1.2.0","passed":["versioned"],"failed":["no-public-buckets","tagged"]}"#
            ),
            line(
                9, "policyAnalyzeStackSummaryEvent",
                #"{"policyPackName":"guard","policyPackVersion":"3","policyPackVersionTag":"1.2.0","#
                    + #""failed":["stack-budget"]}"#),
            line(
                10, "diagnosticEvent",
                #"{"urn":"\#(bucket)","message":"mandatory policy violation","color":"never","severity":"error"}"#),
            line(
                11, "summaryEvent", #"{"maybeCorrupt":false,"durationSeconds":3,"resourceChanges":{},"policyPacks":{}}"#
            ),
        ].joined(separator: "\n") + "\n"

    @Test func everyViolationRemediationAndSummaryIsRead() throws {
        let findings = EngineEventLog.parse(Data(Self.preview.utf8))
        #expect(!findings.truncated)
        #expect(findings.unreadableLines == 0)
        #expect(
            findings.violations.map { "\($0.policyName) \($0.enforcementLevel) \($0.severity ?? "-")" } == [
                "no-public-buckets mandatory high", "tagged advisory -", "encrypted remediate critical",
                "stack-budget advisory -",
            ])
        let first = try #require(findings.violations.first)
        #expect(first.resourceUrn == Self.bucket)
        #expect(first.message == "no-public-buckets failed")
        #expect(first.policyPackName == "guard")
        #expect(first.policyPackVersion == "3")
        #expect(first.policyPackVersionTag == "1.2.0")
        #expect(findings.violations.last?.resourceUrn == nil, "a stack policy's violation names no resource")
        #expect(findings.remediations.map(\.policyName) == ["encrypted"])
        #expect(findings.remediations.first?.resourceUrn == Self.database)
        #expect(findings.evaluations.count == 2)
        #expect(findings.evaluations.first?.passed == ["versioned"])
        #expect(findings.evaluations.first?.failed == ["no-public-buckets", "tagged"])
        #expect(findings.evaluations.last?.resourceUrn == nil)
        #expect(findings.evaluations.last?.failed == ["stack-budget"])
    }

    @Test func aDisabledLevelIsNamedAsTheAPINamesIt() {
        let log = Self.line(0, "policyEvent", Self.violation(Self.bucket, policy: "off", level: "none"))
        #expect(EngineEventLog.parse(Data(log.utf8)).violations.map(\.enforcementLevel) == ["disabled"])
    }

    /// A run killed mid-write leaves half a line: what was whole before it is kept, and the cut is reported.
    @Test func aLogCutOffByAKilledRunKeepsItsCompleteEvents() {
        let cut = String(Self.preview.prefix(upTo: Self.preview.range(of: #""policyName":"encrypted""#)!.upperBound))
        let findings = EngineEventLog.parse(Data(cut.utf8))
        #expect(findings.truncated)
        #expect(findings.unreadableLines == 0)
        #expect(findings.violations.map(\.policyName) == ["no-public-buckets", "tagged"])
    }

    @Test func aLineThatIsNoEngineEventIsCountedAndSkipped() {
        let log = "not json\n" + Self.preview
        let findings = EngineEventLog.parse(Data(log.utf8))
        #expect(findings.unreadableLines == 1)
        #expect(!findings.truncated)
        #expect(findings.violations.count == 4)
    }

    @Test func aRunWithoutPoliciesFindsNothing() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("events-\(UUID()).jsonl")
        defer { try? FileManager.default.removeItem(at: file) }
        try Data((Self.line(0, "preludeEvent", #"{"config":{}}"#) + "\n").utf8).write(to: file)
        let findings = try EngineEventLog.read(contentsOf: file)
        #expect(findings == PolicyFindings())
    }
}
