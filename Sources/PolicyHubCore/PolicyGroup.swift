/// How a group's packs act: `preventative` blocks on mandatory violations, `audit` only reports.
public enum PolicyGroupMode: String, CaseIterable, Codable, Hashable, Sendable {
    case preventative
    case audit
}

/// A stack in whatever backend the team uses. An empty project matches the stack name in every project.
public struct StackReference: Hashable, Sendable, Comparable {
    public var project: String
    public var name: String

    public init(project: String, name: String) {
        self.project = project
        self.name = name
    }

    /// A stack named by a path: both parts validated where they entered.
    public init(project: Name, name: Name) {
        self.init(project: project.text, name: name.text)
    }

    public static func < (lhs: StackReference, rhs: StackReference) -> Bool {
        (lhs.project, lhs.name) < (rhs.project, rhs.name)
    }
}

/// A pack version applied by a group, with its normalised config (policy name or `all` → object or null).
public struct AppliedPack: Hashable, Sendable {
    public var version: PackVersion
    public var config: [String: JSONValue]?

    public init(version: PackVersion, config: [String: JSONValue]?) {
        self.version = version
        self.config = config
    }
}

/// A policy group: packs applied to stacks.
public struct PolicyGroup: Hashable, Sendable {
    public static let defaultName = "default-policy-group"
    public static let stacksEntityType = "stacks"

    public var name: String
    public var isOrgDefault: Bool
    public var mode: PolicyGroupMode
    public var agentPoolID: String?
    public var stacks: [StackReference]
    public var packs: [AppliedPack]

    public init(
        name: String, isOrgDefault: Bool, mode: PolicyGroupMode, agentPoolID: String?, stacks: [StackReference],
        packs: [AppliedPack]
    ) {
        self.name = name
        self.isOrgDefault = isOrgDefault
        self.mode = mode
        self.agentPoolID = agentPoolID
        self.stacks = stacks
        self.packs = packs
    }
}

public struct PolicyGroupSummary: Hashable, Sendable {
    public var name: String
    public var isOrgDefault: Bool
    public var mode: PolicyGroupMode
    public var stackCount: Int
    public var packCount: Int

    public init(name: String, isOrgDefault: Bool, mode: PolicyGroupMode, stackCount: Int, packCount: Int) {
        self.name = name
        self.isOrgDefault = isOrgDefault
        self.mode = mode
        self.stackCount = stackCount
        self.packCount = packCount
    }
}

/// Which version of a pack a client asks for: a tag (which may hold a number), a number, or neither (latest).
public struct PackSelector: Hashable, Sendable {
    public var name: String
    public var versionTag: String?
    public var version: Int?
    public var config: JSONValue?

    public init(name: String, versionTag: String? = nil, version: Int? = nil, config: JSONValue? = nil) {
        self.name = name
        self.versionTag = versionTag
        self.version = version
        self.config = config
    }
}

/// Everything one PATCH of a group may ask for; applied atomically.
public struct PolicyGroupUpdate: Hashable, Sendable {
    public var newName: String?
    public var addStack: StackReference?
    public var removeStack: StackReference?
    public var addPolicyPack: PackSelector?
    public var removePolicyPack: PackSelector?
    /// Full replacement lists, as `pulumi policy group edit` sends them.
    public var stacks: [StackReference]?
    public var policyPacks: [PackSelector]?
    /// Whether the request touched insights accounts, which groups of stacks do not have.
    public var touchesAccounts: Bool

    public init(
        newName: String? = nil, addStack: StackReference? = nil, removeStack: StackReference? = nil,
        addPolicyPack: PackSelector? = nil, removePolicyPack: PackSelector? = nil, stacks: [StackReference]? = nil,
        policyPacks: [PackSelector]? = nil, touchesAccounts: Bool = false
    ) {
        self.newName = newName
        self.addStack = addStack
        self.removeStack = removeStack
        self.addPolicyPack = addPolicyPack
        self.removePolicyPack = removePolicyPack
        self.stacks = stacks
        self.policyPacks = policyPacks
        self.touchesAccounts = touchesAccounts
    }
}

/// The resolved form of an update that the store applies in one transaction.
public struct GroupChanges: Sendable {
    /// One pack version to apply, with its normalised config as JSON text.
    public struct Application: Hashable, Sendable {
        public var packID: String
        public var versionID: String
        public var config: String?

        public init(packID: String, versionID: String, config: String?) {
            self.packID = packID
            self.versionID = versionID
            self.config = config
        }
    }

    /// A pack to remove, only if its applied version is `versionID` when one is given.
    public struct Removal: Hashable, Sendable {
        public var pack: String
        public var versionID: String?

        public init(pack: String, versionID: String?) {
            self.pack = pack
            self.versionID = versionID
        }
    }

    public var newName: String?
    public var replaceStacks: [StackReference]?
    public var addStacks: [StackReference] = []
    public var removeStacks: [StackReference] = []
    public var replacePacks: [Application]?
    public var addPacks: [Application] = []
    public var removePacks: [Removal] = []

    public init() {}
}
