import Foundation

/// A plain TCP connection to a loopback port, for sending HTTP a few bytes at a time as a slow or hostile client
/// would; HTTP client libraries always send a request whole.
final class RawConnection {
    private let descriptor: Int32

    /// Connects to `port` on 127.0.0.1, from `source` when given: all of 127.0.0.0/8 is loopback on Linux, so
    /// one test can act as several clients.
    init(port: Int, from source: String? = nil) throws {
        descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw TestFailure("socket failed") }
        do {
            if let source {
                guard try Self.withAddress(source, port: 0, { bind(descriptor, $0, $1) }) == 0 else {
                    throw TestFailure("bind to \(source) failed")
                }
            }
            guard try Self.withAddress("127.0.0.1", port: port, { connect(descriptor, $0, $1) }) == 0 else {
                throw TestFailure("connect to port \(port) failed")
            }
        } catch {
            close(descriptor)
            throw error
        }
        // Reads wait at most 100 ms, so a test can interleave sending and checking for an answer.
        var wait = timeval(tv_sec: 0, tv_usec: 100_000)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &wait, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(descriptor) }

    private static func withAddress(
        _ ip: String, port: Int, _ body: (UnsafePointer<sockaddr>, socklen_t) -> Int32
    ) throws -> Int32 {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        guard inet_pton(AF_INET, ip, &address.sin_addr) == 1 else { throw TestFailure("bad address \(ip)") }
        return withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                body($0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
    }

    /// Sends `text`; false once the server has closed the connection.
    @discardableResult
    func send(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        return bytes.withUnsafeBytes { Glibc.send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            == bytes.count
    }

    enum Received: Equatable {
        /// Nothing arrived within 100 ms.
        case nothingYet
        case bytes(String)
        /// The server closed the connection.
        case closed
    }

    func receive() -> Received {
        var buffer = [UInt8](repeating: 0, count: 65_536)
        let count = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
        if count > 0 { return .bytes(String(decoding: buffer[..<count], as: UTF8.self)) }
        if count == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) { return .closed }
        return .nothingYet
    }
}
