import BlobStoreS3
import Foundation
import Hummingbird
import HummingbirdTesting
import PolicyHubCore
import Testing

/// A store that answers but is failing (S3's `InternalError` and `SlowDown`, a proxy's 502) is an outage, as an
/// unreachable one is: callers get `unavailable`, which the API answers with 503. Neither radosgw nor AWS can be
/// made to fail on demand, so a loopback server plays the failing store.
@Suite struct FailingS3Tests {
    /// Runs `body` with a store whose endpoint answers every request with `status` and S3's error document.
    static func withStore(
        answering status: Int, code: String, _ body: @Sendable (S3BlobStore) async throws -> Void
    ) async throws {
        let router = Router()
        let answer: @Sendable (Request, BasicRequestContext) async throws -> Response = { _, _ in
            let xml = "<Error><Code>\(code)</Code><Message>Try again later.</Message></Error>"
            return Response(
                status: .init(code: status), headers: [.contentType: "application/xml"],
                body: .init(byteBuffer: ByteBuffer(string: xml)))
        }
        for method in [HTTPRequest.Method.get, .head, .put, .delete] { router.on("**", method: method, use: answer) }
        try await Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
            .test(.live) { client in
                let port = try #require(client.port)
                try await body(
                    try S3BlobStore(
                        url: "s3://bucket?endpoint=http://127.0.0.1:\(port)&region=us-east-1&path-style=true",
                        environment: ["AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "s"]))
            }
    }

    @Test(arguments: [
        (500, "InternalError"), (502, "BadGateway"), (503, "SlowDown"),
    ])
    func a5xxAnswerIsAnOutage(status: Int, code: String) async throws {
        try await Self.withStore(answering: status, code: code) { store in
            for operation in ["size", "seal", "delete"] {
                let error = await #expect(throws: RegistryError.self, "\(operation)") {
                    switch operation {
                    case "size": _ = try await store.size(key: "k")
                    case "seal": _ = try await store.seal(key: "k")
                    default: try await store.delete(key: "k")
                    }
                }
                #expect(error?.kind == .unavailable, "\(operation)")
                #expect(error?.message.contains("archive storage") == true)
            }
        }
    }

    /// HEAD and DELETE give up after about 2 s on an endpoint that accepts connections and answers too late, and on
    /// one that refuses them, so clients get their 503 promptly; bodies keep their longer timeouts.
    @Test func metadataCallsToAHangingOrRefusingEndpointFailWithinSeconds() async throws {
        let router = Router()
        let hang: @Sendable (Request, BasicRequestContext) async throws -> Response = { _, _ in
            try await Task.sleep(for: .seconds(6))
            return Response(status: .ok)
        }
        for method in [HTTPRequest.Method.head, .delete] { router.on("**", method: method, use: hang) }
        let credentials = ["AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "s"]
        try await Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
            .test(.live) { client in
                let port = try #require(client.port)
                let hanging = try S3BlobStore(
                    url: "s3://bucket?endpoint=http://127.0.0.1:\(port)&region=us-east-1&path-style=true",
                    environment: credentials)
                // Port 9 (discard) has no listener on the test machines: connections are refused.
                let refusing = try S3BlobStore(
                    url: "s3://bucket?endpoint=http://127.0.0.1:9&region=us-east-1&path-style=true",
                    environment: credentials)
                for (name, store) in [("hanging", hanging), ("refusing", refusing)] {
                    for operation in ["size", "delete"] {
                        let started = ContinuousClock.now
                        let error = await #expect(throws: RegistryError.self, "\(name) \(operation)") {
                            if operation == "size" {
                                _ = try await store.size(key: "k")
                            } else {
                                try await store.delete(key: "k")
                            }
                        }
                        let elapsed = ContinuousClock.now - started
                        #expect(error?.kind == .unavailable, "\(name) \(operation)")
                        // Before, a refused endpoint took the 10 s connect timeout and a hanging one the 60 s read
                        // timeout; the bound leaves room for a busy test machine.
                        #expect(elapsed < .seconds(8), "\(name) \(operation) took \(elapsed)")
                    }
                }
            }
    }

    @Test func a4xxAnswerIsNotAnOutage() async throws {
        try await Self.withStore(answering: 403, code: "AccessDenied") { store in
            let error = await #expect(throws: S3Error.self) { _ = try await store.size(key: "k") }
            #expect(error?.status == 403)
            #expect(error?.code == "AccessDenied" || error?.code == "Forbidden")
        }
    }
}
