import Dispatch
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Blocking work (a child process waited for, a raw socket) on a thread of its own. Swift concurrency shares as
/// many threads as the machine has cores between all the tests running in parallel: on CI's two cores, two tests
/// waiting for a command on those threads would stall every other test, and their deadlines would pass unobserved.
enum OwnThread {
    static func run<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            Thread { continuation.resume(with: Result { try work() }) }.start()
        }
    }
}

/// The built `policyhub` executable, run as a separate process.
enum PolicyHubBinary {
    /// Next to the test bundle in the build directory.
    static var url: URL {
        let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        return executable.deletingLastPathComponent().appendingPathComponent("policyhub")
    }

    /// Runs a command to completion. A command still running after `timeout` is killed (SIGKILL, status 9), so a
    /// command that should have refused to start fails its test instead of hanging it.
    static func run(
        _ arguments: [String], environment: [String: String] = [:], timeout: Duration = .seconds(120)
    ) async throws -> (status: Int32, stdout: String, stderr: String) {
        try await OwnThread.run { try runWaiting(arguments, environment: environment, timeout: timeout) }
    }

    private static func runWaiting(
        _ arguments: [String], environment: [String: String], timeout: Duration
    ) throws -> (status: Int32, stdout: String, stderr: String) {
        let process = Process()
        process.executableURL = url
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let pid = process.processIdentifier
        let watchdog = DispatchWorkItem { Glibc.kill(pid, SIGKILL) }
        let seconds = Double(timeout.components.seconds) + Double(timeout.components.attoseconds) / 1e18
        DispatchQueue.global().asyncAfter(deadline: .now() + seconds, execute: watchdog)
        defer { watchdog.cancel() }
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (
            process.terminationStatus, String(decoding: stdout, as: UTF8.self), String(decoding: stderr, as: UTF8.self)
        )
    }

    /// Waits until `policyhub serve` running as `process` answers 200 on `path`. A server that exits, or is not
    /// ready by `timeout`, fails with what the last probe got and the end of `output()`.
    static func waitUntilReady(
        _ process: Process, host: String, port: Int, path: String, timeout: Duration,
        output: () -> String
    ) async throws {
        let deadline = ContinuousClock.now + timeout
        var lastProbe = "none"
        while ContinuousClock.now < deadline {
            guard process.isRunning else {
                throw TestFailure("policyhub \(process.arguments ?? []) exited: \(output().suffix(2000))")
            }
            do {
                let answer = try await TestClient.withClient(host: host, port: port) { client in
                    try await APIClient(client: client).send(.get, path, token: nil)
                }
                if answer.status == .ok { return }
                lastProbe = "\(answer.status): \(answer.text)"
            } catch {
                lastProbe = "\(error)"
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw TestFailure(
            "policyhub \(process.arguments ?? []) was not ready on \(host):\(port) (last probe: \(lastProbe)): "
                + output().suffix(2000))
    }

    /// Ports already handed out by this test process: never handed out twice.
    private static let handedOut = Mutex<Set<Int>>([])

    /// A port nothing listens on right now, below the kernel's ephemeral range (32768 and up on Linux), so that the
    /// source port of some test's outgoing connection cannot take it before the server binds it.
    static func freePort() throws -> Int {
        for _ in 0..<200 {
            let port = Int.random(in: 20_000..<32_000)
            guard handedOut.withLock({ $0.insert(port).inserted }) else { continue }
            if canBind(port) { return port }
        }
        throw TestFailure("no free port found")
    }

    private static func canBind(_ port: Int) -> Bool {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        let length = socklen_t(MemoryLayout<sockaddr_in>.size)
        return withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) == 0 }
        }
    }
}

/// `policyhub serve` in the background on a free port, with its output in files.
// Process is thread-safe for what is used here (isRunning, terminate, terminationStatus).
final class ServerProcess: @unchecked Sendable {
    let process: Process
    let port: Int
    let dataDir: URL
    let stdoutFile: URL

    /// Without `createDataDir` only the data directory's parent is made, and the server makes the rest.
    init(
        dataDir: URL, port: Int? = nil, extraArguments: [String] = [], environment: [String: String] = [:],
        createDataDir: Bool = true
    ) throws {
        self.dataDir = dataDir
        self.port = try port ?? PolicyHubBinary.freePort()
        try FileManager.default.createDirectory(
            at: createDataDir ? dataDir : dataDir.deletingLastPathComponent(), withIntermediateDirectories: true)
        let name = "../serve-\(self.port)-\(UUID().uuidString.prefix(6)).out"
        stdoutFile = dataDir.appendingPathComponent(name).standardized
        FileManager.default.createFile(atPath: stdoutFile.path, contents: nil)
        process = Process()
        process.executableURL = PolicyHubBinary.url
        process.arguments = ["serve", "--data-dir", dataDir.path, "--port", String(self.port)] + extraArguments
        process.standardOutput = try FileHandle(forWritingTo: stdoutFile)
        let stderrFile = stdoutFile.deletingPathExtension().appendingPathExtension("err")
        FileManager.default.createFile(atPath: stderrFile.path, contents: nil)
        process.standardError = try FileHandle(forWritingTo: stderrFile)
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        try process.run()
    }

    var output: String { (try? String(contentsOf: stdoutFile, encoding: .utf8)) ?? "" }
    /// The token the first start printed and saved in the data directory.
    func initialAdminToken() throws -> String {
        try String(contentsOf: dataDir.appendingPathComponent("initial-admin-token"), encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The server's log, for failure messages.
    var log: String {
        let file = stdoutFile.deletingPathExtension().appendingPathExtension("err")
        return (try? String(contentsOf: file, encoding: .utf8)) ?? ""
    }

    /// Waits until `path` (by default `/readyz`: the dependencies answer too) answers 200.
    func waitUntilReady(timeout: Duration = .seconds(30), path: String = "/readyz") async throws {
        try await PolicyHubBinary.waitUntilReady(
            process, host: "127.0.0.1", port: port, path: path, timeout: timeout, output: { self.output + self.log })
    }

    func withClient<T: Sendable>(_ body: @escaping @Sendable (APIClient) async throws -> T) async throws -> T {
        try await TestClient.withClient(host: "127.0.0.1", port: port) { client in
            try await body(APIClient(client: client))
        }
    }

    /// Kills the server outright, as a crash or an out-of-memory kill would.
    func kill() {
        Glibc.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// Sends SIGTERM and waits for the exit status.
    func terminate(timeout: Duration = .seconds(15)) async throws -> Int32 {
        process.terminate()
        let deadline = ContinuousClock.now + timeout
        while process.isRunning && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
        guard !process.isRunning else {
            Glibc.kill(process.processIdentifier, SIGKILL)
            throw TestFailure("policyhub serve ignored SIGTERM")
        }
        return process.terminationStatus
    }
}
