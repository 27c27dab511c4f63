import Foundation
import PolicyHubFetch
import Synchronization
import Testing

/// Delivering reports over real HTTP to a loopback server whose answers each test scripts, with a real spool.
@Suite("Results delivery", .serialized)
struct ResultsReporterTests {
    let cache = FileManager.default.temporaryDirectory.appendingPathComponent(
        "policyhub-delivery-\(UUID().uuidString)", isDirectory: true)
    static let stack = StackPath(organization: "acme", project: "web app", stack: "prod")
    static let token = "pul-" + String(repeating: "a", count: 40)
    static let path = "/api/preview/insights/acme/policy/stacks/web%20app/prod/updates"

    var spool: ReportSpool { ReportSpool(cacheDirectory: cache) }

    /// Lines the reporter said.
    final class Said: Sendable {
        private let lines = Mutex<[String]>([])
        func append(_ line: String) { lines.withLock { $0.append(line) } }
        var all: [String] { lines.withLock { $0 } }
        var text: String { all.joined(separator: "\n") }
    }

    func reporter(_ server: URL, said: Said) -> ResultsReporter {
        ResultsReporter(server: server, token: Self.token, spool: spool, say: { said.append($0) })
    }

    static func bounded(_ log: String = EngineEventLogTests.preview) throws -> BoundedReport {
        try ResultsReport(findings: EngineEventLog.parse(Data(log.utf8)), succeeded: true).bounded()
    }

    func withServer(
        _ answers: [LoopbackHTTPServer.Answer], _ body: (LoopbackHTTPServer) async throws -> Void
    ) async throws {
        defer { try? FileManager.default.removeItem(at: cache) }
        let server = try LoopbackHTTPServer(answers: answers)
        defer { server.stop() }
        try await body(server)
    }

