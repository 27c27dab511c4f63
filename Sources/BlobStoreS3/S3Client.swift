import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import PolicyHubCore

/// An object's size and entity tag, from a HEAD.
public struct S3ObjectInfo: Sendable, Equatable {
    public var size: Int64
    public var etag: String?

    public init(size: Int64, etag: String?) {
        self.size = size
        self.etag = etag
    }
}

/// The handful of S3 operations the blob store needs, signed with SigV4 and sent with AsyncHTTPClient. Bodies
/// stream both ways; S3 needs an upload's length up front, so callers with a body of unknown length spool it
/// first (see `S3BlobStore.write`). Keys are full object keys, unencoded.
public struct S3Client: Sendable {
    public let location: S3Location
    public let signer: SigV4Signer
    private let httpClient: HTTPClient
    let logger: Logger

    static let requestTimeout: TimeAmount = .seconds(60)
    /// HEAD and DELETE carry no body: a refused or hanging endpoint fails them (503 to clients) within this long
    /// instead of the connect retries' or read timeout's tens of seconds.
    static let metadataTimeout: TimeAmount = .seconds(2)
    /// A whole upload or download; stalls are caught sooner by the HTTP client's read timeout.
    static let transferTimeout: TimeAmount = .hours(1)
    static let maxErrorBodyBytes = 64 << 10
    static let maxListBodyBytes = 16 << 20

    public init(
        location: S3Location, credentials: AWSCredentials, httpClient: HTTPClient = S3Client.sharedHTTPClient,
        clock: WallClock = .system, logger: Logger = Logger(label: "policyhub.s3")
    ) {
        self.location = location
        self.signer = SigV4Signer(credentials: credentials, region: location.region, clock: clock)
        self.httpClient = httpClient
        self.logger = logger
    }

    /// The HTTP client S3 clients use unless given one; it lives as long as the process.
    public static let sharedHTTPClient = makeHTTPClient()

    /// An HTTP client fit for S3: bodies arrive exactly as stored (no transparent decompression, which would change
    /// an archive whose object carries `Content-Encoding: gzip`), redirects are not followed (they would carry a
    /// signature made for another URL), and a failed connection is retried for `connectTimeout` at most.
    /// The caller shuts it down.
    public static func makeHTTPClient(connectTimeout: TimeAmount = .seconds(10)) -> HTTPClient {
        HTTPClient(
            eventLoopGroup: HTTPClient.defaultEventLoopGroup,
            configuration: HTTPClient.Configuration(
                redirectConfiguration: .disallow, timeout: .init(connect: connectTimeout, read: .seconds(60)),
                decompression: .disabled))
    }

    // MARK: Objects

    /// Uploads `body` as `key` and returns the new ETag. The body streams with `payloadSHA256` signed, or unsigned
    /// when nil. S3 stores nothing unless exactly `length` bytes arrive (and, when given, their SHA-256 matches).
    @discardableResult
    public func putObject<Body: AsyncSequence & Sendable>(
        key: String, body: Body, length: Int64, payloadSHA256: String? = nil, contentType: String? = nil
    ) async throws -> String? where Body.Element == ByteBuffer {
        let operation = "PUT \(key)"
        let headers = contentType.map { [(name: "Content-Type", value: $0)] } ?? []
        let response = try await send(
            location.request(method: "PUT", objectKey: key, headers: headers),
            body: .stream(body, length: .known(length)), payloadSHA256: payloadSHA256 ?? SigV4Signer.unsignedPayload,
            operation: operation, timeout: Self.transferTimeout)
        try await Self.expectSuccess(response, operation: operation)
        return response.headers.first(name: "ETag")
    }

    /// Streams the object, or the bytes of `range` that exist, to `consume`. A range that starts past the end
    /// yields nothing, as reading past the end of a file does. Throws ``S3Error`` (`NoSuchKey` when absent).
    public func getObject(
        key: String, range: ClosedRange<Int64>? = nil, consume: (ByteBuffer) async throws -> Void
    ) async throws {
        let operation = "GET \(key)"
        let headers = range.map { [(name: "Range", value: "bytes=\($0.lowerBound)-\($0.upperBound)")] } ?? []
        let response = try await send(
            location.request(method: "GET", objectKey: key, headers: headers),
            payloadSHA256: SigV4Signer.emptyPayloadSHA256, operation: operation, timeout: Self.transferTimeout)
        if range != nil && response.status == .rangeNotSatisfiable {
            _ = try await Self.collect(response.body, upTo: 0)
            return
        }
        try await Self.expectSuccess(response, operation: operation, drain: false)
        // A server may answer a range with the whole object (S3 does for an empty one): cut the range out here.
        guard let range, response.status == .ok else {
            for try await buffer in response.body { try await consume(buffer) }
            return
        }
        var offset: Int64 = 0
        for try await buffer in response.body {
            if let part = Self.slice(buffer, at: offset, to: range) { try await consume(part) }
            offset += Int64(buffer.readableBytes)
        }
    }

