import Foundation

/// What the policies of one `pulumi preview` or `pulumi up` found, read from the engine's event log
/// (`--event-log FILE`): one JSON `apitype.EngineEvent` a line, as pulumi/pulumi's `startEventLogger` writes them.
public struct PolicyFindings: Hashable, Sendable {
    /// A `policyEvent`: one policy's violation, on a resource or (without a URN) on the stack.
    public struct Violation: Hashable, Sendable, Codable {
        public var resourceUrn: String?
        public var message: String
        public var policyName: String
        public var policyPackName: String
        public var policyPackVersion: String
        public var policyPackVersionTag: String?
        /// `advisory`, `mandatory`, `remediate` or `disabled` (the engine's `none`, `warning` are mapped too).
        public var enforcementLevel: String
        public var severity: String?
    }

    /// A `policyRemediationEvent`: a policy changed a resource's inputs.
    public struct Remediation: Hashable, Sendable, Codable {
        public var resourceUrn: String?
        public var policyName: String
        public var policyPackName: String
        public var policyPackVersion: String
        public var policyPackVersionTag: String?
    }

    /// A `policyAnalyzeSummaryEvent` (one resource) or `policyAnalyzeStackSummaryEvent` (the stack, no URN): which
    /// policies of a pack ran, and which of them passed. Only newer CLIs emit these.
    public struct Evaluation: Hashable, Sendable, Codable {
        public var resourceUrn: String?
        public var policyPackName: String
        public var policyPackVersion: String
        public var policyPackVersionTag: String?
        public var passed: [String]?
        public var failed: [String]?
    }

    public var violations: [Violation] = []
    public var remediations: [Remediation] = []
    public var evaluations: [Evaluation] = []
    /// The log ended inside an event (a killed run): every complete event before it is kept.
    public var truncated = false
    /// Complete lines that were not engine events; the rest of the log is still read.
    public var unreadableLines = 0

    public init() {}
}

public enum EngineEventLog {
    /// The engine's event, with only the members findings come from.
    private struct Event: Decodable {
        var policyEvent: PolicyFindings.Violation?
        var policyRemediationEvent: PolicyFindings.Remediation?
        var policyAnalyzeSummaryEvent: PolicyFindings.Evaluation?
        var policyAnalyzeStackSummaryEvent: PolicyFindings.Evaluation?
    }

    public static func read(contentsOf file: URL) throws -> PolicyFindings {
        parse(try Data(contentsOf: file))
    }

    public static func parse(_ log: Data) -> PolicyFindings {
        var findings = PolicyFindings()
        let decoder = JSONDecoder()
        let lines = log.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        for (index, line) in lines.enumerated() where !line.allSatisfy(isWhitespace) {
            guard let event = try? decoder.decode(Event.self, from: Data(line)) else {
                // Only the last line can be cut short: the engine writes whole lines.
                if index == lines.count - 1 { findings.truncated = true } else { findings.unreadableLines += 1 }
                continue
            }
            if var violation = event.policyEvent {
                violation.enforcementLevel = canonicalLevel(violation.enforcementLevel)
                violation.severity = violation.severity.flatMap { $0.isEmpty ? nil : $0 }
                findings.violations.append(violation)
            }
            if let remediation = event.policyRemediationEvent { findings.remediations.append(remediation) }
            if let evaluation = event.policyAnalyzeSummaryEvent { findings.evaluations.append(evaluation) }
            if var evaluation = event.policyAnalyzeStackSummaryEvent {
                evaluation.resourceUrn = nil
                findings.evaluations.append(evaluation)
            }
        }
        return findings
    }

    /// The engine's display names (`warning`, `none`) as the API's enforcement levels.
    static func canonicalLevel(_ level: String) -> String {
        switch level {
        case "warning": "advisory"
        case "none": "disabled"
        default: level
        }
    }

    private static func isWhitespace(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") || byte == UInt8(ascii: "\r")
    }
}
