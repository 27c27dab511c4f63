import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import PolicyHubCore
import PolicyHubTestSupport
import Testing

@testable import BlobStoreS3

/// The S3 client against a real server: radosgw from `eval "$(scripts/start-radosgw.sh)"`, or any S3 named by
/// `POLICYHUB_TEST_S3_URL` with credentials in `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY`.
@Suite(.enabled(if: TestStores.s3URL != nil, "POLICYHUB_TEST_S3_URL is not set"))
struct S3ClientLiveTests {
    let store: S3BlobStore
    let prefix = "client-tests/\(UUID().uuidString.lowercased())/"

    init() throws {
        store = try S3BlobStore(url: TestStores.s3URL ?? "")
    }

    var client: S3Client { store.client }

    func body(_ text: String) -> ChunkedBody { ChunkedBody(Array(text.utf8), chunkSize: 1_000) }

    @Test func aPresignedPutThenGetRoundTripsWithoutCredentials() async throws {
        let key = prefix + "presigned.tgz"
        let target = store.presignedPutURL(key: key, expiresIn: 300)
        #expect(target.requiredHeaders.isEmpty)
        #expect(!target.url.contains(try #require(ProcessInfo.processInfo.environment["AWS_SECRET_ACCESS_KEY"])))
        let bytes = Array("archive bytes \(UUID())".utf8)
        // A client sends whatever content headers it likes; none are signed.
        let put = try await PresignedRequest.send(
            "PUT", target.url, body: bytes, headers: ["Content-Type": "application/gzip", "Content-Encoding": "gzip"])
        #expect(put.status == 200)

        #expect(try await store.size(key: key) == Int64(bytes.count))
        let get = try await PresignedRequest.send("GET", store.presignedGetURL(key: key, expiresIn: 300))
        #expect(get.status == 200)
        #expect(get.body == bytes)
        try await store.delete(key: key)
    }

    @Test func aTamperedPresignedURLIsRefused() async throws {
        let key = prefix + "tampered"
        _ = try await store.write(key: key, body: body("secret"), maxBytes: 100)
        let url = store.presignedGetURL(key: key, expiresIn: 300)
        let otherKey = url.replacingOccurrences(of: "/tampered?", with: "/tampereD?")
        let lastCharacter = url.last == "0" ? "1" : "0"
        let otherSignature = String(url.dropLast()) + lastCharacter
        let longer = url.replacingOccurrences(of: "X-Amz-Expires=300", with: "X-Amz-Expires=600")
        for tampered in [otherKey, otherSignature, longer] {
            #expect(tampered != url)
            #expect(try await PresignedRequest.send("GET", tampered).status == 403, "\(tampered)")
        }
        let put = store.presignedPutURL(key: key, expiresIn: 300).url
        #expect(try await PresignedRequest.send("GET", put).status == 403, "a PUT URL must not allow a GET")
        try await store.delete(key: key)
    }

    @Test func anExpiredPresignedURLIsRefused() async throws {
        let key = prefix + "expired"
        _ = try await store.write(key: key, body: body("old"), maxBytes: 100)
        let past = S3Client(
            location: client.location, credentials: try AWSCredentials.fromEnvironment(),
            clock: WallClock { Date().addingTimeInterval(-600) })
        let get = past.presignedURL(method: "GET", key: client.location.objectKey(key), expiresIn: 1)
        #expect(try await PresignedRequest.send("GET", get).status == 403)
        let put = past.presignedURL(method: "PUT", key: client.location.objectKey(key), expiresIn: 1)
        #expect(try await PresignedRequest.send("PUT", put, body: [1, 2, 3]).status == 403)
        #expect(try await store.size(key: key) == 3)
        try await store.delete(key: key)
    }

    @Test func aWrongSecretIsAnS3ErrorWithCodeAndStatus() async throws {
        var credentials = try AWSCredentials.fromEnvironment()
        credentials.secretAccessKey += "-wrong"
        let wrong = S3Client(location: client.location, credentials: credentials)
        let error = await #expect(throws: S3Error.self) { _ = try await wrong.headObject(key: prefix + "x") }
        #expect(error?.status == 403)
        let listing = await #expect(throws: S3Error.self) { _ = try await wrong.listObjects(prefix: prefix) }
        #expect(listing?.code == "SignatureDoesNotMatch")
        #expect(listing?.description.contains("LIST \(prefix) failed with SignatureDoesNotMatch (HTTP 403)") == true)
        #expect(listing?.description.contains(credentials.secretAccessKey) == false)
    }

