/// A stack as `ORG/PROJECT/STACK`. The stack itself may live in any backend; PolicyHub only knows its name.
public struct StackPath: Sendable, Hashable, CustomStringConvertible {
    public var organization: String
    public var project: String
    public var stack: String

    public init(organization: String, project: String, stack: String) {
        self.organization = organization
        self.project = project
        self.stack = stack
    }

    /// Parses `ORG/PROJECT/STACK`; nil unless there are exactly three non-empty parts.
    public init?(_ text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 3, parts.allSatisfy({ !$0.isEmpty && !$0.contains("\0") }) else { return nil }
        self.init(organization: parts[0], project: parts[1], stack: parts[2])
    }

    public var description: String { "\(organization)/\(project)/\(stack)" }
}
