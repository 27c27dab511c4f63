import Crypto
import Foundation
import PolicyHubCore

/// AWS Signature Version 4 (`AWS4-HMAC-SHA256`): signs a request's headers or presigns its URL.
///
/// The canonical request follows S3's rules: the path is encoded once and never normalised, query names and
/// values are RFC 3986-encoded and sorted, header names are lower-cased and values trimmed with inner runs of
/// spaces collapsed. The clock is injected so that signatures can be tested against AWS's published examples.
public struct SigV4Signer: Sendable {
    public static let algorithm = "AWS4-HMAC-SHA256"
    /// The payload hash of presigned and streamed requests, whose body is not known when signing.
    public static let unsignedPayload = "UNSIGNED-PAYLOAD"
    /// SHA-256 of the empty body.
    public static let emptyPayloadSHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    /// The longest validity S3 accepts for a presigned URL: seven days.
    public static let maximumPresignedExpiry: TimeInterval = 7 * 24 * 3600

    public let credentials: AWSCredentials
    public let region: String
    public let service: String
    public let clock: WallClock
    /// S3 wants `x-amz-content-sha256` on every header-signed request; the generic SigV4 test suite (other
    /// services) does not send it.
    public let sendsContentSHA256Header: Bool

    public init(
        credentials: AWSCredentials, region: String, service: String = "s3", clock: WallClock = .system,
        sendsContentSHA256Header: Bool = true
    ) {
        self.credentials = credentials
        self.region = region
        self.service = service
        self.clock = clock
        self.sendsContentSHA256Header = sendsContentSHA256Header
    }

    /// Returns `request` with `x-amz-date`, `x-amz-content-sha256`, `x-amz-security-token` (with temporary
    /// credentials) and `Authorization` added. Pass ``unsignedPayload`` when the body is streamed unhashed.
    public func sign(_ request: SigV4Request, payloadSHA256: String) -> SigV4Request {
        let time = Timestamp(clock.now())
        var signed = request
        signed.headers.removeAll { Self.isSigningHeader($0.name) }
        signed.headers.append(("x-amz-date", time.dateTime))
        if sendsContentSHA256Header { signed.headers.append(("x-amz-content-sha256", payloadSHA256)) }
        if let token = credentials.sessionToken { signed.headers.append(("x-amz-security-token", token)) }
        let signature = self.signature(for: signed, payloadSHA256: payloadSHA256, at: time)
        signed.headers.append(
            (
                "Authorization",
                "\(Self.algorithm) Credential=\(credentials.accessKeyID)/\(scope(time)), "
                    + "SignedHeaders=\(signature.signedHeaders), Signature=\(signature.signature)"
            ))
        return signed
    }

    /// Returns `request` with the query parameters that authorise it for `expiresIn` seconds (clamped to 1 s ...
    /// 7 days) from now. Only `host` and the request's own headers are signed: whoever uses the URL must send
    /// exactly those headers. The payload is `UNSIGNED-PAYLOAD`.
    public func presign(_ request: SigV4Request, expiresIn: TimeInterval) -> SigV4Request {
        let time = Timestamp(clock.now())
        let expiry = Int(min(max(expiresIn.rounded(.up), 1), Self.maximumPresignedExpiry))
        var presigned = request
        presigned.query.removeAll { $0.name.lowercased().hasPrefix("x-amz-") }
        presigned.query += [
            ("X-Amz-Algorithm", Self.algorithm),
            ("X-Amz-Credential", "\(credentials.accessKeyID)/\(scope(time))"),
            ("X-Amz-Date", time.dateTime),
            ("X-Amz-Expires", String(expiry)),
            ("X-Amz-SignedHeaders", CanonicalHeaders(presigned).signedHeaders),
        ]
        if let token = credentials.sessionToken { presigned.query.append(("X-Amz-Security-Token", token)) }
        // On the wire the parameters go in canonical order with the signature last, as in AWS's examples.
        presigned.query = CanonicalQuery.sorted(presigned.query)
        let signature = self.signature(for: presigned, payloadSHA256: Self.unsignedPayload, at: time)
        presigned.query.append(("X-Amz-Signature", signature.signature))
        return presigned
    }

