/// Reduces any HTML to an allowlisted, balanced subset.
///
/// The input is tokenized the way a browser would and only allowlisted elements and attributes are written back,
/// re-serialised and escaped, so nothing the browser parses out of the result can differ from what was checked here.
struct HTMLSanitizer {
    static func sanitize(_ html: String) -> String {
        var sanitizer = HTMLSanitizer()
        var tokenizer = HTMLTokenizer(html)
        while let token = tokenizer.next() {
            sanitizer.consume(token)
        }
        sanitizer.closeOpenElements()
        return String(decoding: sanitizer.output, as: UTF8.self)
    }

    /// What happens to an element. Any element not listed loses its tag and keeps its content.
    private enum Rule {
        case allowed
        case allowedVoid
        case droppedWithContent
        /// Replaced by its alt text; the page's CSP blocks external images anyway.
        case image
    }

    /// `embed` is void in HTML: it has no content, so dropping its tag, as for any unlisted element, is enough.
    private static let rules: [String: Rule] = {
        let allowed = [
            "p", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li", "blockquote", "pre", "code", "em", "strong", "b",
            "i", "a", "table", "thead", "tbody", "tr", "th", "td", "del", "s", "sup", "sub", "dl", "dt", "dd", "kbd",
        ]
        let droppedWithContent = [
            "script", "style", "iframe", "object", "template", "noscript", "textarea", "title", "svg", "math",
        ]
        var rules: [String: Rule] = ["br": .allowedVoid, "hr": .allowedVoid, "img": .image]
        for name in allowed {
            rules[name] = .allowed
        }
        for name in droppedWithContent {
            rules[name] = .droppedWithContent
        }
        return rules
    }()
    private static let linkRel = "nofollow noopener noreferrer"

    private var output: [UInt8] = []
    /// Allowed elements written and not yet closed, innermost last.
    private var openElements: [String] = []
    /// How often each name occurs in `openElements`, so a stray end tag is recognised in constant time.
    private var openCounts: [String: Int] = [:]
    /// The element whose content is being dropped, and how deeply it is nested in itself.
    private var dropping: (name: String, depth: Int)?

    private mutating func consume(_ token: HTMLToken) {
        if let dropping {
            skip(token, inside: dropping)
            return
        }
        switch token {
        case .text(let text):
            HTMLEscaping.appendText(text, to: &output)
        case .startTag(let name, let attributes, let selfClosing):
            start(name, attributes: attributes, selfClosing: selfClosing)
        case .endTag(let name):
            end(name)
        }
    }

    private mutating func skip(_ token: HTMLToken, inside dropped: (name: String, depth: Int)) {
        switch token {
        case .startTag(let name, _, let selfClosing) where name == dropped.name && !selfClosing:
            dropping = (name, dropped.depth + 1)
        case .endTag(let name) where name == dropped.name:
            dropping = dropped.depth > 1 ? (name, dropped.depth - 1) : nil
        default:
            break
        }
    }

    private mutating func start(_ name: String, attributes: [HTMLAttribute], selfClosing: Bool) {
        switch Self.rules[name] {
        case .allowed?, .allowedVoid?:
            output.append(ASCII.lessThan)
            output.append(contentsOf: name.utf8)
            for (attributeName, value) in allowedAttributes(of: name, from: attributes) {
                output.append(ASCII.space)
                output.append(contentsOf: attributeName.utf8)
                output.append(ASCII.equals)
                output.append(ASCII.quote)
                HTMLEscaping.appendEscaped(value, to: &output)
                output.append(ASCII.quote)
            }
            output.append(ASCII.greaterThan)
            // HTML ignores the self-closing flag on non-void elements, so `<p/>` opens a paragraph here too.
            if Self.rules[name] == .allowed {
                openElements.append(name)
                openCounts[name, default: 0] += 1
            }
        case .droppedWithContent?:
            if !selfClosing {
                dropping = (name, 1)
            }
        case .image?:
            if let alt = attributes.value(of: "alt") {
                HTMLEscaping.appendEscaped(alt, to: &output)
            }
        case nil:
            break
        }
    }

    private func allowedAttributes(of element: String, from attributes: [HTMLAttribute]) -> [(String, String)] {
        switch element {
        case "a":
            var kept: [(String, String)] = []
            if let href = attributes.value(of: "href"), LinkPolicy.isAllowed(href) {
                kept.append(("href", href))
            }
            if let title = attributes.value(of: "title") {
                kept.append(("title", title))
            }
            kept.append(("rel", Self.linkRel))
            return kept
        case "code":
            guard let language = attributes.value(of: "class"), Self.isLanguageClass(language) else {
                return []
            }
            return [("class", language)]
        case "th", "td":
            guard let align = attributes.value(of: "align")?.lowercased(), ["left", "right", "center"].contains(align)
            else {
                return []
            }
            return [("align", align)]
        default:
            return []
        }
    }

    /// Whether `value` is `language-` followed by one or more of `A-Za-z0-9_+-`.
    private static func isLanguageClass(_ value: String) -> Bool {
        let prefix = "language-"
        guard value.hasPrefix(prefix) else {
            return false
        }
        let language = value.utf8.dropFirst(prefix.utf8.count)
        return !language.isEmpty
            && language.allSatisfy { byte in
                ASCII.isAlphanumeric(byte) || byte == ASCII.underscore || byte == ASCII.plus
                    || byte == ASCII.hyphen
            }
    }

    private mutating func end(_ name: String) {
        // End tags of elements that are not open, void ones included, are stray and dropped.
        guard openCounts[name, default: 0] > 0 else {
            return
        }
        // Closing an element closes everything opened inside it, as a browser does.
        while let innermost = closeInnermost(), innermost != name {}
    }

    private mutating func closeInnermost() -> String? {
        guard let name = openElements.popLast() else {
            return nil
        }
        openCounts[name, default: 1] -= 1
        output.append(ASCII.lessThan)
        output.append(ASCII.slash)
        output.append(contentsOf: name.utf8)
        output.append(ASCII.greaterThan)
        return name
    }

    private mutating func closeOpenElements() {
        while closeInnermost() != nil {}
    }
}

/// Whether a link target is safe to follow: http, https, mailto or relative.
enum LinkPolicy {
    private static let allowedSchemes: Set<String> = ["http", "https", "mailto"]

    /// `href` is the attribute value with its character references already decoded.
    static func isAllowed(_ href: String) -> Bool {
        // Browsers skip control characters and whitespace around and inside a scheme (`java&#x09;script:`), so the
        // check drops them all; that is stricter than any browser.
        let compact = href.utf8.filter { $0 > ASCII.space && $0 != ASCII.delete }
        guard let colon = compact.firstIndex(of: ASCII.colon) else {
            return true
        }
        let beforeColon = compact[..<colon]
        let isRelative = beforeColon.contains { byte in
            byte == ASCII.slash || byte == ASCII.question || byte == ASCII.hash
        }
        if isRelative {
            return true
        }
        let scheme = String(decoding: beforeColon.map(ASCII.lowercased), as: UTF8.self)
        return allowedSchemes.contains(scheme)
    }
}

/// One token of HTML. Comments, doctypes, CDATA sections and processing instructions produce none.
