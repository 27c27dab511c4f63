import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import PolicyHubCore
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How many requests a minute callers may make. The buckets live in this process: every instance behind a load
/// balancer keeps its own.
public struct RateLimits: Sendable {
    /// Requests a minute per access token; 0 turns the limit off.
    public var perToken: Int
    /// Requests a minute per client address for requests without a valid token; 0 turns the limit off.
    public var perAnonymousAddress: Int
    /// Whether loopback clients are limited too. They are exempt by default: local tools and health probes.
    public var limitsLoopback: Bool
    /// What buckets refill by; tests move it. The default never jumps, whatever the system clock does.
    public var clock: WallClock

    public init(
        perToken: Int = 0, perAnonymousAddress: Int = 0, limitsLoopback: Bool = false,
        clock: WallClock = RateLimits.monotonic
    ) {
        self.perToken = perToken
        self.perAnonymousAddress = perAnonymousAddress
        self.limitsLoopback = limitsLoopback
        self.clock = clock
    }

    /// Elapsed time on the continuous clock, shown as dates.
    public static let monotonic: WallClock = {
        let start = ContinuousClock.now
        let origin = Date()
        return WallClock {
            let elapsed = (ContinuousClock.now - start).components
            return origin.addingTimeInterval(TimeInterval(elapsed.seconds) + TimeInterval(elapsed.attoseconds) / 1e18)
        }
    }()
}

/// Decides per request whether its caller is over its limit, and answers 429 when it is.
struct RequestRateLimiter: Sendable {
    /// Probes must keep working whoever asks and however often.
    static let exemptPaths: Set<String> = ["/healthz", "/readyz"]

    let tokens: TokenBuckets?
    let addresses: TokenBuckets?
    let limitsLoopback: Bool

    init(_ limits: RateLimits) {
        tokens = limits.perToken > 0 ? TokenBuckets(limit: limits.perToken, clock: limits.clock) : nil
        addresses =
            limits.perAnonymousAddress > 0
            ? TokenBuckets(limit: limits.perAnonymousAddress, clock: limits.clock) : nil
        limitsLoopback = limits.limitsLoopback
    }

    /// Nil when the request may go on; otherwise the 429 to send. A request with a valid token is counted
    /// against its token (by ID, never the token itself); any other against the client's address.
    /// The client's address is worked out only when a limit applies: with limits off (the default) a request
    /// costs nothing here.
    func refusal(tokenID: String?, client address: @autoclosure () -> ClientAddress, path: String, logger: Logger)
        -> Response?
    {
        guard let buckets = tokenID == nil ? addresses : tokens, !Self.exemptPaths.contains(path) else { return nil }
        let client = address()
        guard limitsLoopback || !client.isLoopback else { return nil }
        guard case .limited(let retryAfter) = buckets.take(tokenID ?? client.key) else { return nil }
        logger.debug(
            "rate limited",
            metadata: tokenID.map { ["tokenID": "\($0)"] } ?? ["client": "\(client.key)"])
        let who = tokenID == nil ? "this address without a valid token" : "this token"
        var response = ErrorMapping.response(
            status: .tooManyRequests,
            message: "Too many requests from \(who); retry after \(retryAfter) seconds.")
        response.headers[.retryAfter] = String(retryAfter)
        return response
    }
}

/// Token buckets by key: each holds up to `limit` requests and refills at `limit` a minute, so a caller may burst
/// up to its limit and then goes at the steady rate. Memory stays bounded: a bucket idle for a whole window is
/// full again, the same as none, and is dropped; past `maxBuckets` the least recently used half goes too.
final class TokenBuckets: Sendable {
    enum Decision: Equatable {
        case allowed
        /// Whole seconds until one request is allowed again.
        case limited(retryAfter: Int)
    }

    private struct Bucket {
        var tokens: Double
        var updated: Date
    }

    private struct State {
        var buckets: [String: Bucket] = [:]
        var lastSweep: Date
    }

    let limit: Int
    let window: TimeInterval
    let maxBuckets: Int
    private let clock: WallClock
    private let state: Mutex<State>

