import AsyncHTTPClient
import Crypto
import Foundation
import NIOCore
import NIOHTTP1
import PackArchive
import PolicyHubCore

/// A pack a stack must run, unpacked on disk, with its configuration written beside it.
public struct FetchedPack: Sendable, Equatable {
    public var name: String
    public var version: Int?
    public var versionTag: String?
    /// The archive's SHA-256, lowercase hex: the cache key.
    public var digest: String
    /// `<dest>/packs/<digest>/package`, the directory holding `PulumiPolicy.yaml`: pulumi's `--policy-pack`.
    public var directory: URL
    /// The pack's configuration as a JSON object: pulumi's `--policy-pack-config`.
    public var configFile: URL
    /// True when the archive was already unpacked and nothing was downloaded.
    public var wasCached: Bool
}

/// Gets the packs a stack must run from a PolicyHub server, for teams whose stack state is elsewhere.
///
/// Asks `GET /api/stacks/{org}/{project}/{stack}/policypacks`, then for each pack learns the archive's digest from
/// the ETag of a HEAD on its signed link and downloads it only when `<dest>/packs/<digest>` is missing. A download is
/// hashed and unpacked as it streams into a temporary directory, and is renamed into place only once its SHA-256
/// matches the ETag, so the cache never holds a partial or unverified pack.
public struct PackFetcher: Sendable {
    public let server: URL
    public let stack: StackPath
    public let destination: URL
    private let token: String
    private let httpClient: HTTPClient
    private let limits: ArchiveLimits
    private let maxArchiveBytes: Int64
    private let progress: @Sendable (String) -> Void

    static let userAgent = "policyhub-fetch/1"
    static let maxJSONBytes = 16 << 20
    static let maxErrorBodyBytes = 64 << 10
    static let apiTimeout: TimeAmount = .seconds(60)
    /// A whole download; stalls are caught sooner by the client's read timeout.
    static let downloadTimeout: TimeAmount = .hours(1)

    /// - Parameters:
    ///   - server: The server's base URL, e.g. `http://127.0.0.1:8080`.
    ///   - token: An access token of a member of the stack's organization.
    ///   - destination: The cache directory; created when needed.
    ///   - limits: Limits for unpacking an archive.
    ///   - maxArchiveBytes: The largest compressed archive accepted.
    ///   - progress: Receives one human line per pack (for stderr).
    public init(
        server: URL, token: String, stack: StackPath, destination: URL, httpClient: HTTPClient,
        limits: ArchiveLimits = .init(), maxArchiveBytes: Int64 = 1 << 30,
        progress: @escaping @Sendable (String) -> Void = { _ in }
    ) {
        self.server = server
        self.token = token
        self.stack = stack
        self.destination = destination
        self.httpClient = httpClient
        self.limits = limits
        self.maxArchiveBytes = maxArchiveBytes
        self.progress = progress
    }

    /// Fetches every pack the stack requires, in the server's order. Throws ``FetchError`` (or the archive's
    /// own errors' descriptions wrapped in one) on the first failure.
    public func fetch() async throws -> [FetchedPack] {
        let policies = try await requiredPolicies()
        guard !policies.isEmpty else { return [] }
        let cache = try PackCache(root: destination)
        var packs: [FetchedPack] = []
        for policy in policies {
            packs.append(try await fetch(policy, into: cache))
        }
        return packs
    }

    // MARK: - The stack's list

    var stackPoliciesURL: String {
        let allowed = CharacterSet.urlPathAllowed.subtracting(CharacterSet(charactersIn: "/"))
        let parts = [stack.organization, stack.project, stack.stack].map {
            $0.addingPercentEncoding(withAllowedCharacters: allowed) ?? $0
        }
        var base = server.absoluteString
        while base.hasSuffix("/") { base.removeLast() }
        return base + "/api/stacks/" + parts.joined(separator: "/") + "/policypacks"
    }

