import Foundation
import Testing

@testable import BlobStoreS3

@Suite struct S3XMLTests {
    @Test func readsAnErrorDocument() throws {
        let body = Data(
            """
            <?xml version="1.0" encoding="UTF-8"?>
            <Error><Code>NoSuchKey</Code><Message>The key &lt;a&amp;b&gt; does not exist</Message>\
            <Key>a&amp;b</Key><RequestId>tx0001</RequestId></Error>
            """.utf8)
        let error = try #require(S3XML(body)?.serviceError(status: 404, operation: "GET a&b"))
        #expect(
            error
                == S3ServiceError(
                    status: 404, code: "NoSuchKey", message: "The key <a&b> does not exist", requestID: "tx0001",
                    operation: "GET a&b"))
        #expect(
            error.description
                == "S3 GET a&b failed with NoSuchKey (HTTP 404): The key <a&b> does not exist [request tx0001]")
    }

    @Test func readsAListingPage() throws {
        let body = Data(
            """
            <ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name><Prefix>p/</Prefix>\
            <IsTruncated>true</IsTruncated><NextContinuationToken>1/abc=</NextContinuationToken>\
            <Contents><Key>p/a &amp; b</Key><Size>3</Size></Contents><Contents><Key>p/&#x444;</Key></Contents>\
            </ListBucketResult>
            """.utf8)
        let page = try #require(S3XML(body))
        #expect(page.rootName == "ListBucketResult")
        #expect(page.all("ListBucketResult/Contents/Key") == ["p/a & b", "p/\u{444}"])
        #expect(page.first("ListBucketResult/NextContinuationToken") == "1/abc=")
        #expect(page.serviceError(status: 200, operation: "LIST") == nil)
    }

    @Test func somethingElseIsNotAnError() {
        #expect(S3XML(Data("not xml".utf8)) == nil)
        #expect(
            S3XML(Data("<CopyObjectResult><ETag>x</ETag></CopyObjectResult>".utf8))?.serviceError(
                status: 200, operation: "COPY") == nil)
    }
}
