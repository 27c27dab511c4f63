import Foundation
import PolicyHubCore
import Testing

@testable import MetadataStoreSQL

/// A report's violations are kept as one JSON document, written by hand: whatever a reporter sent reads back exactly.
@Suite("Violations document")
struct ViolationsDocumentTests {
    @Test func everyCharacterAReportMayHoldReadsBackExactly() throws {
        let odd = "quote \" backslash \\ slash / tab \t newline \n nul \u{0} bell \u{7} unit \u{1F} é 漢 🚀 \u{7F}"
        let violations = [
            ReportedViolation(
                message: odd, policyName: "no-\"public\"", packName: "pack\\name", packVersion: "1.0.0-rc.1",
                level: .mandatory, kind: .audit, resourceURN: "urn:pulumi:prod::web::aws:s3/bucket:Bucket::\u{1}"),
            ReportedViolation(
                message: "", policyName: "p", packName: "q", packVersion: "", level: .advisory, kind: .preventative,
                resourceURN: ""),
        ]
        let document = SQLMetadataStore.violationsDocument(violations)
        #expect(try SQLMetadataStore.violations(inDocument: document) == violations)
        #expect(try JSONSerialization.jsonObject(with: Data(document.utf8)) is [Any])
        #expect(try SQLMetadataStore.violations(inDocument: SQLMetadataStore.violationsDocument([])).isEmpty)
    }
}