    /// The part of `buffer`, which holds the object's bytes from `offset` on, that falls in `range`.
    static func slice(_ buffer: ByteBuffer, at offset: Int64, to range: ClosedRange<Int64>) -> ByteBuffer? {
        let start = Swift.max(range.lowerBound - offset, 0)
        let end = Swift.min(range.upperBound + 1 - offset, Int64(buffer.readableBytes))
        guard start < end else { return nil }
        return buffer.getSlice(at: buffer.readerIndex + Int(start), length: Int(end - start))
    }

    /// The object's size and ETag, or nil when there is no such object.
    public func headObject(key: String) async throws -> S3ObjectInfo? {
        let operation = "HEAD \(key)"
        let response = try await send(
            location.request(method: "HEAD", objectKey: key), payloadSHA256: SigV4Signer.emptyPayloadSHA256,
            operation: operation, timeout: Self.metadataTimeout)
        if response.status == .notFound { return nil }
        try await Self.expectSuccess(response, operation: operation)
        guard let size = response.headers.first(name: "Content-Length").flatMap({ Int64($0) }) else {
            throw S3Error.invalidResponse(operation: operation, reason: "no Content-Length")
        }
        return S3ObjectInfo(size: size, etag: response.headers.first(name: "ETag"))
    }

    /// Deletes the object; deleting one that does not exist is not an error.
    public func deleteObject(key: String) async throws {
        let operation = "DELETE \(key)"
        let response = try await send(
            location.request(method: "DELETE", objectKey: key), payloadSHA256: SigV4Signer.emptyPayloadSHA256,
            operation: operation, timeout: Self.metadataTimeout)
        if response.status == .notFound {
            _ = try await Self.collect(response.body, upTo: 0)
            return
        }
        try await Self.expectSuccess(response, operation: operation)
    }

    /// Copies `source` to `destination` in the bucket, server-side. With `ifMatch`, only when the source's ETag
    /// still is that one (else `PreconditionFailed`, HTTP 412).
    /// Copies an object inside the bucket. With `contentType`, the copy's metadata is replaced by just that type,
    /// dropping whatever `Content-Encoding` or type the uploader stored.
    public func copyObject(
        from source: String, to destination: String, ifMatch etag: String? = nil, contentType: String? = nil
    ) async throws {
        let operation = "COPY \(source) to \(destination)"
        var headers = [(name: "x-amz-copy-source", value: "/\(location.bucket)/\(URIEncoding.encodePath(source))")]
        if let contentType {
            headers.append(("x-amz-metadata-directive", "REPLACE"))
            headers.append(("content-type", contentType))
        }
        if let etag {
            headers.append(("x-amz-copy-source-if-match", etag))
            // radosgw (Ceph 16 and earlier) reads the condition under this older name only.
            headers.append(("x-amz-copy-if-match", etag))
        }
        let response = try await send(
            location.request(method: "PUT", objectKey: destination, headers: headers),
            payloadSHA256: SigV4Signer.emptyPayloadSHA256, operation: operation, timeout: Self.transferTimeout)
        try await Self.expectSuccess(response, operation: operation, drain: false)
        // A copy can fail after S3 has sent 200: the body then holds an <Error> document instead of the result.
        let body = try await Self.collect(response.body, upTo: Self.maxErrorBodyBytes)
        if let error = S3XML(body)?.serviceError(status: Int(response.status.code), operation: operation) {
            throw S3Error.service(error)
        }
    }

    /// Every key that starts with `prefix`, in S3's (UTF-8 binary) order, from as many ListObjectsV2 pages as it
    /// takes. `pageSize` caps the keys per page (S3's default and maximum is 1000).
    public func listObjects(prefix: String, pageSize: Int? = nil) async throws -> [String] {
        try await listObjectDetails(prefix: prefix, pageSize: pageSize).map(\.key)
    }

