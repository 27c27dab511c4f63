import Foundation
import HTTPTypes
import NIOCore
import PolicyHubCore
import Testing

@testable import PolicyHubHTTP

#if canImport(Glibc)
import Glibc
#endif

/// Rate limits per token and per anonymous client address, on a real server over loopback (with loopback
/// limiting turned on, since loopback is exempt by default) and a clock the test moves.
@Suite("Rate limiting")
struct RateLimitTests {
    static func limits(perToken: Int = 0, perAddress: Int = 0, loopback: Bool = true, clock: TestClock) -> HTTPLimits {
        HTTPLimits(
            rateLimits: RateLimits(
                perToken: perToken, perAnonymousAddress: perAddress, limitsLoopback: loopback,
                clock: clock.wallClock))
    }

    @Test func aTokenOverItsLimitGets429WithRetryAfterAndOtherTokensAreUnaffected() async throws {
        let clock = TestClock()
        try await TestServer.with(httpLimits: Self.limits(perToken: 3, clock: clock)) { server, api in
            let other = try await server.makeUser("other", in: "default", role: .admin)
            for _ in 0..<3 { #expect(try await api.send(.get, "/api/user", token: server.adminToken).status == .ok) }

            let limited = try await api.send(.get, "/api/user", token: server.adminToken)
            #expect(limited.status == .tooManyRequests)
            #expect(limited.code == 429)
            #expect(limited.message?.contains("retry after 20 seconds") == true)
            // 3 a minute refill one every 20 seconds.
            #expect(limited.headers[.retryAfter] == "20")
            #expect(limited.headers[.contentType] == "application/json")
            // The same token as a Bearer token is the same bucket; a refused publish creates nothing.
            let bearer = try await api.send(
                .get, "/api/user", token: nil, headers: [.authorization: "Bearer \(server.adminToken)"])
            #expect(bearer.status == .tooManyRequests)
            let create = try await api.send(
                .post, "/api/orgs/default/policypacks", token: server.adminToken,
                json: Fixtures.createBody("p", tag: "1.0.0"))
            #expect(create.status == .tooManyRequests)

            for _ in 0..<3 { #expect(try await api.send(.get, "/api/user", token: other).status == .ok) }
            let list = try await api.send(.get, "/api/orgs/default/policypacks", token: other)
            #expect(list.status == .tooManyRequests)

            clock.advance(by: 20)
            #expect(
                try await api.send(.get, "/api/orgs/default/policypacks", token: server.adminToken).json == [
                    "policyPacks": []
                ])
            #expect(try await api.send(.get, "/api/user", token: server.adminToken).status == .tooManyRequests)

            clock.advance(by: 60)
            for _ in 0..<3 { #expect(try await api.send(.get, "/api/user", token: server.adminToken).status == .ok) }
            #expect(try await api.send(.get, "/api/user", token: server.adminToken).status == .tooManyRequests)
        }
    }

    @Test func anonymousCallsAreLimitedPerAddressAndTokensAreNot() async throws {
        let clock = TestClock()
        try await TestServer.with(httpLimits: Self.limits(perAddress: 2, clock: clock)) { server, api in
            let registryList = "/api/registry/policypacks?orgLogin=default"
            #expect(try await api.send(.get, registryList, token: nil).status == .ok)
            #expect(try await api.send(.post, "/api/preview/registry/policypacks", token: nil).status == .ok)

            let limited = try await api.send(.get, registryList, token: nil)
            #expect(limited.status == .tooManyRequests)
            #expect(limited.code == 429)
            #expect(limited.headers[.retryAfter] == "30")
            #expect(try await api.send(.post, "/api/registry/policypacks", token: nil).status == .tooManyRequests)
            // A refused token counts against the address too, so tokens cannot be guessed at full speed.
            let guessed = try await api.send(
                .get, registryList, token: "pul-0000000000000000000000000000000000000000")
            #expect(guessed.status == .tooManyRequests)
            // Valid tokens have their own limit (off here); health probes are never limited.
            #expect(try await api.send(.get, registryList, token: server.adminToken).status == .ok)
            #expect(try await api.send(.get, "/healthz", token: nil).status == .ok)

            clock.advance(by: 30)
            #expect(try await api.send(.get, registryList, token: nil).status == .ok)
            #expect(try await api.send(.get, registryList, token: nil).status == .tooManyRequests)
            clock.advance(by: 60)
            let unknownToken = try await api.send(
                .get, registryList, token: "pul-0000000000000000000000000000000000000000")
            #expect(unknownToken.status == .unauthorized)
        }
    }

    @Test func loopbackClientsAreExemptUnlessEnabled() async throws {
        let clock = TestClock()
        let limits = Self.limits(perToken: 1, perAddress: 1, loopback: false, clock: clock)
        try await TestServer.with(httpLimits: limits) { server, api async throws in
            for _ in 0..<10 {
                #expect(try await api.send(.get, "/api/user", token: server.adminToken).status == .ok)
                #expect(try await api.send(.get, "/api/registry/policypacks?orgLogin=x", token: nil).status == .ok)
            }
        }
    }

    @Test func withTheLimitsOffNothingIsLimited() async throws {
        try await TestServer.with { server, api in
            try await api.publish("default", "p", tag: "1.0.0", token: server.adminToken)
            for _ in 0..<40 {
                #expect(
                    try await api.send(.get, "/api/orgs/default/policypacks", token: server.adminToken).status == .ok)
                #expect(try await api.send(.get, "/api/registry/policypacks?orgLogin=x", token: nil).status == .ok)
            }
        }
    }

    @Test func bucketsRefillAtTheLimitAMinuteAndIdleOnesAreDropped() {
        let clock = TestClock()
        let buckets = TokenBuckets(limit: 2, maxBuckets: 4, clock: clock.wallClock)
        #expect(buckets.take("a") == .allowed)
        #expect(buckets.take("a") == .allowed)
        #expect(buckets.take("a") == .limited(retryAfter: 30))
        clock.advance(by: 10)
        #expect(buckets.take("a") == .limited(retryAfter: 20))
        for key in ["b", "c", "d"] { #expect(buckets.take(key) == .allowed) }
        #expect(buckets.count == 4)
        // At the cap, with every bucket recently used, the least recently used half goes.
        #expect(buckets.take("e") == .allowed)
        #expect(buckets.count == 3)
        // After a whole idle window every bucket would be full again, so none is kept.
        clock.advance(by: 60)
        #expect(buckets.take("f") == .allowed)
        #expect(buckets.count == 1)
    }

    @Test func clientsAreKeyedByIPv4AddressOrIPv6Slash64() throws {
        func client(_ ip: String) throws -> ClientAddress {
            ClientAddress(try SocketAddress(ipAddress: ip, port: 40000))
        }
        #expect(try client("127.0.0.1") == ClientAddress(key: "127.0.0.1", isLoopback: true))
        #expect(try client("127.0.0.2").isLoopback)
        #expect(try client("::1") == ClientAddress(key: "::1", isLoopback: true))
        #expect(try client("10.1.2.3") == ClientAddress(key: "10.1.2.3", isLoopback: false))
        #expect(try client("::ffff:10.1.2.3") == ClientAddress(key: "10.1.2.3", isLoopback: false))
        #expect(try client("::ffff:127.0.0.1").isLoopback)
        #expect(try client("2001:db8:a:b:1:2:3:4").key == "2001:db8:a:b::/64")
        #expect(try client("2001:db8:a:b::9") == client("2001:db8:a:b:1:2:3:4"))
        #expect(try client("2001:db8:a:c::9").key != client("2001:db8:a:b::9").key)
        #expect(ClientAddress(nil).isLoopback == false)
    }
}

/// The flags of `policyhub serve`, through the real binary: each client address has its own anonymous bucket.
@Suite("Rate limiting flags", .serialized)
struct RateLimitFlagTests {
    @Test func theServeFlagsLimitEachAnonymousAddressOnItsOwn() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("policyhub-rate-\(UUID())")
        defer { try? FileManager.default.removeItem(at: directory) }
        let server = try ServerProcess(
            dataDir: directory.appendingPathComponent("data"),
            extraArguments: ["--anonymous-rate-limit", "2", "--rate-limit-loopback"])
        try await server.waitUntilReady()
        let path = "/api/registry/policypacks?orgLogin=default"
        for source in ["127.0.0.2", "127.0.0.3"] {
            #expect(try await RawHTTP.get(path, port: server.port, from: source).status == 200, "\(source)")
            #expect(try await RawHTTP.get(path, port: server.port, from: source).status == 200, "\(source)")
            let limited = try await RawHTTP.get(path, port: server.port, from: source)
            #expect(limited.status == 429, "\(source)")
            #expect(limited.body.contains(#""code":429"#))
            let retryAfter = try #require(limited.headers["retry-after"].flatMap { Int($0) })
            #expect((1...30).contains(retryAfter))
        }
        #expect(try await server.terminate() == 0)
    }

    @Test func theEnvironmentFallbacksAreRead() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("policyhub-rate-\(UUID())")
        defer { try? FileManager.default.removeItem(at: directory) }
        // A host nothing can listen on: should a value be accepted after all, serve fails instead of running on.
        let arguments = ["serve", "--data-dir", directory.path, "--host", "256.0.0.1", "--port", "1"]
        let badLimit = try await PolicyHubBinary.run(arguments, environment: ["POLICYHUB_RATE_LIMIT": "lots"])
        #expect(badLimit.status != 0)
        #expect(badLimit.stderr.contains("--rate-limit must be an integer of at least 0"), "\(badLimit.stderr)")
        let badAnonymous = try await PolicyHubBinary.run(
            arguments, environment: ["POLICYHUB_ANONYMOUS_RATE_LIMIT": "-1"])
        #expect(
            badAnonymous.stderr.contains("--anonymous-rate-limit must be an integer of at least 0"),
            "\(badAnonymous.stderr)")
        let badLoopback = try await PolicyHubBinary.run(
            arguments, environment: ["POLICYHUB_RATE_LIMIT_LOOPBACK": "maybe"])
        #expect(badLoopback.stderr.contains("POLICYHUB_RATE_LIMIT_LOOPBACK must be true or false"))
    }
}

