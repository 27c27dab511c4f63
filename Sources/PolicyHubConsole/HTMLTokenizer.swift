enum HTMLToken {
    /// Source text as written, character references not decoded.
    case text(ArraySlice<UInt8>)
    case startTag(name: String, attributes: [HTMLAttribute], selfClosing: Bool)
    case endTag(name: String)
}

struct HTMLAttribute {
    /// Lowercased.
    let name: String
    /// Character references decoded.
    let value: String
}

extension [HTMLAttribute] {
    /// The value of the first attribute called `name`; browsers ignore the later duplicates too.
    func value(of name: String) -> String? {
        first { $0.name == name }?.value
    }
}

/// Splits HTML into tokens following the HTML standard's tokenizer closely enough that every tag a browser would see
/// is seen here. Each byte is looked at a bounded number of times, so tokenizing is linear in the input.
struct HTMLTokenizer {
    /// Elements whose content a browser reads as plain text up to their end tag.
    private static let rawTextElements: Set<String> = [
        "script", "style", "textarea", "title", "iframe", "noscript", "xmp", "noembed", "noframes",
    ]

    private let input: [UInt8]
    private var position = 0
    /// Set after the start tag of a raw-text element: its content comes next.
    private var rawTextElement: String?

    init(_ html: String) {
        input = Array(html.utf8)
    }

    mutating func next() -> HTMLToken? {
        if let element = rawTextElement {
            rawTextElement = nil
            return rawText(of: element)
        }
        while position < input.count {
            if startsMarkup(at: position) {
                if let token = markup() {
                    return token
                }
            } else {
                return text()
            }
        }
        return nil
    }

    /// Whether a `<` that a browser reads as the start of a tag, comment or the like is at `index`.
    private func startsMarkup(at index: Int) -> Bool {
        guard input[index] == ASCII.lessThan, let next = byte(at: index + 1) else {
            return false
        }
        return ASCII.isLetter(next) || next == ASCII.slash || next == ASCII.exclamation || next == ASCII.question
    }

    /// Text up to the next `<` that starts markup; any other `<` is part of the text.
    private mutating func text() -> HTMLToken {
        let start = position
        position += 1
        while let lessThan = input[position...].firstIndex(of: ASCII.lessThan) {
            position = lessThan
            if startsMarkup(at: lessThan) {
                return .text(input[start..<position])
            }
            position += 1
        }
        position = input.count
        return .text(input[start..<position])
    }

    private func byte(at index: Int) -> UInt8? {
        index < input.count ? input[index] : nil
    }

    private func byte(at index: Int, is expected: UInt8) -> Bool {
        byte(at: index) == expected
    }

    /// Reads the markup that starts at `position`; nil for markup that yields no token.
    private mutating func markup() -> HTMLToken? {
        switch byte(at: position + 1) {
        case let next? where ASCII.isLetter(next):
            position += 1
            return tag(isEnd: false)
        case ASCII.slash:
            if let letter = byte(at: position + 2), ASCII.isLetter(letter) {
                position += 2
                return tag(isEnd: true)
            }
            // `</>` is ignored; `</` before anything else starts a bogus comment.
            position += 2
            skipBogusComment()
        case ASCII.exclamation:
            if byte(at: position + 2, is: ASCII.hyphen), byte(at: position + 3, is: ASCII.hyphen) {
                position += 4
                skipComment()
            } else {
                // Doctype, CDATA (outside SVG and MathML) and other `<!` markup end at the next `>`.
                position += 2
                skipBogusComment()
            }
        default:
            // `<?`: a processing instruction, read as a bogus comment.
            position += 1
            skipBogusComment()
        }
        return nil
    }

    private mutating func skipBogusComment() {
        if let end = input[position...].firstIndex(of: ASCII.greaterThan) {
            position = end + 1
        } else {
            position = input.count
        }
    }

    /// Skips past `-->`; `<!-->` and `<!--->` are complete comments.
    private mutating func skipComment() {
        if byte(at: position, is: ASCII.greaterThan) {
            position += 1
            return
        }
        if byte(at: position, is: ASCII.hyphen), byte(at: position + 1, is: ASCII.greaterThan) {
            position += 2
            return
        }
        while position < input.count {
            if input[position] == ASCII.hyphen, byte(at: position + 1, is: ASCII.hyphen),
                byte(at: position + 2, is: ASCII.greaterThan)
            {
                position += 3
                return
            }
            position += 1
        }
    }

