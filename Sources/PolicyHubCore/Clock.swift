import Foundation

/// The current time; tests substitute a fixed or advancing one.
public struct WallClock: Sendable {
    private let source: @Sendable () -> Date

    public init(_ source: @escaping @Sendable () -> Date) { self.source = source }

    public static let system = WallClock { Date() }

    public func now() -> Date { source() }
}
