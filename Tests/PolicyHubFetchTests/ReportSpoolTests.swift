import Foundation
import PolicyHubFetch
import Testing

/// The spool of unsent reports, on a real directory.
@Suite("Report spool")
struct ReportSpoolTests {
    let cache = FileManager.default.temporaryDirectory.appendingPathComponent(
        "policyhub-spool-\(UUID().uuidString)", isDirectory: true)
    static let server = URL(string: "http://127.0.0.1:8080")!
    static let stack = StackPath(organization: "acme", project: "web", stack: "prod")

    var spool: ReportSpool { ReportSpool(cacheDirectory: cache) }

    static func report(
        _ version: Int64, at milliseconds: Int64, server: URL = server, body: String = #"{"claimId":"a","results":{}}"#
    ) -> SpooledReport {
        SpooledReport(
            server: server, stack: stack, updateVersion: version, body: Data(body.utf8),
            spooledAt: Date(timeIntervalSince1970: Double(milliseconds) / 1000))
    }

    @Test func aWrittenReportIsListedByteForByteAndRemoved() throws {
        defer { try? FileManager.default.removeItem(at: cache) }
        let body = #"{"claimId":"c1","results":{"succeeded":true,"violations":[{"message":"a \"quoted\" é"}]}}"#
        let written = Self.report(1_733_150_000_123, at: 1_733_150_000_500, body: body)
        let file = try spool.write(written)
        #expect(file.deletingLastPathComponent().path == cache.appendingPathComponent("reports").path)

        let (entries, unreadable) = spool.list(server: Self.server)
        #expect(unreadable.isEmpty)
        let entry = try #require(entries.first)
        #expect(entries.count == 1)
        #expect(entry.file == file)
        #expect(entry.report == written)
        #expect(entry.report.bodyData == Data(body.utf8))
        #expect(entry.report.stackPath == Self.stack)
        #expect(entry.report.updateVersion == 1_733_150_000_123)

        // Only its owner can read it: it names resources.
        let permissions = try FileManager.default.attributesOfItem(atPath: file.path)[.posixPermissions] as? Int
        #expect(permissions == 0o600)

        try spool.remove(entry)
        try spool.remove(entry)  // already gone: no error
        #expect(spool.list().entries.isEmpty)
    }

    @Test func anEmptyOrMissingSpoolListsNothing() {
        defer { try? FileManager.default.removeItem(at: cache) }
        let (entries, unreadable) = spool.list()
        #expect(entries.isEmpty && unreadable.isEmpty)
    }

    @Test func reportsAreListedOldestFirst() throws {
        defer { try? FileManager.default.removeItem(at: cache) }
        for (version, time) in [(3, 3000), (1, 1000), (2, 2000), (4, 2000)] {
            try spool.write(Self.report(Int64(version), at: Int64(time)))
        }
        let versions = spool.list(server: Self.server).entries.map(\.report.updateVersion)
        #expect(versions.count == 4)
        #expect(versions.first == 1)
        #expect(Set(versions[1...2]) == [2, 4], "same time: either order")
        #expect(versions.last == 3)
    }

    /// Reports are resent to the server they were meant for only; spellings of the same server are the same.
    @Test func eachServerSeesOnlyItsOwnReports() throws {
        defer { try? FileManager.default.removeItem(at: cache) }
        try spool.write(Self.report(1, at: 1, server: URL(string: "HTTP://Hub.Example.com:8443/")!))
        try spool.write(Self.report(2, at: 2, server: URL(string: "http://127.0.0.1:9090")!))
        let mine = spool.list(server: URL(string: "http://hub.example.com:8443")!).entries
        #expect(mine.map(\.report.updateVersion) == [1])
        #expect(mine.first?.report.server == "http://hub.example.com:8443")
        #expect(spool.list().entries.count == 2)
    }

    /// A write in progress (or one a killed run left) is a temporary file, never a report; a damaged file is
    /// named, and left alone.
    @Test func onlyCompleteFilesAreReports() throws {
        defer { try? FileManager.default.removeItem(at: cache) }
        try spool.write(Self.report(1, at: 1))
        let reports = cache.appendingPathComponent("reports")
        #expect(try FileManager.default.contentsOfDirectory(atPath: reports.path).allSatisfy { !$0.hasPrefix(".") })

        let inProgress = reports.appendingPathComponent(".tmp-\(UUID().uuidString).json")
        let abandoned = reports.appendingPathComponent(".tmp-old.json")
        let damaged = reports.appendingPathComponent("000000000000002-damaged.json")
        for file in [inProgress, abandoned, damaged] {
            #expect(FileManager.default.createFile(atPath: file.path, contents: Data(#"{"server":"#.utf8)))
        }
        try FileManager.default.setAttributes(
            [.modificationDate: Date().addingTimeInterval(-7200)], ofItemAtPath: abandoned.path)

        let (entries, unreadable) = spool.list(server: Self.server)
        #expect(entries.map(\.report.updateVersion) == [1])
        #expect(unreadable == [damaged])
        #expect(FileManager.default.fileExists(atPath: inProgress.path), "a write in progress is left alone")
        #expect(!FileManager.default.fileExists(atPath: abandoned.path), "a killed run's leftover is removed")
        #expect(FileManager.default.fileExists(atPath: damaged.path))
    }

    @Test func theSpooledFileHoldsNoToken() throws {
        defer { try? FileManager.default.removeItem(at: cache) }
        let file = try spool.write(Self.report(1, at: 1))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: file)) as? [String: Any])
        #expect(
            Set(object.keys) == ["server", "organization", "project", "stack", "updateVersion", "spooledAt", "body"])
    }
}
