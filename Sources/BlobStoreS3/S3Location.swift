import Foundation

/// Where archives live in S3: a bucket, an optional key prefix, and the server that holds them, parsed from
/// `s3://BUCKET[/PREFIX]?endpoint=URL&region=R&path-style=true`.
///
/// Without `endpoint` the bucket is on AWS (`https://s3.REGION.amazonaws.com`); `region` defaults to `us-east-1`.
/// Path-style addressing (`ENDPOINT/BUCKET/KEY`) is what most self-hosted servers want; the default is AWS's
/// virtual-hosted style (`BUCKET.ENDPOINT/KEY`).
public struct S3Location: Sendable, Equatable, CustomStringConvertible {
    public var bucket: String
    /// Keys are stored under `PREFIX/`; empty for the bucket's root.
    public var prefix: String
    public var endpoint: S3Endpoint
    public var region: String
    public var pathStyle: Bool

    public static let defaultRegion = "us-east-1"

    public init(
        bucket: String, prefix: String = "", endpoint: S3Endpoint? = nil, region: String? = nil,
        pathStyle: Bool = false
    ) throws {
        let region = region ?? Self.defaultRegion
        guard Self.isValidRegion(region) else {
            throw S3ConfigurationError("Invalid S3 region '\(region)': use letters, digits and '-', as in us-east-1.")
        }
        guard Self.isValidBucket(bucket, pathStyle: pathStyle) else {
            throw S3ConfigurationError(
                "Invalid S3 bucket name '\(bucket)': use 3 to 63 lower-case letters, digits, '.' and '-' "
                    + "(path-style also allows upper case and '_').")
        }
        let prefix = prefix.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        let segments = prefix.split(separator: "/", omittingEmptySubsequences: false)
        if !prefix.isEmpty && segments.contains(where: \.isEmpty) {
            throw S3ConfigurationError("Invalid S3 key prefix '\(prefix)': it has an empty path segment.")
        }
        self.bucket = bucket
        self.prefix = prefix
        self.region = region
        self.pathStyle = pathStyle
        self.endpoint = try endpoint ?? S3Endpoint("https://s3.\(region).amazonaws.com")
    }

    /// Parses `s3://BUCKET[/PREFIX]?endpoint=URL&region=R&path-style=true`.
    public init(url text: String) throws {
        guard let url = URLComponents(string: text), url.scheme?.lowercased() == "s3" else {
            throw S3ConfigurationError(
                "Invalid S3 URL '\(text)': expected s3://BUCKET[/PREFIX]?endpoint=URL&region=R&path-style=true.")
        }
        guard let bucket = url.host, !bucket.isEmpty else {
            throw S3ConfigurationError("Invalid S3 URL '\(text)': the bucket is missing (s3://BUCKET/...).")
        }
        guard url.user == nil, url.password == nil, url.port == nil, url.fragment == nil else {
            throw S3ConfigurationError(
                "Invalid S3 URL '\(text)': credentials, ports and fragments do not belong in it; give the server "
                    + "as ?endpoint=URL and the keys in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.")
        }
        var endpoint: S3Endpoint?
        var region: String?
        var pathStyle = false
        for item in url.queryItems ?? [] {
            let value = item.value ?? ""
            switch item.name {
            case "endpoint": endpoint = try S3Endpoint(value)
            case "region": region = value
            case "path-style":
                guard let flag = Bool(value.lowercased()) else {
                    throw S3ConfigurationError("Invalid S3 URL '\(text)': path-style must be true or false.")
                }
                pathStyle = flag
            default:
                throw S3ConfigurationError(
                    "Invalid S3 URL '\(text)': unknown parameter '\(item.name)' (known: endpoint, region, "
                        + "path-style).")
            }
        }
        try self.init(bucket: bucket, prefix: url.path, endpoint: endpoint, region: region, pathStyle: pathStyle)
    }

    public var description: String {
        "s3://\(bucket)\(prefix.isEmpty ? "" : "/" + prefix)?endpoint=\(endpoint)&region=\(region)"
            + "&path-style=\(pathStyle)"
    }

    /// The object key under which the store keeps `key`.
    func objectKey(_ key: String) -> String { prefix.isEmpty ? key : prefix + "/" + key }

    /// A request for the bucket (`key` nil) or one of its objects.
    func request(
        method: String, objectKey key: String? = nil, query: [(name: String, value: String)] = [],
        headers: [(name: String, value: String)] = []
    ) -> SigV4Request {
        let host = pathStyle ? endpoint.hostHeader : bucket + "." + endpoint.hostHeader
        let bucketPath = pathStyle ? "/" + bucket : ""
        let path = key.map { bucketPath + "/" + $0 } ?? (bucketPath.isEmpty ? "/" : bucketPath)
        return SigV4Request(
            method: method, scheme: endpoint.scheme, host: host, path: path, query: query, headers: headers)
    }

    static func isValidRegion(_ region: String) -> Bool {
        !region.isEmpty && region.count <= 64
            && region.unicodeScalars.allSatisfy { CharacterSet.alphanumerics.contains($0) || $0 == "-" }
            && region.allSatisfy(\.isASCII)
    }

    static func isValidBucket(_ bucket: String, pathStyle: Bool) -> Bool {
        guard bucket.allSatisfy(\.isASCII), (pathStyle ? 1...255 : 3...63).contains(bucket.count) else { return false }
        return bucket.allSatisfy { character in
            character.isLowercase || character.isNumber || character == "." || character == "-"
                || (pathStyle && (character.isUppercase || character == "_"))
        }
    }
}

/// The S3 server: scheme, host and port, without a path.
public struct S3Endpoint: Sendable, Equatable, CustomStringConvertible {
    public var scheme: String
    public var host: String
    public var port: Int?

    public init(_ text: String) throws {
        guard let url = URLComponents(string: text), let scheme = url.scheme?.lowercased(),
            scheme == "http" || scheme == "https", let host = url.host, !host.isEmpty
        else {
            throw S3ConfigurationError(
                "Invalid S3 endpoint '\(text)': expected http://HOST[:PORT] or https://HOST[:PORT].")
        }
        guard url.path.isEmpty || url.path == "/", url.query == nil, url.user == nil, url.fragment == nil else {
            throw S3ConfigurationError(
                "Invalid S3 endpoint '\(text)': give only scheme, host and port, without a path or query.")
        }
        self.scheme = scheme
        self.host = host
        self.port = url.port
    }

    /// The Host header: the port is named only when it is not the scheme's default.
    var hostHeader: String {
        let hostName = host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host
        guard let port, port != (scheme == "https" ? 443 : 80) else { return hostName }
        return "\(hostName):\(port)"
    }

    public var description: String { "\(scheme)://\(hostHeader)" }
}