/// A one-request HTTP/1.1 client whose connection comes from a chosen loopback address, to act as several
/// clients.
enum RawHTTP {
    struct Reply: Sendable {
        var status: Int
        var headers: [String: String]
        var body: String
    }

    static func get(_ path: String, port: Int, from source: String) async throws -> Reply {
        try await OwnThread.run {
            let connection = try RawConnection(port: port, from: source)
            connection.send("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            var text = ""
            let deadline = ContinuousClock.now + .seconds(10)
            reading: while ContinuousClock.now < deadline {
                switch connection.receive() {
                case .bytes(let more): text += more
                case .closed: break reading
                case .nothingYet: continue
                }
            }
            return try parse(text)
        }
    }

    private static func parse(_ text: String) throws -> Reply {
        guard let split = text.range(of: "\r\n\r\n") else { throw TestFailure("no response: \(text)") }
        let lines = text[..<split.lowerBound].components(separatedBy: "\r\n")
        let statusWords = lines.first?.split(separator: " ") ?? []
        guard statusWords.count >= 2, let status = Int(statusWords[1]) else {
            throw TestFailure("bad status line: \(lines.first ?? "")")
        }
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(
                in: .whitespaces)
        }
        return Reply(status: status, headers: headers, body: String(text[split.upperBound...]))
    }
}
