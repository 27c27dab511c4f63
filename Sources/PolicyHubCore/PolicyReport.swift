import Foundation

/// Whether a finding comes from a pack that may block a deployment or one that only watches.
public enum IssueKind: String, CaseIterable, Codable, Hashable, Sendable {
    case audit, preventative
}

/// A resource's URN, `urn:pulumi:STACK::PROJECT::QUALIFIED-TYPE::NAME`, and the parts an issue shows.
public struct ResourceURN: Hashable, Sendable {
    public var text: String
    public var stack: String
    public var project: String
    /// The resource's own type: the last of the `$`-joined parent types.
    public var type: String
    public var name: String
    /// The package of the type, e.g. `aws` for `aws:s3/bucket:Bucket`.
    public var provider: String

    public init?(_ text: String) {
        // Scanned by hand over the UTF-8 view: reports hold thousands of URNs, and splitting is slow.
        let bytes = text.utf8
        let prefix = "urn:pulumi:".utf8
        guard bytes.count > prefix.count, bytes.starts(with: prefix) else { return nil }
        let colon = UInt8(ascii: ":")
        var bounds: [String.Index] = []  // where each of the first three "::" starts
        var index = bytes.index(bytes.startIndex, offsetBy: prefix.count)
        var previousWasColon = false
        while index < bytes.endIndex, bounds.count < 3 {
            let isColon = bytes[index] == colon
            if isColon && previousWasColon {
                bounds.append(bytes.index(before: index))
                previousWasColon = false
            } else {
                previousWasColon = isColon
            }
            index = bytes.index(after: index)
        }
        guard bounds.count == 3 else { return nil }
        let stackStart = bytes.index(bytes.startIndex, offsetBy: prefix.count)
        let projectStart = bytes.index(bounds[0], offsetBy: 2)
        let typeStart = bytes.index(bounds[1], offsetBy: 2)
        let nameStart = bytes.index(bounds[2], offsetBy: 2)
        guard stackStart < bounds[0], projectStart < bounds[1], typeStart < bounds[2] else { return nil }
        // The resource's own type is the last of the `$`-joined parent types; its package precedes the first ':'.
        let qualified = bytes[typeStart..<bounds[2]]
        let ownTypeStart = qualified.lastIndex(of: UInt8(ascii: "$")).map { bytes.index(after: $0) } ?? typeStart
        let ownType = bytes[ownTypeStart..<bounds[2]]
        let providerEnd = ownType.firstIndex(of: colon) ?? bounds[2]
        self.text = text
        self.stack = String(text[stackStart..<bounds[0]])
        self.project = String(text[projectStart..<bounds[1]])
        self.type = String(text[ownTypeStart..<bounds[2]])
        self.name = String(text[nameStart...])
        self.provider = String(text[ownTypeStart..<providerEnd])
    }
}

/// One violation as a report states it. `resourceURN` is empty for a stack policy.
public struct ReportedViolation: Hashable, Sendable {
    public var message: String
    public var policyName: String
    public var packName: String
    public var packVersion: String
    public var level: EnforcementLevel
    public var kind: IssueKind
    public var resourceURN: String

    public init(
        message: String, policyName: String, packName: String, packVersion: String, level: EnforcementLevel,
        kind: IssueKind, resourceURN: String
    ) {
        self.message = message
        self.policyName = policyName
        self.packName = packName
        self.packVersion = packVersion
        self.level = level
        self.kind = kind
        self.resourceURN = resourceURN
    }

    /// What identifies the issue it belongs to within a stack.
    public var issueKey: IssueKey {
        IssueKey(resourceURN: resourceURN, packName: packName, policyName: policyName)
    }
}

/// The policies of one pack that ran on one resource (or on the stack, when `resourceURN` is empty).
public struct ReportedEvaluation: Hashable, Sendable {
    public var resourceURN: String
    public var packName: String
    public var packVersion: String
    public var passed: [String]
    public var failed: [String]
}

/// The identity of an issue within its stack.
public struct IssueKey: Hashable, Sendable, Comparable {
    public var resourceURN: String
    public var packName: String
    public var policyName: String

    public init(resourceURN: String, packName: String, policyName: String) {
        self.resourceURN = resourceURN
        self.packName = packName
        self.policyName = policyName
    }

    public static func < (lhs: IssueKey, rhs: IssueKey) -> Bool {
        (lhs.resourceURN, lhs.packName, lhs.policyName) < (rhs.resourceURN, rhs.packName, rhs.policyName)
    }
}

