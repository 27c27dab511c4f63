import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A real HTTP/1.1 server on 127.0.0.1 that records each request and answers with the next scripted answer, one
/// request per connection: for the client's side of conversations the real server cannot be made to have (a 503,
/// a 429), and to see the exact requests sent.
final class LoopbackHTTPServer: Sendable {
    struct Request: Sendable {
        var method: String
        var path: String
        /// Lowercased names.
        var headers: [String: String]
        var body: Data
    }

    struct Answer: Sendable {
        var status: Int
        var body: String

        init(_ status: Int, _ body: String = "{}") {
            self.status = status
            self.body = body
        }
    }

    private struct State {
        var requests: [Request] = []
        var answers: [Answer]
        var stopped = false
    }

    let port: Int
    private let listener: Int32
    private let state: Mutex<State>
    private let finished = Mutex<Bool>(false)

    /// Answers in order; when they run out, the last one again (200 `{}` when there are none).
    init(answers: [Answer]) throws {
        state = Mutex(State(answers: answers))
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw POSIXError(.EIO) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        let length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) == 0 }
        }
        guard bound, listen(descriptor, 16) == 0 else {
            close(descriptor)
            throw POSIXError(.EADDRINUSE)
        }
        var actual = sockaddr_in()
        var actualLength = length
        _ = withUnsafeMutablePointer(to: &actual) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &actualLength) }
        }
        listener = descriptor
        port = Int(UInt16(bigEndian: actual.sin_port))
        Thread.detachNewThread { [self] in serve() }
    }

    var url: URL { URL(string: "http://127.0.0.1:\(port)")! }

    var requests: [Request] { state.withLock { $0.requests } }

    func stop() {
        state.withLock { $0.stopped = true }
        while !finished.withLock({ $0 }) { usleep(10_000) }
        close(listener)
    }

    private func serve() {
        defer { finished.withLock { $0 = true } }
        while !state.withLock({ $0.stopped }) {
            var poller = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, 50) > 0 else { continue }
            let connection = accept(listener, nil, nil)
            guard connection >= 0 else { continue }
            handle(connection)
            close(connection)
        }
    }

    private func handle(_ connection: Int32) {
        var received = Data()
        var buffer = [UInt8](repeating: 0, count: 65536)
        let separator = Data("\r\n\r\n".utf8)
        var headerEnd: Range<Data.Index>?
        while headerEnd == nil {
            let count = read(connection, &buffer, buffer.count)
            guard count > 0 else { return }
            received.append(contentsOf: buffer[0..<count])
            headerEnd = received.range(of: separator)
        }
        guard let headerEnd else { return }
        let head = String(decoding: received[..<headerEnd.lowerBound], as: UTF8.self)
        var lines = head.components(separatedBy: "\r\n")
        let requestLine = lines.removeFirst().split(separator: " ").map(String.init)
        var headers: [String: String] = [:]
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(
                in: .whitespaces)
        }
        let length = Int(headers["content-length"] ?? "0") ?? 0
        var body = Data(received[headerEnd.upperBound...])
        while body.count < length {
            let count = read(connection, &buffer, buffer.count)
            guard count > 0 else { return }
            body.append(contentsOf: buffer[0..<count])
        }
        let answer = state.withLock { state in
            state.requests.append(
                Request(
                    method: requestLine.first ?? "", path: requestLine.count > 1 ? requestLine[1] : "",
                    headers: headers, body: body))
            if state.answers.count > 1 { return state.answers.removeFirst() }
            return state.answers.first ?? Answer(200)
        }
        let payload = Data(answer.body.utf8)
        var response = Data(
            ("HTTP/1.1 \(answer.status) Scripted\r\nContent-Type: application/json\r\n"
                + "Content-Length: \(payload.count)\r\nConnection: close\r\n\r\n").utf8)
        response.append(payload)
        response.withUnsafeBytes { bytes in
            var offset = 0
            while offset < bytes.count {
                let written = write(connection, bytes.baseAddress! + offset, bytes.count - offset)
                guard written > 0 else { return }
                offset += written
            }
        }
    }
}
