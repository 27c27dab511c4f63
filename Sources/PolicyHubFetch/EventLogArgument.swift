import Foundation

/// Where the engine event log of a `fetch --exec` run is written, and the command that writes it there.
public struct EventLogPlan: Sendable, Equatable {
    /// The command to run: the user's words, the packs' arguments, and `--event-log FILE` when we chose FILE.
    public var command: [String]
    /// The log to read afterwards; nil when the command is no pulumi run that writes one (nothing is reported).
    public var logFile: URL?
    /// True when `logFile` is ours, to delete once read; false when the user's command named it.
    public var isTemporary: Bool

    /// - Parameters:
    ///   - command: The words after `--`.
    ///   - packArguments: `--policy-pack DIR --policy-pack-config FILE`, once per pack.
    ///   - runsDirectory: Where our own log goes (`<dest>/runs`).
    ///   - workingDirectory: What a relative `--event-log` path of the user's is relative to.
    public init(command: [String], packArguments: [String], runsDirectory: URL, workingDirectory: URL) {
        self.command = command + packArguments
        if let given = Self.userEventLog(in: command) {
            isTemporary = false
            // pulumi can also stream the log to a gRPC server (`tcp://HOST:PORT`): there is no file to read then.
            if given.hasPrefix("tcp://") || given.isEmpty {
                logFile = nil
            } else if given.hasPrefix("/") {
                logFile = URL(fileURLWithPath: given)
            } else {
                logFile = workingDirectory.appendingPathComponent(given)
            }
        } else if Self.runsPulumi(command) {
            let file = runsDirectory.appendingPathComponent("events-\(UUID().uuidString.lowercased()).jsonl")
            self.command += ["--event-log", file.path]
            logFile = file
            isTemporary = true
        } else {
            logFile = nil
            isTemporary = false
        }
    }

    /// The value of the command's own `--event-log X` or `--event-log=X`, if it has one.
    static func userEventLog(in command: [String]) -> String? {
        var words = command.dropFirst().makeIterator()
        while let word = words.next() {
            if word == "--" { return nil }
            if word == "--event-log" { return words.next() ?? "" }
            if word.hasPrefix("--event-log=") { return String(word.dropFirst("--event-log=".count)) }
        }
        return nil
    }

    /// Whether the program run is pulumi itself (`pulumi`, `/usr/local/bin/pulumi`): only it takes `--event-log`.
    static func runsPulumi(_ command: [String]) -> Bool {
        guard let program = command.first else { return false }
        return URL(fileURLWithPath: program).lastPathComponent == "pulumi"
    }
}

extension EventLogPlan {
    /// A log of ours this old was left by a run that was killed before it could remove it: pulumi writes its log
    /// as the run goes, so the log of a run still going has changed more recently than this.
    static let abandonedAfter: TimeInterval = 24 * 3600

    /// Removes `events-*.jsonl` files last changed before `cutoff` from `runsDirectory`. Best effort.
    public static func removeAbandonedLogs(in runsDirectory: URL, now: Date = Date()) {
        let cutoff = now.addingTimeInterval(-abandonedAfter)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: runsDirectory.path)) ?? []
        for name in names where name.hasPrefix("events-") && name.hasSuffix(".jsonl") {
            let file = runsDirectory.appendingPathComponent(name)
            let modified = (try? FileManager.default.attributesOfItem(atPath: file.path))?[.modificationDate]
            if let modified = modified as? Date, modified < cutoff { try? FileManager.default.removeItem(at: file) }
        }
    }
}
