import Foundation

#if canImport(FoundationXML)
import FoundationXML
#endif

/// The few S3 XML documents this client reads, as the text of their leaf elements by path
/// (`ListBucketResult/Contents/Key`). S3's documents are flat enough that nothing more is needed.
struct S3XML {
    var leaves: [(path: String, text: String)]

    init?(_ data: Data) {
        let reader = LeafReader()
        let parser = XMLParser(data: data)
        parser.delegate = reader
        guard parser.parse() else { return nil }
        leaves = reader.leaves
    }

    var rootName: String? { leaves.first?.path.split(separator: "/").first.map(String.init) }

    func first(_ path: String) -> String? { leaves.first { $0.path == path }?.text }

    func all(_ path: String) -> [String] { leaves.filter { $0.path == path }.map(\.text) }
}

extension S3XML {
    /// An `<Error>` document's code and message, or nil when the body is not one.
    func serviceError(status: Int, operation: String) -> S3ServiceError? {
        guard rootName == "Error", let code = first("Error/Code") else { return nil }
        return S3ServiceError(
            status: status, code: code, message: first("Error/Message") ?? "", requestID: first("Error/RequestId"),
            operation: operation)
    }
}

private final class LeafReader: NSObject, XMLParserDelegate {
    var leaves: [(path: String, text: String)] = []
    private var stack: [String] = []
    private var text = ""
    private var hasChildren = false

    func parser(
        _ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?, qualifiedName: String?,
        attributes: [String: String] = [:]
    ) {
        stack.append(elementName)
        text = ""
        hasChildren = false
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) { text += string }

    func parser(
        _ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName: String?
    ) {
        if !hasChildren { leaves.append((stack.joined(separator: "/"), text)) }
        stack.removeLast()
        text = ""
        hasChildren = true
    }
}
