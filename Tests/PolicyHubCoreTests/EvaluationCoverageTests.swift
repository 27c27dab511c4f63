import Crypto
import Foundation
import Testing

@testable import PolicyHubCore

/// What a report counts: the compliance numbers and the fix rule come from here, so a resource counted twice
/// or a URN split wrongly shows up in every compliance answer.
@Suite struct EvaluationCoverageTests {
    static let stack = StackReference(project: "web", name: "prod")

    static func urn(_ name: String, type: String = "aws:s3/bucket:Bucket") -> String {
        "urn:pulumi:prod::web::\(type)::\(name)"
    }

    static func violation(_ urn: String, _ policy: String, message: String = "bad", pack: String = "aws")
        -> PolicyReportInput.Violation
    {
        .init(
            message: message, policyName: policy, policyPackName: pack, policyPackVersion: "1.0.0",
            enforcementLevel: "mandatory", kind: nil, resourceURN: urn)
    }

    static func evaluation(_ urn: String?, passed: [String], failed: [String], pack: String = "aws")
        -> PolicyReportInput.Evaluation
    {
        .init(resourceURN: urn, policyPackName: pack, policyPackVersion: "1.0.0", passed: passed, failed: failed)
    }

    static func report(
        violations: [PolicyReportInput.Violation], evaluations: [PolicyReportInput.Evaluation]?, claim: String? = nil
    ) throws -> PolicyReport {
        try PolicyReport(
            PolicyReportInput(
                updateVersion: "7", claimID: claim, succeeded: true, violations: violations,
                evaluations: evaluations),
            stack: stack, limits: ReportLimits())
    }

    @Test func urnPartsComeFromTheLastParentTypeAndTheRestIsTheName() throws {
        let nested = try #require(
            ResourceURN("urn:pulumi:prod::web::aws:s3/bucket:Bucket$aws:s3/bucketPolicy:BucketPolicy::logs::x"))
        #expect(nested.stack == "prod")
        #expect(nested.project == "web")
        #expect(nested.type == "aws:s3/bucketPolicy:BucketPolicy")
        #expect(nested.provider == "aws")
        #expect(nested.name == "logs::x")

        let stackResource = try #require(ResourceURN("urn:pulumi:dev::app::pulumi:pulumi:Stack::app-dev"))
        #expect(stackResource.type == "pulumi:pulumi:Stack")
        #expect(stackResource.provider == "pulumi")
        #expect(stackResource.name == "app-dev")

