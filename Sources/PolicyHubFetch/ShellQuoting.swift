import Foundation

/// Words as a POSIX shell reads them back: printed arguments can be pasted or used in `$(...)` whatever the paths
/// hold (spaces, quotes, `$`).
public enum ShellQuoting {
    public static func quote(_ word: String) -> String {
        let safe = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_@%+=:,./-")
        if !word.isEmpty && word.allSatisfy(safe.contains) { return word }
        return "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }

    public static func line(_ words: [String]) -> String { words.map(quote).joined(separator: " ") }
}