    // MARK: The algorithm

    /// The intermediate strings are kept so tests can say which step differs from a published example.
    struct Signature {
        var canonicalRequest: String
        var stringToSign: String
        var signedHeaders: String
        var signature: String
    }

    func signature(for request: SigV4Request, payloadSHA256: String, at time: Timestamp) -> Signature {
        let headers = CanonicalHeaders(request)
        let canonicalRequest = [
            request.method.uppercased(),
            request.encodedPath,
            CanonicalQuery.string(request.query),
            headers.block,
            headers.signedHeaders,
            payloadSHA256,
        ].joined(separator: "\n")
        let stringToSign = [
            Self.algorithm,
            time.dateTime,
            scope(time),
            SHA256.hash(data: Data(canonicalRequest.utf8)).hexString,
        ].joined(separator: "\n")
        var key = SymmetricKey(data: Data(("AWS4" + credentials.secretAccessKey).utf8))
        for part in [time.date, region, service, "aws4_request"] {
            key = SymmetricKey(data: HMAC<SHA256>.authenticationCode(for: Data(part.utf8), using: key))
        }
        let signature = HMAC<SHA256>.authenticationCode(for: Data(stringToSign.utf8), using: key).hexString
        return Signature(
            canonicalRequest: canonicalRequest, stringToSign: stringToSign, signedHeaders: headers.signedHeaders,
            signature: signature)
    }

    func scope(_ time: Timestamp) -> String { "\(time.date)/\(region)/\(service)/aws4_request" }

    static func isSigningHeader(_ name: String) -> Bool {
        ["authorization", "x-amz-date", "x-amz-content-sha256", "x-amz-security-token"].contains(name.lowercased())
    }
}

/// The signing time in SigV4's two forms, in UTC.
struct Timestamp {
    /// `yyyyMMdd`, the credential scope's date.
    var date: String
    /// `yyyyMMdd'T'HHmmss'Z'`, `x-amz-date`.
    var dateTime: String

    private static let utc: Calendar = {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(secondsFromGMT: 0) ?? calendar.timeZone
        return calendar
    }()

    init(_ instant: Date) {
        let parts = Self.utc.dateComponents([.year, .month, .day, .hour, .minute, .second], from: instant)
        func pad(_ value: Int?, _ width: Int) -> String {
            let text = String(value ?? 0)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        date = pad(parts.year, 4) + pad(parts.month, 2) + pad(parts.day, 2)
        dateTime = date + "T" + pad(parts.hour, 2) + pad(parts.minute, 2) + pad(parts.second, 2) + "Z"
    }
}

/// The headers block of a canonical request: `host` plus every request header, names lower-cased and sorted,
/// repeated names joined with commas in their order, values trimmed with runs of spaces collapsed.
struct CanonicalHeaders {
    var block: String
    var signedHeaders: String

    init(_ request: SigV4Request) {
        var values: [String: [String]] = ["host": [request.host]]
        for (name, value) in request.headers where name.lowercased() != "host" {
            values[name.lowercased(), default: []].append(Self.normalise(value))
        }
        let names = values.keys.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
        block = names.map { "\($0):\(values[$0, default: []].joined(separator: ","))\n" }.joined()
        signedHeaders = names.joined(separator: ";")
    }

    static func normalise(_ value: String) -> String {
        value.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }).joined(separator: " ")
    }
}

/// Query parameters as SigV4 signs them: each name and value encoded, sorted by name then value, bytewise.
enum CanonicalQuery {
    static func sorted(_ items: [(name: String, value: String)]) -> [(name: String, value: String)] {
        items.map { (item: $0, name: URIEncoding.encode($0.name), value: URIEncoding.encode($0.value)) }
            .sorted { left, right in
                left.name == right.name
                    ? Array(left.value.utf8).lexicographicallyPrecedes(Array(right.value.utf8))
                    : Array(left.name.utf8).lexicographicallyPrecedes(Array(right.name.utf8))
            }
            .map(\.item)
    }

    static func string(_ items: [(name: String, value: String)]) -> String {
        sorted(items).map { URIEncoding.encode($0.name) + "=" + URIEncoding.encode($0.value) }
            .joined(separator: "&")
    }
}