/// A report as the request spells it, before validation.
public struct PolicyReportInput: Sendable {
    public struct Violation: Sendable {
        public var message: String
        public var policyName: String
        public var policyPackName: String
        public var policyPackVersion: String
        public var enforcementLevel: String
        public var kind: String?
        public var resourceURN: String?

        public init(
            message: String, policyName: String, policyPackName: String, policyPackVersion: String,
            enforcementLevel: String, kind: String?, resourceURN: String?
        ) {
            self.message = message
            self.policyName = policyName
            self.policyPackName = policyPackName
            self.policyPackVersion = policyPackVersion
            self.enforcementLevel = enforcementLevel
            self.kind = kind
            self.resourceURN = resourceURN
        }
    }

    public struct Evaluation: Sendable {
        public var resourceURN: String?
        public var policyPackName: String
        public var policyPackVersion: String
        public var passed: [String]
        public var failed: [String]

        public init(
            resourceURN: String?, policyPackName: String, policyPackVersion: String, passed: [String],
            failed: [String]
        ) {
            self.resourceURN = resourceURN
            self.policyPackName = policyPackName
            self.policyPackVersion = policyPackVersion
            self.passed = passed
            self.failed = failed
        }
    }

    public var updateVersion: String
    public var claimID: String?
    public var succeeded: Bool
    public var violations: [Violation]
    public var evaluations: [Evaluation]?

    public init(
        updateVersion: String, claimID: String?, succeeded: Bool, violations: [Violation], evaluations: [Evaluation]?
    ) {
        self.updateVersion = updateVersion
        self.claimID = claimID
        self.succeeded = succeeded
        self.violations = violations
        self.evaluations = evaluations
    }
}

/// What one report may hold.
public struct ReportLimits: Hashable, Sendable {
    public var maxViolations: Int
    public var maxEvaluations: Int
    public var maxMessageLength: Int

    public init(maxViolations: Int = 20_000, maxEvaluations: Int = 100_000, maxMessageLength: Int = 16_384) {
        self.maxViolations = maxViolations
        self.maxEvaluations = maxEvaluations
        self.maxMessageLength = maxMessageLength
    }
}

/// One evaluation of a stack, validated: what its policies found and, when the reporter knew, which ran.
public struct PolicyReport: Hashable, Sendable {
    public var stack: StackReference
    public var updateVersion: Int64
    public var claimID: String?
    public var succeeded: Bool
    /// Without duplicates, in a stable order.
    public var violations: [ReportedViolation]
    /// Nil when the reporter sent none (Pulumi's own clients, older CLIs).
    public var evaluations: [ReportedEvaluation]?

