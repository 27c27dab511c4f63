enum HTMLEntities {
    /// The named references decoded in attribute values. An unknown name stays literal text, which is then escaped,
    /// so a missing name only costs fidelity, never safety.
    private static let named: [String: String] = [
        "amp": "&", "lt": "<", "gt": ">", "quot": "\"", "apos": "'", "nbsp": "\u{A0}", "tab": "\t",
        "newline": "\n", "colon": ":", "sol": "/", "num": "#", "quest": "?", "equals": "=", "period": ".",
        "comma": ",", "lpar": "(", "rpar": ")", "excl": "!", "percnt": "%", "plus": "+", "semi": ";",
        "copy": "\u{A9}", "reg": "\u{AE}", "trade": "\u{2122}", "hellip": "\u{2026}", "mdash": "\u{2014}",
        "ndash": "\u{2013}", "lsquo": "\u{2018}", "rsquo": "\u{2019}", "ldquo": "\u{201C}", "rdquo": "\u{201D}",
    ]

    private enum Reference {
        case numeric(UInt32)
        case named(String)
    }

    /// Whether a well-formed reference (`&name;`, `&#digits;`, `&#xhex;`) starts at `index`, which holds `&`.
    static func isReference(in bytes: ArraySlice<UInt8>, at index: Int) -> Bool {
        reference(in: bytes, at: index) != nil
    }

    static func decode(_ bytes: ArraySlice<UInt8>) -> String {
        var decoded: [UInt8] = []
        decoded.reserveCapacity(bytes.count)
        var index = bytes.startIndex
        while index < bytes.endIndex {
            if bytes[index] == ASCII.ampersand, let (reference, length) = reference(in: bytes, at: index),
                let text = text(of: reference)
            {
                decoded.append(contentsOf: text.utf8)
                index += length
            } else {
                decoded.append(bytes[index])
                index += 1
            }
        }
        return String(decoding: decoded, as: UTF8.self)
    }

    private static func text(of reference: Reference) -> String? {
        switch reference {
        case .numeric(let value):
            // NUL, surrogates and values past Unicode become U+FFFD, as in browsers.
            let scalar = value == 0 ? nil : Unicode.Scalar(value)
            return String(Character(scalar ?? "\u{FFFD}"))
        case .named(let name):
            return named[name]
        }
    }

    /// Parses the reference at `index` and returns it with its length including `&` and `;`. Names and numbers are
    /// bounded in length, so this looks at a bounded number of bytes.
    private static func reference(in bytes: ArraySlice<UInt8>, at index: Int) -> (Reference, Int)? {
        var cursor = index + 1
        func byte() -> UInt8? { cursor < bytes.endIndex ? bytes[cursor] : nil }

        if byte() == ASCII.hash {
            cursor += 1
            var radix: UInt32 = 10
            var maximumDigits = 7
            if byte() == ASCII.lowercaseX || byte() == ASCII.uppercaseX {
                cursor += 1
                radix = 16
                maximumDigits = 6
            }
            var value: UInt32 = 0
            var digits = 0
            while let current = byte(), let digit = ASCII.digitValue(current, radix: radix), digits < maximumDigits {
                value = value * radix + digit
                digits += 1
                cursor += 1
            }
            guard digits > 0, byte() == ASCII.semicolon else {
                return nil
            }
            return (.numeric(value), cursor + 1 - index)
        }

        let nameStart = cursor
        while let current = byte(), ASCII.isAlphanumeric(current), cursor - nameStart < 32 {
            cursor += 1
        }
        guard cursor > nameStart, ASCII.isLetter(bytes[nameStart]), byte() == ASCII.semicolon else {
            return nil
        }
        let name = String(decoding: bytes[nameStart..<cursor], as: UTF8.self)
        return (.named(name), cursor + 1 - index)
    }
}

/// Writes text and attribute values so that they cannot be read as markup.
enum HTMLEscaping {
    /// Source text: well-formed character references are kept as written, everything else special is escaped.
    static func appendText(_ text: ArraySlice<UInt8>, to output: inout [UInt8]) {
        for index in text.indices {
            let byte = text[index]
            if byte == ASCII.ampersand, HTMLEntities.isReference(in: text, at: index) {
                output.append(byte)
            } else {
                append(byte, to: &output)
            }
        }
    }

    /// Decoded text: every special character is escaped.
    static func appendEscaped(_ value: String, to output: inout [UInt8]) {
        for byte in value.utf8 {
            append(byte, to: &output)
        }
    }

    private static func append(_ byte: UInt8, to output: inout [UInt8]) {
        switch byte {
        case ASCII.ampersand: output.append(contentsOf: "&amp;".utf8)
        case ASCII.lessThan: output.append(contentsOf: "&lt;".utf8)
        case ASCII.greaterThan: output.append(contentsOf: "&gt;".utf8)
        case ASCII.quote: output.append(contentsOf: "&quot;".utf8)
        case ASCII.apostrophe: output.append(contentsOf: "&#39;".utf8)
        case 0: break  // NUL is never meaningful in HTML text.
        default: output.append(byte)
        }
    }
}

/// Single UTF-8 bytes in the ASCII range. Named constants rather than `UInt8(ascii:)`, which a debug build calls
/// at run time for every byte.
enum ASCII {
    static let tab: UInt8 = 0x09
    static let lineFeed: UInt8 = 0x0A
    static let formFeed: UInt8 = 0x0C
    static let carriageReturn: UInt8 = 0x0D
    static let space: UInt8 = 0x20
    static let exclamation: UInt8 = 0x21
    static let quote: UInt8 = 0x22
    static let hash: UInt8 = 0x23
    static let ampersand: UInt8 = 0x26
    static let apostrophe: UInt8 = 0x27
    static let plus: UInt8 = 0x2B
    static let hyphen: UInt8 = 0x2D
    static let slash: UInt8 = 0x2F
    static let colon: UInt8 = 0x3A
    static let semicolon: UInt8 = 0x3B
    static let lessThan: UInt8 = 0x3C
    static let equals: UInt8 = 0x3D
    static let greaterThan: UInt8 = 0x3E
    static let question: UInt8 = 0x3F
    static let uppercaseX: UInt8 = 0x58
    static let underscore: UInt8 = 0x5F
    static let lowercaseX: UInt8 = 0x78
    static let delete: UInt8 = 0x7F

    static func isWhitespace(_ byte: UInt8) -> Bool {
        byte == space || byte == tab || byte == lineFeed || byte == formFeed || byte == carriageReturn
    }

    static func isUppercaseLetter(_ byte: UInt8) -> Bool {
        byte >= 0x41 && byte <= 0x5A
    }

    static func isLetter(_ byte: UInt8) -> Bool {
        isUppercaseLetter(byte) || (byte >= 0x61 && byte <= 0x7A)
    }

    static func isDigit(_ byte: UInt8) -> Bool {
        byte >= 0x30 && byte <= 0x39
    }

    static func isAlphanumeric(_ byte: UInt8) -> Bool {
        isLetter(byte) || isDigit(byte)
    }

    static func lowercased(_ byte: UInt8) -> UInt8 {
        isUppercaseLetter(byte) ? byte + 0x20 : byte
    }

    static func digitValue(_ byte: UInt8, radix: UInt32) -> UInt32? {
        if isDigit(byte) {
            return UInt32(byte - 0x30)
        }
        guard radix == 16 else {
            return nil
        }
        let lowercase = lowercased(byte)
        return lowercase >= 0x61 && lowercase <= 0x66 ? UInt32(lowercase - 0x61) + 10 : nil
    }
}
