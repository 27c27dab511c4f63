import AsyncHTTPClient
import Foundation
import NIOCore
import NIOPosix

/// Why a fetch failed. `description` is one line, meant to be printed after "error: ".
public struct FetchError: Error, Sendable, Equatable, CustomStringConvertible {
    public var description: String

    public init(_ message: String) {
        // Server messages end up in here: keep the promise of a single line.
        description = String(
            message.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? " " : Character($0) })
    }

    /// The server answered a request with an error status; its JSON `message` is used when there is one.
    static func refused(_ what: String, status: UInt, body: ByteBuffer?) -> FetchError {
        let message = body.flatMap(serverMessage) ?? "the server answered HTTP \(status)"
        return FetchError("\(what): \(message) (HTTP \(status))")
    }

    /// The `message` of the server's JSON error body, `{"code": 404, "message": "..."}`.
    static func serverMessage(_ body: ByteBuffer) -> String? {
        struct ErrorBody: Decodable { var message: String? }
        let data = Data(body.readableBytesView)
        guard let message = (try? JSONDecoder().decode(ErrorBody.self, from: data))?.message, !message.isEmpty
        else { return nil }
        return message
    }

    /// A transport failure (nothing listening, DNS, timeouts, a dropped connection) while talking to `url`.
    static func unreachable(_ url: URL, _ error: any Error) -> FetchError {
        var origin = "\(url.scheme ?? "http")://\(url.host ?? "")"
        if let port = url.port { origin += ":\(port)" }
        return FetchError("cannot reach \(origin): \(transportReason(error))")
    }

    /// A short lowercase phrase for a transport error, e.g. "connection refused".
    static func transportReason(_ error: any Error) -> String {
        switch error {
        case let error as IOError:
            return lowercasedFirst(String(cString: strerror(error.errnoCode)))
        case let error as NIOConnectionError:
            // Hostname connects try each address; the first failure says enough.
            if let first = error.connectionErrors.first { return transportReason(first.error) }
            if error.dnsAError != nil || error.dnsAAAAError != nil { return "cannot resolve \(error.host)" }
            return "cannot connect"
        case let error as HTTPClientError where error == .connectTimeout:
            return "connection timed out"
        case let error as HTTPClientError where error == .readTimeout || error == .deadlineExceeded:
            return "the server stopped answering (timed out)"
        case let error as HTTPClientError where error == .remoteConnectionClosed:
            return "the server closed the connection"
        default:
            return String(describing: error)
        }
    }

    private static func lowercasedFirst(_ text: String) -> String {
        guard let first = text.first else { return text }
        return first.lowercased() + text.dropFirst()
    }
}
