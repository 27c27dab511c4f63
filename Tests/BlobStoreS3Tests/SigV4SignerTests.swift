import Crypto
import Foundation
import PolicyHubCore
import Testing

@testable import BlobStoreS3

/// The signer against published Signature Version 4 examples. Sources, each value checked by hand:
/// - AWS S3 API reference, "Signature Calculations for the Authorization Header: Transferring Payload in a Single
///   Chunk" (sig-v4-header-based-auth), examples GET Object, PUT Object, GET Bucket Lifecycle, Get Bucket (List
///   Objects); and "Authenticating Requests: Using Query Parameters" (sigv4-query-string-auth), the presigned GET.
/// - AWS's SigV4 test suite (aws-sig-v4-test-suite), as vendored by aws/aws-sdk-js-v3 in
///   packages/signature-v4/src/suite.fixture.ts.
@Suite struct SigV4SignerTests {
    // MARK: S3 documentation examples

    static let s3Example = AWSCredentials(
        accessKeyID: "AKIAIOSFODNN7EXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    static let s3ExampleTime = Date(timeIntervalSince1970: 1_369_353_600)  // 2013-05-24T00:00:00Z
    static let s3ExampleHost = "examplebucket.s3.amazonaws.com"

    static func s3Signer(_ credentials: AWSCredentials = s3Example) -> SigV4Signer {
        SigV4Signer(credentials: credentials, region: "us-east-1", clock: WallClock { s3ExampleTime })
    }

    static func signature(of authorization: String?) -> String? {
        authorization?.components(separatedBy: "Signature=").last
    }

    @Test func getObjectWithRangeMatchesTheS3Example() throws {
        let request = SigV4Request(
            method: "GET", host: Self.s3ExampleHost, path: "/test.txt", headers: [("Range", "bytes=0-9")])
        let signed = Self.s3Signer().sign(request, payloadSHA256: SigV4Signer.emptyPayloadSHA256)
        let authorization = try #require(signed.header("Authorization"))
        #expect(authorization.hasPrefix("AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/"))
        #expect(authorization.contains("SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"))
        #expect(
            Self.signature(of: authorization) == "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
        #expect(signed.header("x-amz-date") == "20130524T000000Z")
        #expect(signed.header("x-amz-content-sha256") == SigV4Signer.emptyPayloadSHA256)

        // The intermediate strings the example prints, so a mismatch says which step is wrong.
        var unsigned = signed
        unsigned.headers.removeAll { $0.name == "Authorization" }
        let steps = Self.s3Signer().signature(
            for: unsigned, payloadSHA256: SigV4Signer.emptyPayloadSHA256, at: Timestamp(Self.s3ExampleTime))
        #expect(
            steps.canonicalRequest == """
                GET
                /test.txt

                host:examplebucket.s3.amazonaws.com
                range:bytes=0-9
                x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
                x-amz-date:20130524T000000Z

                host;range;x-amz-content-sha256;x-amz-date
                e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
                """)
        #expect(
            steps.stringToSign == """
                AWS4-HMAC-SHA256
                20130524T000000Z
                20130524/us-east-1/s3/aws4_request
                7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972
                """)
    }

    @Test func putObjectWithAnEncodedKeyMatchesTheS3Example() throws {
        let body = Data("Welcome to Amazon S3.".utf8)
        let payloadSHA256 = SHA256.hash(data: body).hexString
        #expect(payloadSHA256 == "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072")
        let request = SigV4Request(
            method: "PUT", host: Self.s3ExampleHost, path: "/test$file.text",
            headers: [("Date", "Fri, 24 May 2013 00:00:00 GMT"), ("x-amz-storage-class", "REDUCED_REDUNDANCY")])
        let signed = Self.s3Signer().sign(request, payloadSHA256: payloadSHA256)
        #expect(signed.encodedPath == "/test%24file.text")
        #expect(
            signed.header("Authorization")?.contains(
                "SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class,") == true)
        #expect(
            Self.signature(of: signed.header("Authorization"))
                == "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd")
    }

    @Test func getBucketLifecycleSignsAValuelessParameter() {
        let request = SigV4Request(method: "GET", host: Self.s3ExampleHost, path: "/", query: [("lifecycle", "")])
        let signed = Self.s3Signer().sign(request, payloadSHA256: SigV4Signer.emptyPayloadSHA256)
        #expect(
            Self.signature(of: signed.header("Authorization"))
                == "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543")
    }

    @Test func listObjectsSortsTheQuery() {
        let request = SigV4Request(
            method: "GET", host: Self.s3ExampleHost, path: "/", query: [("prefix", "J"), ("max-keys", "2")])
        let signed = Self.s3Signer().sign(request, payloadSHA256: SigV4Signer.emptyPayloadSHA256)
        #expect(
            Self.signature(of: signed.header("Authorization"))
                == "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7")
    }

    @Test func presignedGetMatchesTheS3Example() {
        let request = SigV4Request(method: "GET", host: Self.s3ExampleHost, path: "/test.txt")
        let presigned = Self.s3Signer().presign(request, expiresIn: 86400)
        #expect(
            presigned.url
                == "https://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256"
                + "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
                + "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
                + "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404")
        #expect(presigned.headers.isEmpty)
    }

    @Test func presignedCanonicalRequestMatchesTheS3Example() {
        var request = SigV4Request(method: "GET", host: Self.s3ExampleHost, path: "/test.txt")
        request = Self.s3Signer().presign(request, expiresIn: 86400)
        request.query.removeAll { $0.name == "X-Amz-Signature" }
        let steps = Self.s3Signer().signature(
            for: request, payloadSHA256: SigV4Signer.unsignedPayload, at: Timestamp(Self.s3ExampleTime))
        #expect(
            steps.canonicalRequest == """
                GET
                /test.txt
                X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host
                host:examplebucket.s3.amazonaws.com

                host
                UNSIGNED-PAYLOAD
                """)
        #expect(steps.stringToSign.hasSuffix("\n3bfa292879f6447bbcda7001decf97f4a54dc650c8942174ae0a9121cf58ad04"))
    }

    // MARK: Temporary credentials (cross-checked with botocore 1.43.11's S3SigV4Auth and S3SigV4QueryAuth)

    static let temporary = AWSCredentials(
        accessKeyID: "AKIAIOSFODNN7EXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        sessionToken: "SESSION/TOKEN+example=")

    @Test func aSessionTokenIsSentAndSigned() throws {
        let request = SigV4Request(method: "GET", scheme: "http", host: Self.s3ExampleHost, path: "/a b/c+d.txt")
        let signed = Self.s3Signer(Self.temporary).sign(request, payloadSHA256: SigV4Signer.emptyPayloadSHA256)
        #expect(signed.url == "http://examplebucket.s3.amazonaws.com/a%20b/c%2Bd.txt")
        #expect(signed.header("x-amz-security-token") == "SESSION/TOKEN+example=")
        let authorization = try #require(signed.header("Authorization"))
        #expect(authorization.contains("SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token,"))
        #expect(
            Self.signature(of: authorization) == "3fad92323ace35f6e7be18fdae9534a6ccb2b953decaad6fe854ad7045cb085f")
    }

    @Test func aPresignedURLCarriesTheSessionToken() {
        let request = SigV4Request(method: "GET", host: Self.s3ExampleHost, path: "/test.txt")
        let presigned = Self.s3Signer(Self.temporary).presign(request, expiresIn: 86400)
        #expect(presigned.url.contains("&X-Amz-Security-Token=SESSION%2FTOKEN%2Bexample%3D&"))
        #expect(
            presigned.query.last?.value == "1775c38505ece20197ae690cbd931695c4f263efbba0c0d90af34fd5a96c0918")
    }

    @Test func presignedExpiryIsClampedToWhatS3Accepts() {
        let request = SigV4Request(method: "GET", host: Self.s3ExampleHost, path: "/k")
        func expires(_ seconds: TimeInterval) -> String? {
            Self.s3Signer().presign(request, expiresIn: seconds).query.first { $0.name == "X-Amz-Expires" }?.value
        }
        #expect(expires(0) == "1")
        #expect(expires(2.5) == "3")
        #expect(expires(30 * 24 * 3600) == "604800")
    }

    @Test func credentialsNeverShowTheSecret() {
        for text in [String(describing: Self.temporary), String(reflecting: Self.temporary), "\(Self.temporary)"] {
            #expect(!text.contains("wJalrXUtnFEMI"))
            #expect(!text.contains("SESSION"))
            #expect(text.contains("AKIAIOSFODNN7EXAMPLE"))
        }
        var dumped = ""
        dump(Self.temporary, to: &dumped)
        #expect(!dumped.contains("wJalrXUtnFEMI") && !dumped.contains("SESSION"))
    }

    // MARK: AWS SigV4 test suite (service "service", region us-east-1)

    struct SuiteVector: CustomTestStringConvertible, Sendable {
        var name: String
        var method = "GET"
        var path = "/"
        var query: [(name: String, value: String)] = []
        var headers: [(name: String, value: String)] = []
        var body = ""
        var signedHeaders = "host;x-amz-date"
        var signature: String

        var testDescription: String { name }
    }

    static let suite: [SuiteVector] = [
        .init(
            name: "get-header-key-duplicate",
            headers: [("My-Header1", "value2"), ("My-Header1", "value2"), ("My-Header1", "value1")],
            signedHeaders: "host;my-header1;x-amz-date",
            signature: "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea"),
        .init(
            name: "get-header-value-order",
            headers: [
                ("My-Header1", "value4"), ("My-Header1", "value1"), ("My-Header1", "value3"), ("My-Header1", "value2"),
            ],
            signedHeaders: "host;my-header1;x-amz-date",
            signature: "08c7e5a9acfcfeb3ab6b2185e75ce8b1deb5e634ec47601a50643f830c755c01"),
        .init(
            name: "get-header-value-trim", headers: [("My-Header1", " value1"), ("My-Header2", "\"a   b   c\"")],
            signedHeaders: "host;my-header1;my-header2;x-amz-date",
            signature: "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736"),
        .init(
            name: "get-unreserved", path: "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
            signature: "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f"),
        .init(
            name: "get-utf8", path: "/\u{1234}",
            signature: "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85"),
        .init(name: "get-vanilla", signature: "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"),
        .init(
            name: "get-vanilla-empty-query-key", query: [("Param1", "value1")],
            signature: "a67d582fa61cc504c4bae71f336f98b97f1ea3c7a6bfe1b6e45aec72011b9aeb"),
        .init(
            name: "get-vanilla-query-order-key-case", query: [("Param2", "value2"), ("Param1", "value1")],
            signature: "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"),
        .init(
            name: "get-vanilla-query-unreserved",
            query: [
                (
                    "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
                    "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                )
            ],
            signature: "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197"),
        .init(
            name: "get-vanilla-utf8-query", query: [("\u{1234}", "bar")],
            signature: "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04"),
        .init(
            name: "post-header-key-case", method: "POST",
            signature: "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"),
        .init(
            name: "post-header-key-sort", method: "POST", headers: [("My-Header1", "value1")],
            signedHeaders: "host;my-header1;x-amz-date",
            signature: "c5410059b04c1ee005303aed430f6e6645f61f4dc9e1461ec8f8916fdf18852c"),
        .init(
            name: "post-header-value-case", method: "POST", headers: [("My-Header1", "VALUE1")],
            signedHeaders: "host;my-header1;x-amz-date",
            signature: "cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d"),
        .init(
            name: "post-vanilla", method: "POST",
            signature: "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"),
        .init(
            name: "post-vanilla-query", method: "POST", query: [("Param1", "value1")],
            signature: "28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11"),
        .init(
            name: "post-vanilla-query-nonunreserved", method: "POST",
            query: [("@#$%^", ""), ("+", "/,?><`\";:\\|][{}")],
            signature: "66c82657c86e26fb25238d0e69f011edc4c6df5ae71119d7cb98ed9b87393c1e"),
        .init(
            name: "post-vanilla-query-space", method: "POST", query: [("p", "")],
            signature: "e71688addb58a26418614085fb730ba3faa623b461c17f48f2fbdb9361b94a9b"),
        .init(
            name: "post-x-www-form-urlencoded", method: "POST",
            headers: [("Content-Type", "application/x-www-form-urlencoded")], body: "Param1=value1",
            signedHeaders: "content-type;host;x-amz-date",
            signature: "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a"),
        .init(
            name: "post-x-www-form-urlencoded-parameters", method: "POST",
            headers: [("Content-Type", "application/x-www-form-urlencoded; charset=utf8")], body: "Param1=value1",
            signedHeaders: "content-type;host;x-amz-date",
            signature: "1a72ec8f64bd914b0e42e42607c7fbce7fb2c7465f63e3092b3b0d39fa77a6fe"),
    ]

    @Test(arguments: suite) func suiteVector(_ vector: SuiteVector) {
        let signer = SigV4Signer(
            credentials: AWSCredentials(
                accessKeyID: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
            region: "us-east-1", service: "service",
            clock: WallClock { Date(timeIntervalSince1970: 1_440_938_160) },  // 2015-08-30T12:36:00Z
            sendsContentSHA256Header: false)
        let request = SigV4Request(
            method: vector.method, host: "example.amazonaws.com", path: vector.path, query: vector.query,
            headers: vector.headers)
        let signed = signer.sign(request, payloadSHA256: SHA256.hash(data: Data(vector.body.utf8)).hexString)
        #expect(
            signed.header("Authorization")
                == "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
                + "SignedHeaders=\(vector.signedHeaders), Signature=\(vector.signature)")
    }

    // MARK: Encoding

    @Test func pathsAreEncodedOnceSegmentBySegment() {
        #expect(URIEncoding.encodePath("/a b/c+d/e%f/~ok-._") == "/a%20b/c%2Bd/e%25f/~ok-._")
        #expect(URIEncoding.encodePath("/bucket//x/./y") == "/bucket//x/./y")
        #expect(URIEncoding.encodePath("") == "/")
        #expect(URIEncoding.encode("a/b=c&d é") == "a%2Fb%3Dc%26d%20%C3%A9")
    }

    @Test func theQueryIsSortedByEncodedNameThenValue() {
        #expect(
            CanonicalQuery.string([("b", "2"), ("a", "x y"), ("a", "%2B"), ("c", ""), ("B", "1")])
                == "B=1&a=%252B&a=x%20y&b=2&c=")
    }
}
