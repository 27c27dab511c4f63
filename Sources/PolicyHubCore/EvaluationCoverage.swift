/// One pack's evaluation of one resource (`resourceURN` is empty for the stack itself).
public struct PackResource: Hashable, Sendable {
    public var packName: String
    public var resourceURN: String

    public init(packName: String, resourceURN: String) {
        self.packName = packName
        self.resourceURN = resourceURN
    }
}

/// What one evaluation of a stack covered: how many resources each policy of each pack version governed and
/// failed, which policies passed on each resource a pack was evaluated on, and which pack versions ran.
///
/// Counted in one pass that hashes each policy name once per resource: a 2,000-resource report names 40,000
/// resource-policy pairs, and sets of (resource, pack, policy) triples cost more than the rest of a report.
public struct EvaluationCoverage: Sendable {
    public struct Count: Hashable, Sendable {
        public var packName: String
        public var packVersion: String
        public var policyName: String
        /// Distinct resources the policy ran on (the stack counts as one).
        public var governed: Int
        /// Distinct resources it failed on.
        public var failing: Int
    }

    /// Sorted by pack, policy and version.
    public var counts: [Count]
    /// The policies that passed on each (pack, resource) evaluated; nil when the report has no evaluations.
    public var passed: [PackResource: [String]]?
    /// Pack name to the version that ran.
    public var packsRun: [String: String]
    /// Distinct resources named, the stack itself not counted.
    public var resourceCount: Int

    public init(_ report: PolicyReport) {
        // A subject is one pack version on one resource; every finding about it is counted together, so that a
        // policy named twice for the same resource (evaluated twice, or evaluated and violated) counts once.
        struct SubjectKey: Hashable {
            var pack, version, urn: String
        }
        struct Subject {
            var group: Int
            var passed: [String] = []
            var failed: [String] = []
        }
        struct PackVersion: Hashable {
            var pack, version: String
        }
        struct Slot {
            var count: Count
            var lastGoverned = -1
            var lastFailing = -1
        }
        var subjectIndex: [SubjectKey: Int] = [:]
        var subjects: [Subject] = []
        var groupIndex: [PackVersion: Int] = [:]
        var groupSlots: [[String: Int]] = []
        var groupKeys: [PackVersion] = []
        var resources = Set<String>()
        var packsRun: [String: String] = [:]

        func subject(_ pack: String, _ version: String, _ urn: String) -> Int {
            packsRun[pack] = version
            let key = SubjectKey(pack: pack, version: version, urn: urn)
            if let index = subjectIndex[key] { return index }
            let packVersion = PackVersion(pack: pack, version: version)
            let group: Int
            if let known = groupIndex[packVersion] {
                group = known
            } else {
                group = groupKeys.count
                groupIndex[packVersion] = group
                groupKeys.append(packVersion)
                groupSlots.append([:])
            }
            subjectIndex[key] = subjects.count
            subjects.append(Subject(group: group))
            if !urn.isEmpty { resources.insert(urn) }
            return subjects.count - 1
        }

        var passed: [PackResource: [String]]?
        if let evaluations = report.evaluations {
            var byResource: [PackResource: [String]] = [:]
            for evaluation in evaluations {
                let index = subject(evaluation.packName, evaluation.packVersion, evaluation.resourceURN)
                subjects[index].passed += evaluation.passed
                subjects[index].failed += evaluation.failed
                byResource[
                    PackResource(packName: evaluation.packName, resourceURN: evaluation.resourceURN), default: []] +=
                    evaluation.passed
            }
            passed = byResource
        }
        for violation in report.violations {
            let index = subject(violation.packName, violation.packVersion, violation.resourceURN)
            subjects[index].failed.append(violation.policyName)
        }

        var slots: [Slot] = []
        for (index, subject) in subjects.enumerated() {
            func slot(_ policy: String) -> Int {
                if let known = groupSlots[subject.group][policy] { return known }
                let key = groupKeys[subject.group]
                groupSlots[subject.group][policy] = slots.count
                slots.append(
                    Slot(
                        count: Count(
                            packName: key.pack, packVersion: key.version, policyName: policy, governed: 0,
                            failing: 0)))
                return slots.count - 1
            }
            for policy in subject.passed {
                let at = slot(policy)
                if slots[at].lastGoverned != index {
                    slots[at].lastGoverned = index
                    slots[at].count.governed += 1
                }
            }
            for policy in subject.failed {
                let at = slot(policy)
                if slots[at].lastGoverned != index {
                    slots[at].lastGoverned = index
                    slots[at].count.governed += 1
                }
                if slots[at].lastFailing != index {
                    slots[at].lastFailing = index
                    slots[at].count.failing += 1
                }
            }
        }
        self.counts = slots.map(\.count).sorted {
            ($0.packName, $0.policyName, $0.packVersion) < ($1.packName, $1.policyName, $1.packVersion)
        }
        self.passed = passed
        self.packsRun = packsRun
        self.resourceCount = resources.count
    }
}
