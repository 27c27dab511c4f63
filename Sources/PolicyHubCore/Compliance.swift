import Foundation

/// The compliance arithmetic and drift detection.
public enum Compliance {
    /// Whole percent of `of` that passes, rounded down; 100 when nothing is governed.
    public static func percent(passing: Int, of governed: Int) -> Int {
        guard governed > 0 else { return 100 }
        return max(0, min(100, passing * 100 / governed))
    }

    /// A score column's value when the entity did not run that pack.
    public static let notApplicable = -1

    /// The severities `entity: severity` answers as columns, most severe first.
    public static let severityColumns: [PolicySeverity?] = [.critical, .high, .medium, .low, nil]
}

/// Why a stack does not run what it must, or not lately.
public struct PolicyDrift: Hashable, Sendable {
    public enum Kind: String, Hashable, Sendable {
        case neverReported = "never-reported"
        case stale
        case outdatedPack = "outdated-pack"
        case missingPack = "missing-pack"
    }

    public var kind: Kind
    public var pack: String?
    public var reportedVersion: String?
    public var requiredVersion: String?
    public var message: String

    public init(
        kind: Kind, pack: String? = nil, reportedVersion: String? = nil, requiredVersion: String? = nil,
        message: String
    ) {
        self.kind = kind
        self.pack = pack
        self.reportedVersion = reportedVersion
        self.requiredVersion = requiredVersion
        self.message = message
    }
}

/// The organization's groups, answering which packs a stack must run without a query per stack.
public struct GroupApplications: Sendable {
    public let groups: [GroupApplication]

    public init(_ groups: [GroupApplication]) { self.groups = groups }

    /// The groups a stack belongs to: those listing it (by project, or by name alone), or the default group when
    /// none does. The same rule as `GroupStore.groups(organization:stack:)`.
    public func groups(of stack: StackReference) -> [GroupApplication] {
        let listing = groups.filter { group in
            group.stacks.contains { $0.name == stack.name && ($0.project == stack.project || $0.project.isEmpty) }
        }
        return listing.isEmpty ? groups.filter(\.isOrgDefault) : listing
    }

    /// The pack versions the stack must run, with the group applying each (the newest version when several do).
    public func required(for stack: StackReference) -> [String: (group: GroupApplication, version: AppliedVersion)] {
        var chosen: [String: (group: GroupApplication, version: AppliedVersion)] = [:]
        for group in groups(of: stack).sorted(by: { $0.name < $1.name }) {
            for (pack, version) in group.packs {
                if let current = chosen[pack], current.version.number >= version.number { continue }
                chosen[pack] = (group, version)
            }
        }
        return chosen
    }

    /// "3 days", "5 hours", "12 minutes" or "40 seconds", rounded down.
    static func describe(age: TimeInterval) -> String {
        let units: [(String, TimeInterval)] = [("day", 86_400), ("hour", 3_600), ("minute", 60)]
        for (name, length) in units where age >= 2 * length {
            return "\(Int(age / length)) \(name)s"
        }
        return "\(Int(age)) seconds"
    }

    /// How the stack's newest evaluation differs from what it must run, or how long ago it was.
    public func drift(of summary: StackEvaluationSummary, now: Date, staleAfter: TimeInterval) -> [PolicyDrift] {
        let required = required(for: summary.stack)
        guard let evaluatedAt = summary.evaluatedAt else {
            return [
                PolicyDrift(
                    kind: .neverReported,
                    message: "\(summary.stack.project)/\(summary.stack.name) has never reported policy results")
            ]
        }
        var drift: [PolicyDrift] = []
        let age = now.timeIntervalSince(evaluatedAt)
        if age > staleAfter {
            drift.append(
                PolicyDrift(kind: .stale, message: "the newest policy results are \(Self.describe(age: age)) old"))
        }
        for pack in required.keys.sorted() {
            guard let wanted = required[pack]?.version else { continue }
            guard let ran = summary.packsRun[pack] else {
                drift.append(
                    PolicyDrift(
                        kind: .missingPack, pack: pack, requiredVersion: wanted.label,
                        message: "did not run \(pack), which it must run at \(wanted.label)"))
                continue
            }
            if !wanted.matches(ran) {
                drift.append(
                    PolicyDrift(
                        kind: .outdatedPack, pack: pack, reportedVersion: ran, requiredVersion: wanted.label,
                        message: "ran \(pack) \(ran), but its group applies \(wanted.label)"))
            }
        }
        return drift
    }
}
