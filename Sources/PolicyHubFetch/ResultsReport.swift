import Foundation

/// The body of `PUT /api/preview/insights/{org}/policy/stacks/{project}/{stack}/updates/{version}/results`: Pulumi's
/// `UpdateStackPolicyResultsRequest`, plus PolicyHub's `evaluations`, built from what one run's policies found.
public struct ResultsReport: Sendable, Equatable, Codable {
    /// One policy violation (Pulumi's `PolicyViolationV2`); stack policies' violations have no `resourceURN`.
    public struct Violation: Hashable, Sendable, Codable {
        public var message: String
        public var policyName: String
        public var policyPackName: String
        public var policyPackVersion: String
        /// `advisory`, `mandatory`, `remediate` or `disabled`.
        public var enforcementLevel: String
        /// Always `preventative` for now.
        public var kind: String
        public var resourceURN: String?
    }

    /// Which policies of a pack ran on a resource (or, without `resourceURN`, on the stack) and how each fared.
    public struct Evaluation: Hashable, Sendable, Codable {
        public var resourceURN: String?
        public var policyPackName: String
        public var policyPackVersion: String
        public var passed: [String]
        public var failed: [String]
    }

    public struct Results: Sendable, Equatable, Codable {
        public var succeeded: Bool
        public var violations: [Violation]
        /// Left out when the log had no summaries (CLIs older than the summary events).
        public var evaluations: [Evaluation]?
    }

    /// What the server accepts at most; a larger report is refused whole.
    public struct Limits: Sendable, Equatable {
        public var maxViolations = 20_000
        public var maxEvaluations = 100_000
        public var maxBodyBytes = 32 << 20
        /// Characters of one violation's message; a longer one is cut, ending in "…".
        public var maxMessageLength = 16_384

        public init() {}
    }

    /// A fresh random UUID per report: a resend of the same report carries the same one.
    public var claimId: String
    public var results: Results

    public init(claimId: String, results: Results) {
        self.claimId = claimId
        self.results = results
    }

    /// The report of a run's findings. Violations are deduplicated; a remediation is reported (at level
    /// `remediate`) only when no `policyEvent` names the same resource, pack and policy.
    public init(findings: PolicyFindings, succeeded: Bool, claimId: UUID = UUID()) {
        var violations: [Violation] = []
        var seen = Set<Violation>()
        var reported = Set<PolicyKey>()
        for event in findings.violations {
            let violation = Violation(
                message: event.message, policyName: event.policyName, policyPackName: event.policyPackName,
                policyPackVersion: Self.version(event.policyPackVersion, tag: event.policyPackVersionTag),
                enforcementLevel: event.enforcementLevel, kind: "preventative",
                resourceURN: Self.nonEmpty(event.resourceUrn))
            reported.insert(PolicyKey(violation.resourceURN, event.policyPackName, event.policyName))
            if seen.insert(violation).inserted { violations.append(violation) }
        }
        for remediation in findings.remediations {
            let urn = Self.nonEmpty(remediation.resourceUrn)
            guard !reported.contains(PolicyKey(urn, remediation.policyPackName, remediation.policyName)) else {
                continue
            }
            let violation = Violation(
                message: "remediated by \(remediation.policyName)", policyName: remediation.policyName,
                policyPackName: remediation.policyPackName,
                policyPackVersion: Self.version(remediation.policyPackVersion, tag: remediation.policyPackVersionTag),
                enforcementLevel: "remediate", kind: "preventative", resourceURN: urn)
            if seen.insert(violation).inserted { violations.append(violation) }
        }

        var evaluations: [Evaluation] = []
        var seenEvaluations = Set<Evaluation>()
        for summary in findings.evaluations {
            let evaluation = Evaluation(
                resourceURN: Self.nonEmpty(summary.resourceUrn), policyPackName: summary.policyPackName,
                policyPackVersion: Self.version(summary.policyPackVersion, tag: summary.policyPackVersionTag),
                passed: summary.passed ?? [], failed: summary.failed ?? [])
            if seenEvaluations.insert(evaluation).inserted { evaluations.append(evaluation) }
        }
        self.init(
            claimId: claimId.uuidString.lowercased(),
            results: Results(
                succeeded: succeeded, violations: violations, evaluations: evaluations.isEmpty ? nil : evaluations))
    }

    /// Whether the run succeeded: its log is complete and pulumi exited with 0 or, when its status is not known,
    /// no mandatory policy was violated (which would have failed it).
    public static func succeeded(_ findings: PolicyFindings, exitStatus: Int32?) -> Bool {
        guard !findings.truncated else { return false }
        if let exitStatus { return exitStatus == 0 }
        return !findings.violations.contains { $0.enforcementLevel == "mandatory" }
    }

    /// How many different policies (by pack and name) the violations name.
    public var policyCount: Int {
        Set(results.violations.map { PolicyKey(nil, $0.policyPackName, $0.policyName) }).count
    }

    /// The exact bytes to send.
    public func encoded() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self)
    }

    /// The report cut down to what the server accepts: the first violations and evaluations, in the log's order.
    public func bounded(by limits: Limits = Limits()) throws -> BoundedReport {
        var report = self
        for index in report.results.violations.indices
        where report.results.violations[index].message.count > limits.maxMessageLength {
            let message = report.results.violations[index].message
            report.results.violations[index].message = message.prefix(max(0, limits.maxMessageLength - 1)) + "…"
        }
        let violations = results.violations.count
        let evaluations = results.evaluations?.count ?? 0
        if violations > limits.maxViolations {
            report.results.violations.removeLast(violations - limits.maxViolations)
        }
        if evaluations > limits.maxEvaluations {
            report.results.evaluations?.removeLast(evaluations - limits.maxEvaluations)
        }
        var body = try report.encoded()
        // Long messages can make a report too large even within the counts: evaluations go first, being summaries.
        while body.count > limits.maxBodyBytes {
            if let kept = report.results.evaluations, !kept.isEmpty {
                report.results.evaluations?.removeLast(max(1, kept.count / 4))
            } else if !report.results.violations.isEmpty {
                report.results.violations.removeLast(max(1, report.results.violations.count / 4))
            } else {
                break
            }
            body = try report.encoded()
        }
        return BoundedReport(
            report: report, body: body,
            omittedViolations: violations - report.results.violations.count,
            omittedEvaluations: evaluations - (report.results.evaluations?.count ?? 0))
    }

    /// The version as Pulumi shows it: the tag (`1.2.0`) when the pack has one, else the number.
    static func version(_ number: String, tag: String?) -> String {
        if let tag, !tag.isEmpty { return tag }
        return number
    }

    private static func nonEmpty(_ text: String?) -> String? {
        guard let text, !text.isEmpty else { return nil }
        return text
    }

    private struct PolicyKey: Hashable {
        var urn: String?
        var pack: String
        var policy: String

        init(_ urn: String?, _ pack: String, _ policy: String) {
            self.urn = urn
            self.pack = pack
            self.policy = policy
        }
    }
}

/// A report within the server's limits, its body, and what had to be left out to get there.
public struct BoundedReport: Sendable, Equatable {
    public var report: ResultsReport
    public var body: Data
    public var omittedViolations: Int
    public var omittedEvaluations: Int
}
