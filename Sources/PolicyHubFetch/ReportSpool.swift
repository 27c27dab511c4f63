import Foundation

/// A results report that could not be delivered yet: where it goes and the exact body to send. Never the token.
public struct SpooledReport: Sendable, Equatable, Codable {
    /// The server it is for, as ``ReportSpool/serverKey(_:)`` spells it.
    public var server: String
    public var organization: String
    public var project: String
    public var stack: String
    /// The `{version}` of the results URL: a resend reuses it, so the server sees the same update again.
    public var updateVersion: Int64
    /// When it was spooled, in milliseconds since 1970: resends go oldest first.
    public var spooledAt: Int64
    /// The JSON body, byte for byte as it was first sent.
    public var body: String

    public init(server: URL, stack: StackPath, updateVersion: Int64, body: Data, spooledAt: Date = Date()) {
        self.server = ReportSpool.serverKey(server)
        organization = stack.organization
        project = stack.project
        self.stack = stack.stack
        self.updateVersion = updateVersion
        self.spooledAt = Int64((spooledAt.timeIntervalSince1970 * 1000).rounded(.down))
        self.body = String(decoding: body, as: UTF8.self)
    }

    public var stackPath: StackPath { StackPath(organization: organization, project: project, stack: stack) }
    public var bodyData: Data { Data(body.utf8) }
}

/// Reports waiting to be resent: one JSON file each in `<cache dir>/reports/`.
///
/// A file appears only by renaming a complete temporary file (`.tmp-*`, ignored by ``list(server:)``) into place,
/// so a run killed while spooling leaves a leftover, never half a report. Files are readable by their owner only:
/// they name resources.
public struct ReportSpool: Sendable {
    /// A temporary file this old belongs to a run that was killed while writing it.
    static let abandonedAfter: TimeInterval = 3600

    public let directory: URL

    /// The spool below `cacheDirectory`; the directory is made when a report is first written.
    public init(cacheDirectory: URL) {
        directory = cacheDirectory.appendingPathComponent("reports", isDirectory: true)
    }

    /// A spooled report and the file holding it.
    public struct Entry: Sendable, Equatable {
        public var file: URL
        public var report: SpooledReport
    }

    /// Writes `report` into a new file, atomically; returns the file.
    @discardableResult
    public func write(_ report: SpooledReport) throws -> URL {
        try FileManager.default.createDirectory(
            at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var data = try encoder.encode(report)
        data.append(UInt8(ascii: "\n"))
        let stamp = String(max(report.spooledAt, 0))
        let name = String(repeating: "0", count: max(0, 15 - stamp.count)) + stamp + "-" + UUID().uuidString + ".json"
        let file = directory.appendingPathComponent(name)
        // Only its owner can read it, and it is on disk before it is listed.
        try AtomicFile.write(data, to: file, permissions: 0o600, durable: true)
        return file
    }

    /// The spooled reports for `server` (all of them when nil), oldest first, and the files that are no report.
    public func list(server: URL? = nil) -> (entries: [Entry], unreadable: [URL]) {
        removeAbandonedTemporaries(before: Date().addingTimeInterval(-Self.abandonedAfter))
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        let key = server.map(Self.serverKey)
        var entries: [Entry] = []
        var unreadable: [URL] = []
        for name in names.sorted() where !name.hasPrefix(".") && name.hasSuffix(".json") {
            let file = directory.appendingPathComponent(name)
            guard let data = try? Data(contentsOf: file),
                let report = try? JSONDecoder().decode(SpooledReport.self, from: data)
            else {
                unreadable.append(file)
                continue
            }
            if key == nil || report.server == key { entries.append(Entry(file: file, report: report)) }
        }
        // Names start with the spooling time, so this is the order of the names unless a file was renamed.
        entries.sort {
            ($0.report.spooledAt, $0.file.lastPathComponent) < ($1.report.spooledAt, $1.file.lastPathComponent)
        }
        return (entries, unreadable)
    }

    /// Removes a spooled report; one already gone (another run resent it) is no error.
    public func remove(_ entry: Entry) throws {
        do {
            try FileManager.default.removeItem(at: entry.file)
        } catch let error as CocoaError where error.code == .fileNoSuchFile {
            return
        }
    }

    /// The server a report belongs to: scheme, host and port in lowercase, and the path without trailing slashes.
    public static func serverKey(_ url: URL) -> String {
        var key = "\(url.scheme?.lowercased() ?? "http")://\(url.host?.lowercased() ?? "")"
        if let port = url.port { key += ":\(port)" }
        var path = url.path
        while path.hasSuffix("/") { path.removeLast() }
        return key + path
    }

    /// Best effort: a leftover is harmless, only untidy.
    private func removeAbandonedTemporaries(before cutoff: Date) {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        for name in names where name.hasPrefix(".tmp-") {
            let file = directory.appendingPathComponent(name)
            let modified = (try? FileManager.default.attributesOfItem(atPath: file.path))?[.modificationDate]
            if let modified = modified as? Date, modified < cutoff { try? FileManager.default.removeItem(at: file) }
        }
    }
}
