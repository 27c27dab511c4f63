/// An HTTP request as SigV4 sees it. Path and query are kept unencoded, so the URL that is sent and the canonical
/// request that is signed come from one encoding and cannot disagree.
public struct SigV4Request: Sendable {
    public var method: String
    /// `http` or `https`.
    public var scheme: String
    /// The Host header: the host name, with `:port` when the port is not the scheme's default.
    public var host: String
    /// Unencoded, starting with `/` (an S3 key may hold any character; it is encoded once, segment by segment).
    public var path: String
    /// Unencoded names and values, in the order they go on the wire.
    public var query: [(name: String, value: String)]
    /// Every header to send besides `Host` and `Content-Length`; all of them are signed.
    public var headers: [(name: String, value: String)]

    public init(
        method: String, scheme: String = "https", host: String, path: String,
        query: [(name: String, value: String)] = [], headers: [(name: String, value: String)] = []
    ) {
        self.method = method
        self.scheme = scheme
        self.host = host
        self.path = path
        self.query = query
        self.headers = headers
    }

    /// The path as it goes on the wire and into the canonical request.
    public var encodedPath: String { URIEncoding.encodePath(path) }

    /// The absolute URL, query items in their order.
    public var url: String {
        let query = query.map { URIEncoding.encode($0.name) + "=" + URIEncoding.encode($0.value) }
        return scheme + "://" + host + encodedPath + (query.isEmpty ? "" : "?" + query.joined(separator: "&"))
    }

    /// The value of the first header named `name`, compared case-insensitively.
    public func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }
}