    /// Every object that starts with `prefix` with its size and modification time.
    public func listObjectDetails(prefix: String, pageSize: Int? = nil) async throws -> [S3ObjectListing] {
        let operation = "LIST \(prefix)"
        var keys: [S3ObjectListing] = []
        var continuation: String?
        repeat {
            var query = [(name: "list-type", value: "2"), (name: "prefix", value: prefix)]
            if let pageSize { query.append(("max-keys", String(pageSize))) }
            if let continuation { query.append(("continuation-token", continuation)) }
            let response = try await send(
                location.request(method: "GET", query: query), payloadSHA256: SigV4Signer.emptyPayloadSHA256,
                operation: operation, timeout: Self.requestTimeout)
            try await Self.expectSuccess(response, operation: operation, drain: false)
            let body = try await Self.collect(response.body, upTo: Self.maxListBodyBytes)
            guard let page = S3XML(body), page.rootName == "ListBucketResult" else {
                throw S3Error.invalidResponse(operation: operation, reason: "not a ListBucketResult document")
            }
            let names = page.all("ListBucketResult/Contents/Key")
            let sizes = page.all("ListBucketResult/Contents/Size")
            let dates = page.all("ListBucketResult/Contents/LastModified")
            guard sizes.count == names.count, dates.count == names.count else {
                throw S3Error.invalidResponse(operation: operation, reason: "objects without size or date")
            }
            for index in names.indices {
                keys.append(
                    S3ObjectListing(
                        key: names[index], size: Int64(sizes[index]) ?? 0,
                        lastModified: S3ObjectListing.date(dates[index]) ?? Date()))
            }
            continuation = nil
            if page.first("ListBucketResult/IsTruncated") == "true" {
                guard let token = page.first("ListBucketResult/NextContinuationToken"), !token.isEmpty else {
                    throw S3Error.invalidResponse(operation: operation, reason: "truncated page without a token")
                }
                continuation = token
            }
        } while continuation != nil
        return keys
    }

    /// An object of a listing.
    public struct S3ObjectListing: Sendable, Equatable {
        public var key: String
        public var size: Int64
        public var lastModified: Date

        /// S3's ISO 8601 times, with or without fractional seconds.
        static func date(_ text: String) -> Date? {
            (try? withFractionalSeconds.parse(text)) ?? (try? Date.ISO8601FormatStyle().parse(text))
        }

        private static let withFractionalSeconds = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
    }

    /// A URL that lets its holder `method` the object for `expiresIn` seconds, without credentials. Whoever uses
    /// it must send exactly `headers` (they are signed).
    public func presignedURL(
        method: String, key: String, expiresIn: TimeInterval, headers: [(name: String, value: String)] = []
    ) -> String {
        signer.presign(location.request(method: method, objectKey: key, headers: headers), expiresIn: expiresIn).url
    }

    // MARK: Transport

    private func send(
        _ request: SigV4Request, body: HTTPClientRequest.Body? = nil, payloadSHA256: String, operation: String,
        timeout: TimeAmount
    ) async throws -> HTTPClientResponse {
        let signed = signer.sign(request, payloadSHA256: payloadSHA256)
        var http = HTTPClientRequest(url: signed.url)
        http.method = HTTPMethod(rawValue: signed.method)
        http.headers.add(name: "Host", value: signed.host)
        for header in signed.headers { http.headers.add(name: header.name, value: header.value) }
        if let body { http.body = body }
        do {
            let response = try await httpClient.execute(http, timeout: timeout, logger: logger)
            logger.debug("S3 \(operation): \(response.status.code)")
            return response
        } catch let error where Self.isTransportError(error) {
            throw S3Error.unreachable(
                endpoint: location.endpoint.description, operation: operation, reason: String(describing: error))
        }
    }

    /// Errors of the connection, as opposed to errors of the body being sent (which are the caller's).
    private static func isTransportError(_ error: any Error) -> Bool {
        if let error = error as? HTTPClientError { return error != .bodyLengthMismatch }
        return error is NIOConnectionError || error is ChannelError || error is IOError
    }

    /// Throws the response's S3 error unless its status is 2xx. A successful body is drained unless the caller
    /// reads it.
    private static func expectSuccess(
        _ response: HTTPClientResponse, operation: String, drain: Bool = true
    ) async throws {
        guard (200..<300).contains(response.status.code) else {
            let status = Int(response.status.code)
            let body = try await collect(response.body, upTo: maxErrorBodyBytes)
            throw S3Error.service(
                S3XML(body)?.serviceError(status: status, operation: operation)
                    ?? S3ServiceError(
                        status: status, code: response.status.reasonPhrase, message: "", operation: operation)
            )
        }
        if drain { _ = try await collect(response.body, upTo: 0) }
    }

    /// The body's first `limit` bytes; the rest is read and dropped so the connection can be reused.
    private static func collect(_ body: HTTPClientResponse.Body, upTo limit: Int) async throws -> Data {
        var data = Data()
        for try await chunk in body where data.count < limit {
            data.append(contentsOf: chunk.readableBytesView.prefix(limit - data.count))
        }
        return data
    }
}
