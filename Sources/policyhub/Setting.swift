import ArgumentParser
import Foundation

/// Reads one setting from its flag, else its environment variable, and refuses values out of range with a message
/// that names the flag, the variable and the accepted range.
enum Setting {
    /// S3 refuses presigned URLs valid for more than 7 days; links from this server follow the same bound.
    static let maxLinkLifetime = 7 * 24 * 3600

    static func integer<T: FixedWidthInteger & Sendable>(
        _ flag: T?, _ variable: String, _ name: String, in range: ClosedRange<T>
    ) throws -> T? {
        if let flag {
            guard range.contains(flag) else { throw outOfRange(name, "\(flag)", range: range, from: name) }
            return flag
        }
        guard let text = Environment.value(nil, variable) else { return nil }
        guard let value = T(text.trimmingCharacters(in: .whitespaces)), range.contains(value) else {
            throw outOfRange(name, text, range: range, from: variable)
        }
        return value
    }

    static func integer<T: FixedWidthInteger & Sendable>(
        _ flag: T?, _ variable: String, _ name: String, in range: PartialRangeFrom<T>
    ) throws -> T? {
        try integer(flag, variable, name, in: range.lowerBound...T.max)
    }

    /// An on/off environment variable; unset is off.
    static func boolean(_ variable: String) throws -> Bool {
        guard let text = Environment.value(nil, variable)?.lowercased() else { return false }
        if ["1", "true", "yes", "on"].contains(text) { return true }
        if ["0", "false", "no", "off"].contains(text) { return false }
        throw ValidationError("\(variable) must be true or false; got '\(text)'.")
    }

    private static func outOfRange<T: FixedWidthInteger>(
        _ name: String, _ value: String, range: ClosedRange<T>, from source: String
    ) -> ValidationError {
        let accepted =
            range.upperBound == T.max
            ? "an integer of at least \(range.lowerBound)"
            : "an integer from \(range.lowerBound) to \(range.upperBound)"
        let origin = source == name ? "" : " (from \(source))"
        return ValidationError("\(name) must be \(accepted); got '\(value)'\(origin).")
    }
}