    @Test func aMissingObjectIsNoSuchKey() async throws {
        let error = await #expect(throws: S3Error.self) {
            try await client.getObject(key: prefix + "absent") { _ in }
        }
        #expect(error?.code == "NoSuchKey")
        #expect(error?.status == 404)
        #expect(try await client.headObject(key: prefix + "absent") == nil)
    }

    @Test func aMissingBucketIsNoSuchBucket() async throws {
        var location = client.location
        location.bucket = "policyhub-no-such-bucket"
        let missing = S3Client(location: location, credentials: try AWSCredentials.fromEnvironment())
        let error = await #expect(throws: S3Error.self) { _ = try await missing.listObjects(prefix: "") }
        #expect(error?.code == "NoSuchBucket")
    }

    @Test func keysWithAnyCharacterRoundTripAndList() async throws {
        let names = ["a b+c", "dollar$sign", "ünïcødé/ключ", "q?x=1&y#z", "tilde~and%25", "semi;colon,comma"]
        for name in names {
            let key = client.location.objectKey(prefix + name)
            try await client.putObject(key: key, body: body(name), length: Int64(name.utf8.count))
            var read: [UInt8] = []
            try await client.getObject(key: key) { read += Array($0.readableBytesView) }
            #expect(read == Array(name.utf8), "\(name)")
        }
        #expect(try await store.list(prefix: prefix).map(\.key).sorted() == names.map { prefix + $0 }.sorted())
        for name in names { try await store.delete(key: prefix + name) }
        #expect(try await store.list(prefix: prefix) == [])
    }

    @Test func listingFollowsContinuationTokens() async throws {
        let keys = (0..<5).map { client.location.objectKey(prefix + "page-\($0)") }
        for key in keys { try await client.putObject(key: key, body: body("x"), length: 1) }
        #expect(try await client.listObjects(prefix: client.location.objectKey(prefix), pageSize: 2) == keys)
        for key in keys { try await client.deleteObject(key: key) }
        #expect(try await client.listObjects(prefix: client.location.objectKey(prefix), pageSize: 2) == [])
    }

    @Test func anUploadOfUnknownLengthIsSpooledAndSigned() async throws {
        let key = client.location.objectKey(prefix + "unknown-length")
        let bytes = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let stored = try await store.write(
            key: prefix + "unknown-length", body: ChunkedBody(bytes, chunkSize: 4_096), maxBytes: 1 << 20)
        #expect(stored.size == 300_000)
        #expect(try await client.headObject(key: key)?.size == 300_000)
        var read: [UInt8] = []
        try await client.getObject(key: key, range: 1_000...1_999) { read += Array($0.readableBytesView) }
        #expect(read == Array(bytes[1_000...1_999]))
        try await client.deleteObject(key: key)
    }

    @Test func aBodyShorterThanItsLengthStoresNothing() async throws {
        let key = client.location.objectKey(prefix + "short")
        await #expect(throws: (any Error).self) {
            try await client.putObject(key: key, body: body("four"), length: 10)
        }
        #expect(try await client.headObject(key: key) == nil)
    }

    @Test func aWrongPayloadHashStoresNothing() async throws {
        let key = client.location.objectKey(prefix + "corrupt")
        let error = await #expect(throws: S3Error.self) {
            try await client.putObject(
                key: key, body: body("data"), length: 4, payloadSHA256: SigV4Signer.emptyPayloadSHA256)
        }
        #expect(error?.status == 400)
        #expect(try await client.headObject(key: key) == nil)
    }

    @Test func copyHonoursIfMatch() async throws {
        let source = client.location.objectKey(prefix + "source")
        let destination = client.location.objectKey(prefix + "destination")
        try await client.putObject(key: source, body: body("copy me"), length: 7)
        let etag = try #require(try await client.headObject(key: source)?.etag)

        let error = await #expect(throws: S3Error.self) {
            try await client.copyObject(from: source, to: destination, ifMatch: "\"0123456789abcdef0123456789abcdef\"")
        }
        #expect(error?.status == 412)
        #expect(try await client.headObject(key: destination) == nil)

        try await client.copyObject(from: source, to: destination, ifMatch: etag)
        var read: [UInt8] = []
        try await client.getObject(key: destination) { read += Array($0.readableBytesView) }
        #expect(read == Array("copy me".utf8))
        try await client.deleteObject(key: source)
        try await client.deleteObject(key: destination)
    }
}

/// Needs no server: the endpoint is a closed port.
@Suite struct S3ClientUnreachableTests {
    @Test func anUnreachableEndpointSaysSo() async throws {
        let location = try S3Location(url: "s3://bucket?endpoint=http://127.0.0.1:9&path-style=true")
        let httpClient = S3Client.makeHTTPClient(connectTimeout: .seconds(1))
        let client = S3Client(
            location: location, credentials: AWSCredentials(accessKeyID: "a", secretAccessKey: "s"),
            httpClient: httpClient)
        let started = ContinuousClock.now
        let error = await #expect(throws: S3Error.self) { _ = try await client.headObject(key: "k") }
        #expect(error?.description.contains("The S3 endpoint http://127.0.0.1:9 cannot be reached (HEAD k)") == true)
        // Generous: a saturated test machine stretches it; the failure this catches is the 60 s read timeout.
        #expect(ContinuousClock.now - started < .seconds(30))
        try await httpClient.shutdown()
    }
}
