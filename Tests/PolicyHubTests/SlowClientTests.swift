import Foundation
import HTTPTypes
import PolicyHubCore
import Testing

/// Clients that send slowly, or not at all, cannot hold a connection open: the idle timeout closes connections
/// whose request head never completes, and the read timeout ends requests whose body trickles in.
@Suite("Slow clients")
struct SlowClientTests {
    struct Outcome: Sendable {
        var answer = ""
        var closed = false
        var elapsed = Duration.zero
    }

    /// Sends `head` at once, then `trickled` a byte every 100 ms, while collecting whatever the server answers, until
    /// it closes the connection or `giveUpAfter` passes.
    static func send(
        _ head: String, trickling trickled: String, to port: Int, giveUpAfter: Duration = .seconds(20)
    ) async throws -> Outcome {
        try await OwnThread.run {
            // Before connecting: the server's timers start when it accepts, never before this.
            let started = ContinuousClock.now
            let connection = try RawConnection(port: port)
            var outcome = Outcome()
            var pending = Substring(trickled)
            connection.send(head)
            while !outcome.closed && ContinuousClock.now - started < giveUpAfter {
                if let next = pending.popFirst() { connection.send(String(next)) }
                switch connection.receive() {
                case .bytes(let text): outcome.answer += text
                case .closed: outcome.closed = true
                case .nothingYet: break
                }
            }
            outcome.elapsed = ContinuousClock.now - started
            return outcome
        }
    }

    /// Closed by a 2 s timeout: not at once, and not much later. The server's timer and the test's clock start a
    /// moment apart and may run a millisecond apart, hence the margin below.
    static func closedAroundTwoSeconds(_ outcome: Outcome) -> Bool {
        outcome.elapsed >= .milliseconds(1900) && outcome.elapsed < .seconds(8)
    }