    /// Reads a tag after its `<` or `</`. A tag cut off by the end of the input is dropped, as browsers do.
    private mutating func tag(isEnd: Bool) -> HTMLToken? {
        let name = lowercasedName(isAttribute: false)
        var attributes: [HTMLAttribute] = []
        var selfClosing = false
        while true {
            skipWhitespace()
            guard let current = byte(at: position) else {
                return nil
            }
            switch current {
            case ASCII.greaterThan:
                position += 1
                if isEnd {
                    return .endTag(name: name)
                }
                if Self.rawTextElements.contains(name) {
                    // The browser reads the content as text whether or not the tag claims to be self-closing.
                    rawTextElement = name
                    selfClosing = false
                }
                return .startTag(name: name, attributes: attributes, selfClosing: selfClosing)
            case ASCII.slash:
                position += 1
                // A `/` counts only right before `>`; elsewhere it is ignored.
                selfClosing = byte(at: position, is: ASCII.greaterThan)
            default:
                guard let attribute = attribute() else {
                    return nil
                }
                attributes.append(attribute)
                selfClosing = false
            }
        }
    }

    /// Reads one attribute; nil if the input ends inside its value.
    private mutating func attribute() -> HTMLAttribute? {
        // The first character always belongs to the name, even a `=`.
        position += 1
        let name =
            String(decoding: [ASCII.lowercased(input[position - 1])], as: UTF8.self)
            + lowercasedName(isAttribute: true)
        skipWhitespace()
        guard byte(at: position, is: ASCII.equals) else {
            return HTMLAttribute(name: name, value: "")
        }
        position += 1
        skipWhitespace()
        guard let first = byte(at: position) else {
            return nil
        }
        let value: ArraySlice<UInt8>
        switch first {
        case ASCII.quote, ASCII.apostrophe:
            let start = position + 1
            guard let end = input[start...].firstIndex(of: first) else {
                position = input.count
                return nil
            }
            value = input[start..<end]
            position = end + 1
        case ASCII.greaterThan:
            value = []
        default:
            let start = position
            while let current = byte(at: position), !ASCII.isWhitespace(current), current != ASCII.greaterThan {
                position += 1
            }
            value = input[start..<position]
        }
        return HTMLAttribute(name: name, value: HTMLEntities.decode(value))
    }

    /// Reads up to whitespace, `/`, `>`, the end of the input or, for an attribute, `=`, lowercasing ASCII letters.
    private mutating func lowercasedName(isAttribute: Bool) -> String {
        let start = position
        var hasUppercase = false
        while let current = byte(at: position), !ASCII.isWhitespace(current), current != ASCII.slash,
            current != ASCII.greaterThan, !(isAttribute && current == ASCII.equals)
        {
            hasUppercase = hasUppercase || ASCII.isUppercaseLetter(current)
            position += 1
        }
        let name = input[start..<position]
        // Names are nearly always lowercase already; lowercasing costs an array.
        return String(decoding: hasUppercase ? ArraySlice(name.map(ASCII.lowercased)) : name, as: UTF8.self)
    }

    private mutating func skipWhitespace() {
        while let current = byte(at: position), ASCII.isWhitespace(current) {
            position += 1
        }
    }

    /// The content of a raw-text element, up to (not including) `</name` followed by whitespace, `/` or `>`.
    private mutating func rawText(of element: String) -> HTMLToken {
        let start = position
        let name = Array(element.utf8)
        while position < input.count {
            if input[position] == ASCII.lessThan, byte(at: position + 1, is: ASCII.slash), isEndTag(of: name) {
                break
            }
            position += 1
        }
        return .text(input[start..<position])
    }

    /// Whether `</name` at `position` closes the raw-text element `name`.
    private func isEndTag(of name: [UInt8]) -> Bool {
        let nameStart = position + 2
        for (offset, expected) in name.enumerated() {
            guard let actual = byte(at: nameStart + offset), ASCII.lowercased(actual) == expected else {
                return false
            }
        }
        guard let after = byte(at: nameStart + name.count) else {
            return false
        }
        return ASCII.isWhitespace(after) || after == ASCII.slash || after == ASCII.greaterThan
    }
}

/// Character references (`&amp;`, `&#39;`, `&#x27;`).
