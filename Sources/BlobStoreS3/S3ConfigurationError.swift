/// A blob-store URL or credential setting that cannot be used; the message says what to change.
public struct S3ConfigurationError: Error, Equatable, Sendable, CustomStringConvertible {
    public var message: String

    public init(_ message: String) { self.message = message }

    public var description: String { message }
}