        for text in [
            "", "urn:pulumi:", "urn:other:prod::web::aws:s3/bucket:Bucket::b", "urn:pulumi:prod::web",
            "urn:pulumi:prod::web::aws:s3/bucket:Bucket", "urn:pulumi:::web::t::n", "urn:pulumi:prod::::t::n",
            "urn:pulumi:prod::web::::n",
        ] {
            #expect(ResourceURN(text) == nil, "\(text) is not a resource URN")
        }
    }

    @Test func eachResourceCountsOnceForEachPolicyWhateverNamesItTwice() throws {
        let (a, b, c) = (Self.urn("a"), Self.urn("b"), Self.urn("c"))
        let report = try Self.report(
            violations: [
                Self.violation(a, "no-public"),  // also failed in a's evaluation
                Self.violation(a, "no-public", message: "said differently"),
                Self.violation(b, "encrypted"),  // b's evaluation says it passed: it failed
                Self.violation(c, "no-public"),  // c was not evaluated
                Self.violation("", "stack-tags"),  // a stack policy
            ],
            evaluations: [
                Self.evaluation(a, passed: ["encrypted"], failed: ["no-public"]),
                Self.evaluation(a, passed: ["encrypted", "tagged"], failed: []),  // a second time
                Self.evaluation(b, passed: ["encrypted", "no-public", "no-public"], failed: []),
                Self.evaluation(nil, passed: ["stack-tags"], failed: []),
            ])
        let coverage = EvaluationCoverage(report)
        let counts = Dictionary(uniqueKeysWithValues: coverage.counts.map { ($0.policyName, $0) })
        #expect(coverage.counts.map(\.policyName) == ["encrypted", "no-public", "stack-tags", "tagged"])
        #expect(counts["encrypted"]?.governed == 2)
        #expect(counts["encrypted"]?.failing == 1)
        #expect(counts["no-public"]?.governed == 3)
        #expect(counts["no-public"]?.failing == 2)
        #expect(counts["tagged"]?.governed == 1)
        #expect(counts["tagged"]?.failing == 0)
        #expect(counts["stack-tags"]?.governed == 1)
        #expect(counts["stack-tags"]?.failing == 1)
        #expect(coverage.resourceCount == 3)
        #expect(coverage.packsRun == ["aws": "1.0.0"])
        #expect(coverage.passed?[PackResource(packName: "aws", resourceURN: a)]?.contains("tagged") == true)
        #expect(coverage.passed?[PackResource(packName: "aws", resourceURN: c)] == nil)
    }

    @Test func anIssueIsFixedOnlyByAPassOrByACompletedRunWithoutItsResource() throws {
        let (a, gone) = (Self.urn("a"), Self.urn("gone"))
        let report = try Self.report(
            violations: [], evaluations: [Self.evaluation(a, passed: ["encrypted"], failed: ["no-public"])])
        let coverage = EvaluationCoverage(report)
        let key = { (urn: String, policy: String, pack: String) in
            IssueKey(resourceURN: urn, packName: pack, policyName: policy)
        }
        let partial = FixRule(passed: coverage.passed, completedPacks: [])
        #expect(partial.showsFixed(key(a, "encrypted", "aws")))
        #expect(!partial.showsFixed(key(a, "tagged", "aws")))
        #expect(!partial.showsFixed(key(gone, "encrypted", "aws")))

        let completed = FixRule(passed: coverage.passed, completedPacks: ["aws"])
        #expect(completed.showsFixed(key(gone, "encrypted", "aws")))
        #expect(!completed.showsFixed(key(a, "tagged", "aws")), "a ran, and nothing said tagged passed")
        #expect(!completed.showsFixed(key(gone, "encrypted", "gcp")), "gcp did not run")

        let withoutEvaluations = FixRule(passed: nil, completedPacks: ["aws"])
        #expect(withoutEvaluations.showsFixed(key(a, "tagged", "aws")))
    }

    /// Reports stored by earlier releases keep their digests: a resend after an upgrade must still be a no-op.
    @Test func theDigestIsTheLengthPrefixedPartsAsEarlierReleasesStoredThem() throws {
        func reference(_ report: PolicyReport) -> String {
            var hasher = SHA256()
            func add(_ parts: String...) {
                for part in parts { hasher.update(data: Data("\(part.utf8.count):\(part)".utf8)) }
            }
            add(report.claimID ?? "", report.succeeded ? "1" : "0")
            for violation in report.violations {
                add(
                    violation.resourceURN, violation.packName, violation.packVersion, violation.policyName,
                    violation.level.rawValue, violation.kind.rawValue, violation.message)
            }
            add(report.evaluations == nil ? "-" : "+")
            for evaluation in report.evaluations ?? [] {
                add(evaluation.resourceURN, evaluation.packName, evaluation.packVersion)
                add(evaluation.passed.joined(separator: ","), evaluation.failed.joined(separator: ","))
            }
            return hasher.finalize().map { String(format: "%02x", $0) }.joined()
        }
        var violations: [PolicyReportInput.Violation] = []
        var evaluations: [PolicyReportInput.Evaluation] = []
        for index in 0..<3_000 {
            let urn = Self.urn("bucket-\(index)-\(String(repeating: "é", count: index % 7))")
            evaluations.append(
                Self.evaluation(urn, passed: (0..<(index % 5)).map { "p\($0)" }, failed: index % 9 == 0 ? [] : ["f"]))
            if index % 3 == 0 { violations.append(Self.violation(urn, "f", message: "ü \(index)")) }
        }
        for report in [
            try Self.report(violations: violations, evaluations: evaluations, claim: "claim-1"),
            try Self.report(violations: violations, evaluations: nil),
            try Self.report(violations: [], evaluations: []),
        ] {
            #expect(PolicyResultsService.digest(of: report) == reference(report))
        }
    }
}
