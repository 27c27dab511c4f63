import PolicyHubCore

/// Tests name organizations and users with literals; a literal that breaks the rule is a mistake in the test.
extension Name: ExpressibleByStringLiteral {
    public init(stringLiteral text: String) {
        do {
            try self.init(text, field: "name")
        } catch {
            fatalError("'\(text)' is not a valid name: \(error)")
        }
    }
}