    func requiredPolicies() async throws -> [RequiredPolicy] {
        var request = HTTPClientRequest(url: stackPoliciesURL)
        request.headers.add(name: "Authorization", value: "token \(token)")
        request.headers.add(name: "Accept", value: "application/json")
        request.headers.add(name: "User-Agent", value: Self.userAgent)
        let (status, body) = try await transport(server) {
            let response = try await httpClient.execute(request, timeout: Self.apiTimeout)
            return (response.status.code, try await response.body.collect(upTo: Self.maxJSONBytes))
        }
        let what = "cannot get the policy packs of stack \(stack)"
        guard status == 200 else { throw FetchError.refused(what, status: status, body: body) }
        do {
            let answer = try JSONDecoder().decode(StackPolicyPacks.self, from: Data(body.readableBytesView))
            return answer.requiredPolicies ?? []
        } catch {
            throw FetchError("\(what): the server's answer is not the expected JSON")
        }
    }

    // MARK: - One pack

    private func fetch(_ policy: RequiredPolicy, into cache: PackCache) async throws -> FetchedPack {
        guard policy.hasSafeName else {
            throw FetchError("the server sent an invalid pack name '\(policy.name)'")
        }
        let config = policy.config ?? .object([:])
        guard case .object = config else {
            throw FetchError("the config of pack \(policy.name) is not a JSON object")
        }
        guard let location = policy.packLocation, let url = URL(string: location),
            let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https", url.host != nil
        else {
            throw FetchError("pack \(policy.name) has no http(s) download link")
        }

        let digest: String
        let wasCached: Bool
        let listed = Self.digest(fromETag: policy.sha256)
        var known = listed
        if known == nil { known = try await announcedDigest(url) }
        if let known, cache.contains(digest: known) {
            (digest, wasCached) = (known, true)
        } else {
            (digest, wasCached) = try await download(policy, from: url, expecting: listed, into: cache)
        }
        let configFile = try cache.writeConfig(config, for: stack, pack: policy.name)
        let directory = cache.packDirectory(digest: digest).appendingPathComponent("package", isDirectory: true)
        progress(
            wasCached
                ? "pack \(policy.label): already cached (sha256 \(digest))"
                : "pack \(policy.label): downloaded and verified (sha256 \(digest))")
        return FetchedPack(
            name: policy.name, version: policy.version, versionTag: policy.versionTag, digest: digest,
            directory: directory, configFile: configFile, wasCached: wasCached)
    }

    /// The digest a HEAD on the link announces. Nil when the HEAD gives no usable ETag: the GET that follows then
    /// reports the server's error message (a HEAD answer has no body) or carries the digest itself.
    private func announcedDigest(_ url: URL) async throws -> String? {
        var request = HTTPClientRequest(url: url.absoluteString)
        request.method = .HEAD
        request.headers.add(name: "User-Agent", value: Self.userAgent)
        return try await transport(url) {
            let response = try await httpClient.execute(request, timeout: Self.apiTimeout)
            for try await _ in response.body {}
            guard response.status == .ok else { return nil }
            return Self.digest(fromETag: response.headers.first(name: "ETag"))
        }
    }

    /// Downloads, verifies and installs one archive; returns its digest and whether it turned out to be cached.
    /// The digest to check is the listed one when the server gave it, else the download's ETag.
    private func download(
        _ policy: RequiredPolicy, from url: URL, expecting listed: String?, into cache: PackCache
    ) async throws -> (digest: String, wasCached: Bool) {
        var request = HTTPClientRequest(url: url.absoluteString)
        request.headers.add(name: "User-Agent", value: Self.userAgent)
        let response = try await transport(url) {
            try await httpClient.execute(request, timeout: Self.downloadTimeout)
        }
        guard response.status == .ok else {
            let body = try? await response.body.collect(upTo: Self.maxErrorBodyBytes)
            throw FetchError.refused("cannot download pack \(policy.name)", status: response.status.code, body: body)
        }
        guard let expected = listed ?? Self.digest(fromETag: response.headers.first(name: "ETag")) else {
            throw FetchError("the server gave no SHA-256 ETag for pack \(policy.name)")
        }
        if cache.contains(digest: expected) { return (expected, true) }

        let staging = try cache.makeStagingDirectory()
        do {
            let (actual, problem) = try await receive(response.body, from: url, into: staging, pack: policy.name)
            // A damaged download usually also fails to unpack: the digest names the real cause, so it comes first.
            guard actual == expected else {
                throw FetchError("digest mismatch for pack \(policy.name): expected \(expected), got \(actual)")
            }
            if let problem = problem as? ArchiveProblem {
                throw FetchError("invalid archive for pack \(policy.name): \(problem)")
            }
            if let problem { throw FetchError("cannot unpack pack \(policy.name): \(problem)") }
            try cache.install(staging, digest: expected)
        } catch {
            try? FileManager.default.removeItem(at: staging)
            throw error
        }
        return (expected, false)
    }