    /// Validates every field; all problems are reported in one error.
    public init(_ input: PolicyReportInput, stack: StackReference, limits: ReportLimits) throws(RegistryError) {
        var problems: [(String, String)] = []
        func problem(_ field: String, _ message: String) { problems.append((field, message)) }

        guard let version = Int64(input.updateVersion), version >= 0 else {
            throw RegistryError.invalid(
                "Invalid update version '\(input.updateVersion)': it must be a non-negative integer.",
                details: [.init(resource: "request", attribute: "version", errorType: .invalid)])
        }
        if input.violations.count > limits.maxViolations {
            throw RegistryError.invalid(
                "The report has \(input.violations.count) violations; at most \(limits.maxViolations) are accepted.",
                details: [.init(resource: "request", attribute: "results.violations", errorType: .invalid)])
        }
        if let evaluations = input.evaluations, evaluations.count > limits.maxEvaluations {
            throw RegistryError.invalid(
                "The report has \(evaluations.count) evaluations; at most \(limits.maxEvaluations) are accepted.",
                details: [.init(resource: "request", attribute: "results.evaluations", errorType: .invalid)])
        }
        if let claim = input.claimID, claim.count > 256 {
            problem("claimId", "claimId is longer than 256 characters")
        }

        // Evaluations and violations name the same resources: each URN is checked once.
        var checkedURNs = Set<String>()
        func checkURN(_ text: String?, at field: String) -> String {
            guard let text, !text.isEmpty else { return "" }
            if checkedURNs.contains(text) { return text }
            guard text.utf8.count <= 1_024 else {
                problem(field, "a resource URN may be at most 1,024 bytes")
                return text
            }
            guard let urn = ResourceURN(text) else {
                problem(field, "'\(text.prefix(200))' is not a resource URN (urn:pulumi:STACK::PROJECT::TYPE::NAME)")
                return text
            }
            if urn.stack != stack.name || urn.project != stack.project {
                problem(
                    field,
                    "'\(text.prefix(200))' belongs to stack '\(urn.stack)' of project '\(urn.project)', "
                        + "not to \(stack.project)/\(stack.name)")
                return text
            }
            checkedURNs.insert(text)
            return text
        }
        var checkedNames = Set<String>()
        // The field's path is only spelled out for a name that fails: a large report names 40,000 policies.
        func checkName(_ text: String, at field: @autoclosure () -> String) {
            guard !checkedNames.contains(text) else { return }
            if (try? Name(text, field: "name")) == nil {
                problem(
                    field(), "'\(text.prefix(200))' must be 1 to 100 characters of letters, digits, '.', '_' or '-'")
            } else {
                checkedNames.insert(text)
            }
        }
        func checkVersion(_ text: String, at field: String) {
            if text.isEmpty || text.count > 100 { problem(field, "the pack version must be 1 to 100 characters") }
        }

        var seen = Set<ReportedViolation>()
        var violations: [ReportedViolation] = []
        for (index, raw) in input.violations.enumerated() {
            let at = "results.violations[\(index)]"
            checkName(raw.policyName, at: "\(at).policyName")
            checkName(raw.policyPackName, at: "\(at).policyPackName")
            checkVersion(raw.policyPackVersion, at: "\(at).policyPackVersion")
            if raw.message.count > limits.maxMessageLength {
                problem("\(at).message", "the message is longer than \(limits.maxMessageLength) characters")
            }
            let level = EnforcementLevel(rawValue: raw.enforcementLevel)
            if level == nil {
                problem(
                    "\(at).enforcementLevel",
                    "'\(raw.enforcementLevel.prefix(100))' is not one of advisory, mandatory, remediate, disabled")
            }
            let kind = raw.kind.map { IssueKind(rawValue: $0) } ?? .preventative
            if kind == nil {
                problem("\(at).kind", "'\(raw.kind?.prefix(100) ?? "")' is not one of audit, preventative")
            }
            let urn = checkURN(raw.resourceURN, at: "\(at).resourceURN")
            guard let level, let kind else { continue }
            let violation = ReportedViolation(
                message: raw.message, policyName: raw.policyName, packName: raw.policyPackName,
                packVersion: raw.policyPackVersion, level: level, kind: kind, resourceURN: urn)
            if seen.insert(violation).inserted { violations.append(violation) }
        }

        var evaluations: [ReportedEvaluation]?
        if let rawEvaluations = input.evaluations {
            var checked: [ReportedEvaluation] = []
            for (index, raw) in rawEvaluations.enumerated() {
                let at = "results.evaluations[\(index)]"
                checkName(raw.policyPackName, at: "\(at).policyPackName")
                checkVersion(raw.policyPackVersion, at: "\(at).policyPackVersion")
                for (position, name) in raw.passed.enumerated() { checkName(name, at: "\(at).passed[\(position)]") }
                for (position, name) in raw.failed.enumerated() { checkName(name, at: "\(at).failed[\(position)]") }
                if raw.passed.count + raw.failed.count > 10_000 {
                    problem(at, "an evaluation names more than 10,000 policies")
                }
                checked.append(
                    ReportedEvaluation(
                        resourceURN: checkURN(raw.resourceURN, at: "\(at).resourceURN"),
                        packName: raw.policyPackName, packVersion: raw.policyPackVersion, passed: raw.passed,
                        failed: raw.failed))
                if problems.count > 50 { break }
            }
            evaluations = checked
        }

        if !problems.isEmpty {
            let shown = problems.prefix(10).map { "\($0.0): \($0.1)" }.joined(separator: "; ")
            let more = problems.count > 10 ? " (and \(problems.count - 10) more)" : ""
            throw RegistryError.invalid(
                "The policy results are invalid: \(shown)\(more).",
                details: problems.prefix(50).map {
                    FieldProblem(resource: "request", attribute: $0.0, errorType: .invalid, customMessage: $0.1)
                })
        }
        self.stack = stack
        self.updateVersion = version
        self.claimID = input.claimID
        self.succeeded = input.succeeded
        self.violations = violations
        self.evaluations = evaluations
    }
}
