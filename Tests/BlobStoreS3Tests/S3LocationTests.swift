import NIOCore
import Testing

@testable import BlobStoreS3

@Suite struct S3LocationTests {
    @Test func parsesEveryPart() throws {
        let location = try S3Location(
            url: "s3://policyhub-test/archives/v1/?endpoint=http://127.0.0.1:7480&region=eu-west-3&path-style=true")
        #expect(location.bucket == "policyhub-test")
        #expect(location.prefix == "archives/v1")
        #expect(location.endpoint.description == "http://127.0.0.1:7480")
        #expect(location.region == "eu-west-3")
        #expect(location.pathStyle)
        #expect(location.objectKey("a/b.tgz") == "archives/v1/a/b.tgz")
        let request = location.request(method: "GET", objectKey: location.objectKey("a b.tgz"))
        #expect(request.host == "127.0.0.1:7480")
        #expect(request.url == "http://127.0.0.1:7480/policyhub-test/archives/v1/a%20b.tgz")
        #expect(location.request(method: "GET").url == "http://127.0.0.1:7480/policyhub-test")
    }

    @Test func defaultsToAWSVirtualHostedInUSEast1() throws {
        let location = try S3Location(url: "s3://my-bucket")
        #expect(location.prefix == "")
        #expect(location.region == "us-east-1")
        #expect(!location.pathStyle)
        #expect(location.endpoint.description == "https://s3.us-east-1.amazonaws.com")
        #expect(location.objectKey("k") == "k")
        let request = location.request(method: "PUT", objectKey: "k")
        #expect(request.url == "https://my-bucket.s3.us-east-1.amazonaws.com/k")
        #expect(location.request(method: "GET").url == "https://my-bucket.s3.us-east-1.amazonaws.com/")
    }

    @Test func aDefaultPortIsLeftOutOfTheHostHeader() throws {
        let https = try S3Location(url: "s3://b-1?endpoint=https://minio.example:443&path-style=true")
        #expect(https.request(method: "GET", objectKey: "k").host == "minio.example")
        let http = try S3Location(url: "s3://b-1?endpoint=http://storage.example:80/&path-style=false")
        #expect(http.request(method: "GET", objectKey: "k").host == "b-1.storage.example")
    }

    @Test(arguments: [
        ("http://bucket", "expected s3://BUCKET"),
        ("s3:///prefix", "the bucket is missing"),
        ("s3://user:secret@bucket", "credentials, ports and fragments do not belong"),
        ("s3://bucket?endpoint=ftp://host", "Invalid S3 endpoint 'ftp://host'"),
        ("s3://bucket?endpoint=http://host/base", "without a path or query"),
        ("s3://bucket?endpoint=not%20a%20url", "Invalid S3 endpoint"),
        ("s3://bucket?pathstyle=true", "unknown parameter 'pathstyle'"),
        ("s3://bucket?path-style=yes", "path-style must be true or false"),
        ("s3://bucket?region=us_east_1", "Invalid S3 region"),
        ("s3://Bucket_1", "Invalid S3 bucket name 'Bucket_1'"),
        ("s3://ab", "Invalid S3 bucket name 'ab'"),
        ("s3://bucket/a//b", "empty path segment"),
    ])
    func malformedURLsSayWhatIsWrong(_ url: String, _ message: String) {
        let error = #expect(throws: S3ConfigurationError.self) { try S3Location(url: url) }
        #expect(error?.description.contains(message) == true, "\(error?.description ?? "no error")")
    }

    @Test func pathStyleAllowsBucketNamesAWSWouldNot() throws {
        #expect(try S3Location(url: "s3://Bucket_1?path-style=true").bucket == "Bucket_1")
    }

    @Test func credentialsComeFromTheEnvironment() throws {
        let credentials = try AWSCredentials.fromEnvironment([
            "AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "secret", "AWS_SESSION_TOKEN": "token",
        ])
        #expect(credentials == AWSCredentials(accessKeyID: "AKID", secretAccessKey: "secret", sessionToken: "token"))
        #expect(
            try AWSCredentials.fromEnvironment(["AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "s"]).sessionToken
                == nil)
        let error = #expect(throws: S3ConfigurationError.self) {
            try AWSCredentials.fromEnvironment(["AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": ""])
        }
        #expect(error?.description.contains("AWS_SECRET_ACCESS_KEY") == true)
    }
}

/// A range answered with the whole object is cut down by the client.
@Suite struct RangeSliceTests {
    @Test func keepsOnlyTheBytesInTheRange() {
        let chunks = [ByteBuffer(bytes: Array(0..<10)), ByteBuffer(bytes: Array(10..<20)), ByteBuffer(bytes: [20])]
        func read(_ range: ClosedRange<Int64>) -> [UInt8] {
            var offset: Int64 = 0
            var bytes: [UInt8] = []
            for chunk in chunks {
                if let part = S3Client.slice(chunk, at: offset, to: range) { bytes += Array(part.readableBytesView) }
                offset += Int64(chunk.readableBytes)
            }
            return bytes
        }
        #expect(read(0...0) == [0])
        #expect(read(8...11) == [8, 9, 10, 11])
        #expect(read(10...19) == Array(10..<20))
        #expect(read(15...100) == Array(15...20))
        #expect(read(21...30) == [])
    }
}