    @Test func aReportIsPutWithTheTokenAndTheExactBody() async throws {
        try await withServer([.init(200, #"{"recorded":true,"violations":4,"unknownPolicyPacks":[]}"#)]) { server in
            let said = Said()
            let report = try Self.bounded()
            let delivery = await reporter(server.url, said: said).deliver(
                report, stack: Self.stack, updateVersion: 1_733_150_000_123)
            #expect(delivery == .recorded(ReportAnswer(recorded: true, violations: 4, unknownPolicyPacks: [])))
            let request = try #require(server.requests.first)
            #expect(server.requests.count == 1)
            #expect(request.method == "PUT")
            #expect(request.path == Self.path + "/1733150000123/results")
            #expect(request.headers["authorization"] == "token \(Self.token)")
            #expect(request.headers["content-type"] == "application/json")
            #expect(request.headers["accept"] == "application/json")
            #expect(request.body == report.body)
            #expect(said.all == ["reported 4 violations of 4 policies for acme/web app/prod (update 1733150000123)"])
            #expect(spool.list().entries.isEmpty)
        }
    }

    @Test func unknownPacksAreNamedAndARepeatIsNoFailure() async throws {
        try await withServer([
            .init(200, #"{"recorded":true,"violations":1,"unknownPolicyPacks":["guard@1.2.0","other@2"]}"#),
            .init(200, #"{"recorded":false,"violations":1}"#),
        ]) { server in
            let said = Said()
            let report = try Self.bounded()
            _ = await reporter(server.url, said: said).deliver(report, stack: Self.stack, updateVersion: 7)
            let repeated = await reporter(server.url, said: said).deliver(report, stack: Self.stack, updateVersion: 7)
            #expect(repeated == .recorded(ReportAnswer(recorded: false, violations: 1)))
            #expect(
                said.all == [
                    "reported 1 violation of 4 policies for acme/web app/prod (update 7)",
                    "warning: guard@1.2.0, other@2 are not published in PolicyHub; recorded but flagged",
                    "the report for acme/web app/prod (update 7) was already recorded",
                ])
        }
    }

    /// 5xx and 429 mean later: the report is spooled. Another 4xx means never: it is dropped, and said so.
    @Test(arguments: [503, 429, 500])
    func aBusyServerGetsTheReportLater(status: Int) async throws {
        try await withServer([.init(status, #"{"code":\#(status),"message":"try later"}"#)]) { server in
            let said = Said()
            let report = try Self.bounded()
            let delivery = await reporter(server.url, said: said).deliver(report, stack: Self.stack, updateVersion: 9)
            let entry = try #require(spool.list(server: server.url).entries.first)
            #expect(delivery == .spooled(entry.file))
            #expect(entry.report.bodyData == report.body)
            #expect(entry.report.updateVersion == 9)
            #expect(said.text.contains("HTTP \(status): try later"))
            #expect(said.text.contains("will be resent by the next run"))
        }
    }

    @Test(arguments: [400, 401, 403, 404, 413])
    func aRefusedReportIsDroppedAndSaidToBeUnrecorded(status: Int) async throws {
        try await withServer([.init(status, #"{"code":\#(status),"message":"no such stack"}"#)]) { server in
            let said = Said()
            let delivery = await reporter(server.url, said: said).deliver(
                try Self.bounded(), stack: Self.stack, updateVersion: 9)
            #expect(delivery == .dropped)
            #expect(spool.list().entries.isEmpty)
            #expect(
                said.all == [
                    "warning: the server refused the report for acme/web app/prod (update 9): no such stack (HTTP "
                        + "\(status)); it was NOT recorded and is dropped"
                ])
        }
    }

    @Test func nothingListeningSpoolsTheReport() async throws {
        defer { try? FileManager.default.removeItem(at: cache) }
        // A port that was just listening and is closed now.
        let closed = try LoopbackHTTPServer(answers: [])
        closed.stop()
        let said = Said()
        let delivery = await reporter(closed.url, said: said).deliver(
            try Self.bounded(), stack: Self.stack, updateVersion: 11)
        guard case .spooled = delivery else {
            Issue.record("not spooled: \(delivery)")
            return
        }
        #expect(said.all.count == 1)
        #expect(said.text.hasPrefix("warning: cannot reach http://127.0.0.1:\(closed.port): connection refused;"))
    }

    /// Spooled reports go first, oldest first; the accepted and the refused are removed; the first that must wait
    /// stops the resending (the rest would wait too), and the new report is spooled behind it unsent.
    @Test func spooledReportsAreResentOldestFirstUntilOneMustWait() async throws {
        try await withServer([.init(200), .init(404, #"{"code":404,"message":"gone"}"#), .init(503)]) { server in
            for (version, time) in [(30, 3000), (10, 1000), (20, 2000), (40, 4000)] {
                try spool.write(
                    SpooledReport(
                        server: server.url, stack: Self.stack, updateVersion: Int64(version),
                        body: Data(#"{"v":\#(version)}"#.utf8),
                        spooledAt: Date(timeIntervalSince1970: Double(time) / 1000)))
            }
            // Another server's report stays out of it.
            let elsewhere = URL(string: "http://127.0.0.1:1")!
            try spool.write(
                SpooledReport(server: elsewhere, stack: Self.stack, updateVersion: 1, body: Data("{}".utf8)))

            let said = Said()
            let delivery = await reporter(server.url, said: said).deliver(
                try Self.bounded(), stack: Self.stack, updateVersion: 50)
            #expect(server.requests.map(\.path) == [10, 20, 30].map { Self.path + "/\($0)/results" })
            #expect(
                server.requests.map { String(decoding: $0.body, as: UTF8.self) }
                    == [10, 20, 30].map { #"{"v":\#($0)}"# })
            #expect(server.requests.allSatisfy { $0.headers["authorization"] == "token \(Self.token)" })
            guard case .spooled = delivery else {
                Issue.record("not spooled: \(delivery)")
                return
            }
            #expect(spool.list(server: server.url).entries.map(\.report.updateVersion) == [30, 40, 50])
            #expect(spool.list(server: elsewhere).entries.count == 1)
            #expect(said.text.contains("spooled report for acme/web app/prod (update 20): gone (HTTP 404)"))
            #expect(said.all.contains("resent 1 spooled report; 2 still spooled (the server answered HTTP 503)"))
        }
    }

    @Test func aSpoolThatEmptiesIsFollowedByTheNewReport() async throws {
        try await withServer([.init(200)]) { server in
            for version in [1, 2] {
                try spool.write(
                    SpooledReport(
                        server: server.url, stack: Self.stack, updateVersion: Int64(version), body: Data("{}".utf8),
                        spooledAt: Date(timeIntervalSince1970: Double(version))))
            }
            let said = Said()
            let delivery = await reporter(server.url, said: said).deliver(
                try Self.bounded(), stack: Self.stack, updateVersion: 3)
            #expect(delivery == .recorded(ReportAnswer()))
            #expect(server.requests.map(\.path) == [1, 2, 3].map { Self.path + "/\($0)/results" })
            #expect(spool.list().entries.isEmpty)
            #expect(said.all.first == "resent 2 spooled reports")
        }
    }

    @Test func aBacklogIsResentAFewAtATime() async throws {
        try await withServer([.init(200)]) { server in
            for version in 1...5 {
                try spool.write(
                    SpooledReport(
                        server: server.url, stack: Self.stack, updateVersion: Int64(version), body: Data("{}".utf8),
                        spooledAt: Date(timeIntervalSince1970: Double(version))))
            }
            var reporter = reporter(server.url, said: Said())
            reporter.maxResends = 2
            _ = await reporter.deliver(try Self.bounded(), stack: Self.stack, updateVersion: 6)
            #expect(server.requests.map(\.path) == [1, 2, 6].map { Self.path + "/\($0)/results" })
            #expect(spool.list().entries.map(\.report.updateVersion) == [3, 4, 5])

            reporter.maxResends = 100
            reporter.resendBudget = .zero
            _ = await reporter.deliver(try Self.bounded(), stack: Self.stack, updateVersion: 7)
            #expect(server.requests.map(\.path).suffix(1) == [Self.path + "/7/results"], "out of time: none resent")
            #expect(spool.list().entries.map(\.report.updateVersion) == [3, 4, 5])
        }
    }

    @Test func aReportOfALogSaysWhatItLeftOut() async throws {
        try await withServer([.init(200, #"{"recorded":true,"violations":2}"#)]) { server in
            let said = Said()
            var reporter = reporter(server.url, said: said)
            reporter.limits.maxViolations = 2
            let cut = String(EngineEventLogTests.preview.dropLast(40))
            let findings = EngineEventLog.parse(Data(cut.utf8))
            let file = URL(fileURLWithPath: "/tmp/events.jsonl")
            _ = await reporter.report(
                eventLog: findings, logFile: file, exitStatus: 0, stack: Self.stack, updateVersion: 1)
            #expect(
                said.all == [
                    "warning: /tmp/events.jsonl ends inside an event (the run was interrupted): reporting what it holds",
                    "warning: the run found 4 violations; only the first 2 are reported",
                    "reported 2 violations of 2 policies for acme/web app/prod (update 1)",
                ])
            let sent = try #require(server.requests.first)
            let json = try #require(try JSONSerialization.jsonObject(with: sent.body) as? [String: Any])
            #expect((json["results"] as? [String: Any])?["succeeded"] as? Bool == false)
        }
    }
}
