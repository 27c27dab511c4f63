import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// What the server said to a results report.
public enum ReportOutcome: Sendable, Equatable {
    /// 2xx: recorded now, or (`recorded: false`) already recorded by an earlier send of the same update.
    case accepted(ReportAnswer)
    /// A 4xx other than 429: this report can never succeed. `message` is the server's, when it gave one.
    case refused(status: UInt, message: String)
    /// Nothing listening, a timeout, a dropped connection, 429, 5xx or another unexpected status: try again later.
    case retryLater(reason: String)
}

/// The server's answer to an accepted report; every member is optional so an older or newer server's answer reads.
public struct ReportAnswer: Sendable, Equatable, Decodable {
    public var recorded: Bool?
    public var violations: Int?
    /// `name@version` of packs the report names that PolicyHub does not hold: recorded, but flagged.
    public var unknownPolicyPacks: [String]?

    public init(recorded: Bool? = nil, violations: Int? = nil, unknownPolicyPacks: [String]? = nil) {
        self.recorded = recorded
        self.violations = violations
        self.unknownPolicyPacks = unknownPolicyPacks
    }
}

/// PUTs results reports to a PolicyHub server. Never throws: every failure is an outcome, because a report must
/// never fail a deployment.
public struct ReportSender: Sendable {
    public let server: URL
    private let token: String
    private let httpClient: HTTPClient

    /// A whole request, answer included; a server slower than this is treated as down and the report spooled.
    static let requestTimeout: TimeAmount = .seconds(30)
    static let connectTimeout: TimeAmount = .seconds(10)
    static let maxAnswerBytes = 1 << 20

    public init(server: URL, token: String, httpClient: HTTPClient) {
        self.server = server
        self.token = token
        self.httpClient = httpClient
    }

    /// Runs `body` with a sender whose HTTP client lives for one command-line run: short timeouts, no connection
    /// retries (nothing listening fails at once) and no redirects (the token goes to `server` only).
    public static func with<T>(
        server: URL, token: String, _ body: (ReportSender) async throws -> T
    ) async throws -> T {
        var configuration = HTTPClient.Configuration(
            redirectConfiguration: .disallow, timeout: .init(connect: connectTimeout, read: requestTimeout))
        configuration.connectionPool.retryConnectionEstablishment = false
        return try await HTTPClient.withHTTPClient(configuration: configuration) { client in
            try await body(ReportSender(server: server, token: token, httpClient: client))
        }
    }

    /// `{server}/api/preview/insights/{org}/policy/stacks/{project}/{stack}/updates/{version}/results`, each name
    /// percent-encoded as one path segment.
    public static func resultsURL(server: URL, stack: StackPath, updateVersion: Int64) -> String {
        let allowed = CharacterSet.urlPathAllowed.subtracting(CharacterSet(charactersIn: "/;"))
        func segment(_ text: String) -> String { text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text }
        var base = server.absoluteString
        while base.hasSuffix("/") { base.removeLast() }
        return base + "/api/preview/insights/\(segment(stack.organization))/policy/stacks/"
            + "\(segment(stack.project))/\(segment(stack.stack))/updates/\(updateVersion)/results"
    }

    public func send(body: Data, stack: StackPath, updateVersion: Int64) async -> ReportOutcome {
        var request = HTTPClientRequest(
            url: Self.resultsURL(server: server, stack: stack, updateVersion: updateVersion))
        request.method = .PUT
        request.headers.add(name: "Authorization", value: "token \(token)")
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "Accept", value: "application/json")
        request.headers.add(name: "User-Agent", value: PackFetcher.userAgent)
        request.body = .bytes(ByteBuffer(bytes: body))
        let status: UInt
        let answer: ByteBuffer?
        do {
            let response = try await httpClient.execute(request, timeout: Self.requestTimeout)
            status = response.status.code
            answer = try? await response.body.collect(upTo: Self.maxAnswerBytes)
        } catch {
            return .retryLater(reason: FetchError.unreachable(server, error).description)
        }
        switch status {
        case 200..<300:
            let decoded = answer.flatMap {
                try? JSONDecoder().decode(ReportAnswer.self, from: Data($0.readableBytesView))
            }
            return .accepted(decoded ?? ReportAnswer())
        case 429, 500...:
            return .retryLater(reason: Self.describe(status: status, answer: answer))
        case 400..<500:
            return .refused(status: status, message: answer.flatMap(FetchError.serverMessage) ?? "")
        default:
            return .retryLater(reason: Self.describe(status: status, answer: answer))
        }
    }

    private static func describe(status: UInt, answer: ByteBuffer?) -> String {
        let message = answer.flatMap(FetchError.serverMessage).map { ": \(FetchError($0).description)" } ?? ""
        return "the server answered HTTP \(status)\(message)"
    }
}