    static func startServer(_ arguments: [String]) async throws -> (ServerProcess, token: String, URL) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("policyhub-slow-\(UUID())")
        let server = try ServerProcess(dataDir: directory, extraArguments: arguments)
        try await server.waitUntilReady()
        let token = try server.initialAdminToken()
        return (server, token, directory)
    }

    static func createRequest(token: String, body: String) -> String {
        "POST /api/orgs/default/policypacks HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: token \(token)\r\n"
            + "Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n"
    }

    @Test func aTrickledBodyGets408WhenTheReadTimeoutPassesAndChangesNothing() async throws {
        let (server, token, directory) = try await Self.startServer(["--read-timeout", "2"])
        defer { try? FileManager.default.removeItem(at: directory) }
        // About 20 s of body at a byte every 100 ms: each byte resets the 60 s idle timer, the read timeout is 2 s.
        let body = try Fixtures.createBody("slow", tag: "1.0.0").encoded()
        #expect(body.utf8.count > 150)
        let outcome = try await Self.send(
            Self.createRequest(token: token, body: body), trickling: body, to: server.port)
        #expect(outcome.answer.hasPrefix("HTTP/1.1 408"), "\(outcome.answer)")
        #expect(outcome.answer.contains(#""code":408"#))
        #expect(outcome.answer.contains("did not arrive within 2 seconds"))
        #expect(outcome.closed)
        #expect(Self.closedAroundTwoSeconds(outcome), "closed after \(outcome.elapsed)")

        try await server.withClient { api in
            let list = try await api.send(.get, "/api/orgs/default/policypacks", token: token)
            #expect(list.status == .ok)
            #expect(list.json["policyPacks"] == [])
        }
        #expect(try await server.terminate() == 0)
    }

    @Test func aTrickledArchiveUploadGets408AndLeavesNoArchive() async throws {
        let (server, token, directory) = try await Self.startServer(["--read-timeout", "2"])
        defer { try? FileManager.default.removeItem(at: directory) }
        let created = try await server.withClient { api in
            try await api.send(
                .post, "/api/orgs/default/policypacks", token: token, json: Fixtures.createBody("slow", tag: "1.0.0"))
        }
        let upload = try #require(created.json["uploadURI"]?.stringValue.flatMap(URLComponents.init(string:)))
        let target = upload.percentEncodedPath + (upload.percentEncodedQuery.map { "?" + $0 } ?? "")
        let archive = String(repeating: "x", count: 400)
        let outcome = try await Self.send(
            "PUT \(target) HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/gzip\r\n"
                + "Content-Length: \(archive.utf8.count)\r\n\r\n",
            trickling: archive, to: server.port)
        #expect(outcome.answer.hasPrefix("HTTP/1.1 408"), "\(outcome.answer)")
        #expect(outcome.closed)
        #expect(outcome.elapsed < .seconds(8), "closed after \(outcome.elapsed)")
        try await server.withClient { api in
            let complete = try await api.send(
                .post, "/api/orgs/default/policypacks/slow/versions/1.0.0/complete", token: token)
            #expect(complete.status == .badRequest)
            #expect(complete.message?.contains("No archive was uploaded") == true)
        }
        #expect(try await server.terminate() == 0)
    }

    @Test func aRequestThatPausesButArrivesInTimeIsServed() async throws {
        let (server, token, directory) = try await Self.startServer(["--read-timeout", "5", "--idle-timeout", "5"])
        defer { try? FileManager.default.removeItem(at: directory) }
        let body = try Fixtures.createBody("patient", tag: "1.0.0").encoded()
        let answer = try await OwnThread.run {
            let connection = try RawConnection(port: server.port)
            connection.send(Self.createRequest(token: token, body: body))
            // Two pauses of 400 ms inside the body: slow, but well within the deadline.
            let third = body.utf8.count / 3
            for (index, piece) in [body.prefix(third), body.dropFirst(third).prefix(third), body.dropFirst(2 * third)]
                .enumerated()
            {
                if index > 0 { Thread.sleep(forTimeInterval: 0.4) }
                connection.send(String(piece))
            }
            var answer = ""
            let deadline = ContinuousClock.now + .seconds(5)
            while !answer.contains("uploadURI") && ContinuousClock.now < deadline {
                if case .bytes(let text) = connection.receive() { answer += text }
            }
            return answer
        }
        // Created: the answer carries the new version's upload link.
        #expect(answer.hasPrefix("HTTP/1.1 201"), "\(answer)")
        #expect(answer.contains("uploadURI"))
        #expect(try await server.terminate() == 0)
    }

    @Test func silentConnectionsAndTrickledHeadsAreClosedByTheIdleTimeout() async throws {
        let (server, _, directory) = try await Self.startServer(["--idle-timeout", "2"])
        defer { try? FileManager.default.removeItem(at: directory) }
        async let silent = Self.send("", trickling: "", to: server.port)
        // A head a byte at a time: the bytes arrive, but the request never starts.
        let head = "X-Slow: " + String(repeating: "a", count: 400)
        async let trickledHead = Self.send(
            "GET /api/user HTTP/1.1\r\nHost: 127.0.0.1\r\n", trickling: head, to: server.port)
        for outcome in try await [silent, trickledHead] {
            #expect(outcome.closed)
            #expect(outcome.answer.isEmpty)
            #expect(Self.closedAroundTwoSeconds(outcome), "closed after \(outcome.elapsed)")
        }
        #expect(try await server.terminate() == 0)
    }

    @Test func timeoutsMustBeAtLeastASecond() async throws {
        let result = try await PolicyHubBinary.run([
            "serve", "--read-timeout", "0", "--data-dir",
            FileManager.default.temporaryDirectory.appendingPathComponent("policyhub-never-\(UUID())").path,
        ])
        #expect(result.status != 0)
        #expect(result.stderr.contains("--read-timeout must be an integer of at least 1"), "\(result.stderr)")
    }
}