    /// Streams the body through SHA-256 and the extractor at once. An extraction failure stops the extraction but
    /// not the hashing, so the caller can tell a damaged download from a bad archive.
    private func receive(
        _ body: HTTPClientResponse.Body, from url: URL, into staging: URL, pack name: String
    ) async throws -> (digest: String, problem: (any Error)?) {
        var hasher = SHA256()
        var extractor = try PackArchiveExtractor(destination: staging, limits: limits)
        var problem: (any Error)?
        var received: Int64 = 0
        try await transport(url) {
            for try await chunk in body {
                received += Int64(chunk.readableBytes)
                guard received <= maxArchiveBytes else {
                    throw FetchError("pack \(name) is larger than \(maxArchiveBytes) bytes")
                }
                chunk.withUnsafeReadableBytes { bytes in
                    hasher.update(bufferPointer: bytes)
                    guard problem == nil else { return }
                    do { try extractor.consume(bytes) } catch { problem = error }
                }
            }
        }
        if problem == nil {
            do { _ = try extractor.finish() } catch { problem = error }
        }
        return (hasher.finalize().hexString, problem)
    }

    // MARK: - Helpers

    /// The lowercase hex SHA-256 in an ETag, quoted (`"<64 hex digits>"`) or bare. Weak tags (`W/"..."`) are
    /// refused: only a strong tag promises these exact bytes.
    static func digest(fromETag value: String?) -> String? {
        guard var tag = value.map({ Substring($0.trimmingCharacters(in: .whitespaces)) }) else { return nil }
        if tag.count >= 2, tag.first == "\"", tag.last == "\"" { tag = tag.dropFirst().dropLast() }
        guard tag.utf8.count == 64, tag.allSatisfy(\.isHexDigit) else { return nil }
        return tag.lowercased()
    }

    /// Runs `body`, turning transport failures into one-line ``FetchError``s that name the host.
    private func transport<T>(_ url: URL, _ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as FetchError {
            throw error
        } catch is NIOTooManyBytesError {
            throw FetchError("the answer from \(url.host ?? url.absoluteString) is too large")
        } catch {
            throw FetchError.unreachable(url, error)
        }
    }
}

extension PackFetcher {
    /// Fetches with an HTTP client made for one command-line run and shut down before returning.
    ///
    /// Unlike the shared client it fails at once when nothing listens (instead of retrying until the connect
    /// timeout) and never follows redirects, so the token is sent to `server` only.
    public static func fetch(
        server: URL, token: String, stack: StackPath, destination: URL,
        progress: @escaping @Sendable (String) -> Void = { _ in }
    ) async throws -> [FetchedPack] {
        var configuration = HTTPClient.Configuration(
            redirectConfiguration: .disallow, timeout: .init(connect: .seconds(10), read: .seconds(60)))
        configuration.connectionPool.retryConnectionEstablishment = false
        return try await HTTPClient.withHTTPClient(configuration: configuration) { client in
            try await PackFetcher(
                server: server, token: token, stack: stack, destination: destination, httpClient: client,
                progress: progress
            ).fetch()
        }
    }
}