    init(limit: Int, window: TimeInterval = 60, maxBuckets: Int = 100_000, clock: WallClock) {
        self.limit = limit
        self.window = window
        self.maxBuckets = max(2, maxBuckets)
        self.clock = clock
        state = Mutex(State(lastSweep: clock.now()))
    }

    var count: Int { state.withLock { $0.buckets.count } }

    /// Takes one request from the key's bucket, or tells how long until there is one. A refused request
    /// takes nothing.
    func take(_ key: String) -> Decision {
        let now = clock.now()
        let limit = Double(self.limit)
        return state.withLock { state in
            if now.timeIntervalSince(state.lastSweep) >= window { sweep(&state, now: now) }
            if state.buckets[key] == nil && state.buckets.count >= maxBuckets { evict(&state, now: now) }
            var bucket = state.buckets[key] ?? Bucket(tokens: limit, updated: now)
            // A clock that went backwards refills nothing.
            let elapsed = max(0, now.timeIntervalSince(bucket.updated))
            bucket.tokens = min(limit, bucket.tokens + elapsed * limit / window)
            bucket.updated = now
            defer { state.buckets[key] = bucket }
            guard bucket.tokens >= 1 else {
                // Less a rounding error's worth, so that exactly 20 seconds does not come out as 21.
                let wait = (1 - bucket.tokens) * window / limit - 1e-6
                return .limited(retryAfter: max(1, Int(wait.rounded(.up))))
            }
            bucket.tokens -= 1
            return .allowed
        }
    }

    private func sweep(_ state: inout State, now: Date) {
        state.buckets = state.buckets.filter { now.timeIntervalSince($0.value.updated) < window }
        state.lastSweep = now
    }

    private func evict(_ state: inout State, now: Date) {
        sweep(&state, now: now)
        guard state.buckets.count >= maxBuckets else { return }
        // Every bucket was used within the window: forgetting the least recent ones only lets them start afresh.
        let oldest = state.buckets.sorted { $0.value.updated < $1.value.updated }.prefix(state.buckets.count / 2)
        for (key, _) in oldest { state.buckets[key] = nil }
    }
}

/// The client's address as a rate-limit key. IPv6 clients are keyed by their /64, which one host or site
/// usually holds whole; IPv4-mapped IPv6 addresses count as the IPv4 address they carry.
struct ClientAddress: Hashable, Sendable {
    let key: String
    let isLoopback: Bool

    init(key: String, isLoopback: Bool) {
        self.key = key
        self.isLoopback = isLoopback
    }

    /// The binary form of an address's text, read with inet_pton (SocketAddress keeps it in C structs).
    static func bytes(of text: String?, family: Int32, count: Int) -> [UInt8]? {
        guard let text else { return nil }
        var buffer = [UInt8](repeating: 0, count: 16)
        guard inet_pton(family, text, &buffer) == 1 else { return nil }
        return Array(buffer.prefix(count))
    }

    init(_ address: SocketAddress?) {
        switch address {
        case .v4:
            self.init(ipv4: Self.bytes(of: address?.ipAddress, family: AF_INET, count: 4) ?? [])
        case .v6:
            let bytes = Self.bytes(of: address?.ipAddress, family: AF_INET6, count: 16) ?? []
            guard bytes.count == 16 else {
                self.init(key: "unknown", isLoopback: false)
                return
            }
            if bytes[0..<10].allSatisfy({ $0 == 0 }) && bytes[10] == 0xff && bytes[11] == 0xff {
                self.init(ipv4: Array(bytes[12...]))
            } else if bytes[0..<15].allSatisfy({ $0 == 0 }) && bytes[15] == 1 {
                self.init(key: "::1", isLoopback: true)
            } else {
                let groups = stride(from: 0, to: 8, by: 2).map {
                    String(UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]), radix: 16)
                }
                self.init(key: groups.joined(separator: ":") + "::/64", isLoopback: false)
            }
        case .unixDomainSocket:
            self.init(key: "unix", isLoopback: true)
        case nil:
            // A connection whose peer is gone: all such requests share one bucket.
            self.init(key: "unknown", isLoopback: false)
        }
    }

    private init(ipv4 bytes: [UInt8]) {
        self.init(key: bytes.map(String.init).joined(separator: "."), isLoopback: bytes.first == 127)
    }
}
