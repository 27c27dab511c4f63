import Foundation
import PolicyHubCore

/// A strict reader of one JSON document (RFC 8259) in memory, value by value in document order, for the request
/// body too large for the generated Codable decoding to be quick: a policy results report of a large stack holds
/// tens of thousands of strings, which `JSONDecoder` and the generated types decoded at ~25 MB/s.
///
/// Callers name the path of each value they read (`'results.violations[3].policyName'`), built only when the
/// value is wrong; every failure is a `RegistryError` (400) that says what to fix.
final class JSONReader {
    /// The state of one object or array being read.
    struct Container {
        fileprivate var first = true
    }

    /// An object's key, compared without making a `String` of it when it has no escapes.
    struct Key {
        fileprivate let raw: UnsafeBufferPointer<UInt8>
        fileprivate let decoded: String?

        func `is`(_ name: StaticString) -> Bool {
            if let decoded { return decoded == name.description }
            guard raw.count == name.utf8CodeUnitCount else { return false }
            return raw.isEmpty || memcmp(raw.baseAddress!, name.utf8Start, raw.count) == 0
        }

        var text: String { decoded ?? String(decoding: raw, as: UTF8.self) }
    }

    /// How deep a value the caller skips may nest.
    static let maxDepth = 64

    private let bytes: UnsafeBufferPointer<UInt8>
    private var offset = 0

    private init(_ bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
    }

    /// Reads `document` with `read`, then checks nothing but whitespace follows the value it read.
    static func read<T>(_ document: [UInt8], _ read: (JSONReader) throws(RegistryError) -> T) throws(RegistryError)
        -> T
    {
        let result: Result<T, RegistryError> = document.withUnsafeBufferPointer { buffer in
            let reader = JSONReader(buffer)
            do throws(RegistryError) {
                let value = try read(reader)
                reader.skipWhitespace()
                if reader.offset < buffer.count { throw reader.syntax("more text after the JSON value") }
                return .success(value)
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    // MARK: - Values

    func string(_ path: @autoclosure () -> String) throws(RegistryError) -> String {
        guard try peek(path()) == UInt8(ascii: "\"") else { throw mismatch(path(), "a string") }
        return try readString()
    }

    /// A string, or nil when the value is `null`.
    func optionalString(_ path: @autoclosure () -> String) throws(RegistryError) -> String? {
        try readNull(path()) ? nil : try string(path())
    }

    func bool(_ path: @autoclosure () -> String) throws(RegistryError) -> Bool {
        switch try peek(path()) {
        case UInt8(ascii: "t"):
            try literal("true")
            return true
        case UInt8(ascii: "f"):
            try literal("false")
            return false
        default: throw mismatch(path(), "a boolean (true or false)")
        }
    }

    /// Consumes a `null` and answers true, or answers false and consumes nothing.
    func readNull(_ path: @autoclosure () -> String) throws(RegistryError) -> Bool {
        guard try peek(path()) == UInt8(ascii: "n") else { return false }
        try literal("null")
        return true
    }

    func beginObject(_ path: @autoclosure () -> String) throws(RegistryError) -> Container {
        guard try peek(path()) == UInt8(ascii: "{") else { throw mismatch(path(), "an object") }
        offset += 1
        return Container()
    }

    /// The next key of the object, positioned at its value, or nil after the closing brace.
    func nextKey(_ object: inout Container) throws(RegistryError) -> Key? {
        guard try separator(&object, closing: UInt8(ascii: "}")) else { return nil }
        skipWhitespace()
        guard offset < bytes.count, bytes[offset] == UInt8(ascii: "\"") else {
            throw syntax("a quoted key was expected")
        }
        let key = try readKey()
        skipWhitespace()
        guard offset < bytes.count, bytes[offset] == UInt8(ascii: ":") else { throw syntax("':' was expected") }
        offset += 1
        return key
    }

    func beginArray(_ path: @autoclosure () -> String) throws(RegistryError) -> Container {
        guard try peek(path()) == UInt8(ascii: "[") else { throw mismatch(path(), "an array") }
        offset += 1
        return Container()
    }

    /// Whether the array has another element, positioned at it.
    func nextElement(_ array: inout Container) throws(RegistryError) -> Bool {
        try separator(&array, closing: UInt8(ascii: "]"))
    }

    /// Reads past a value the caller has no use for, checking it is well-formed.
    func skipValue(depth: Int = 0) throws(RegistryError) {
        guard depth < Self.maxDepth else { throw syntax("values nested more than \(Self.maxDepth) deep") }
        switch try peek("the body") {
        case UInt8(ascii: "\""): _ = try readString()
        case UInt8(ascii: "{"):
            var object = try beginObject("")
            while try nextKey(&object) != nil { try skipValue(depth: depth + 1) }
        case UInt8(ascii: "["):
            var array = try beginArray("")
            while try nextElement(&array) { try skipValue(depth: depth + 1) }
        case UInt8(ascii: "t"): try literal("true")
        case UInt8(ascii: "f"): try literal("false")
        case UInt8(ascii: "n"): try literal("null")
        default: try skipNumber()
        }
    }

    // MARK: - Scanning

    private func skipWhitespace() {
        while offset < bytes.count {
            switch bytes[offset] {
            case 0x20, 0x09, 0x0A, 0x0D: offset += 1
            default: return
            }
        }
    }

    /// The first byte of the next value.
    private func peek(_ path: @autoclosure () -> String) throws(RegistryError) -> UInt8 {
        skipWhitespace()
        guard offset < bytes.count else { throw syntax("the body ends where \(path()) was expected") }
        return bytes[offset]
    }

    /// Consumes the comma before a container's next member, or its closing byte (then false).
    private func separator(_ container: inout Container, closing: UInt8) throws(RegistryError) -> Bool {
        skipWhitespace()
        guard offset < bytes.count else { throw syntax("the body ends inside an object or array") }
        if bytes[offset] == closing {
            offset += 1
            return false
        }
        if container.first {
            container.first = false
            return true
        }
        guard bytes[offset] == UInt8(ascii: ",") else {
            throw syntax("',' or '\(Character(Unicode.Scalar(closing)))' was expected")
        }
        offset += 1
        return true
    }

    private func literal(_ word: StaticString) throws(RegistryError) {
        let count = word.utf8CodeUnitCount
        guard offset + count <= bytes.count, memcmp(bytes.baseAddress! + offset, word.utf8Start, count) == 0 else {
            throw syntax("an unknown value")
        }
        offset += count
    }

    private func skipNumber() throws(RegistryError) {
        let start = offset
        func digits() -> Int {
            let from = offset
            while offset < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[offset]) { offset += 1 }
            return offset - from
        }
        if offset < bytes.count, bytes[offset] == UInt8(ascii: "-") { offset += 1 }
        guard digits() > 0 else {
            offset = start
            throw syntax("an unexpected character")
        }
        if offset < bytes.count, bytes[offset] == UInt8(ascii: ".") {
            offset += 1
            guard digits() > 0 else { throw syntax("a malformed number") }
        }
        if offset < bytes.count, bytes[offset] | 0x20 == UInt8(ascii: "e") {
            offset += 1
            if offset < bytes.count, bytes[offset] == UInt8(ascii: "+") || bytes[offset] == UInt8(ascii: "-") {
                offset += 1
            }
            guard digits() > 0 else { throw syntax("a malformed number") }
        }
    }

    /// The key at `offset` (its opening quote), raw when it has no escapes.
    private func readKey() throws(RegistryError) -> Key {
        let start = offset + 1
        var end = start
        while end < bytes.count, bytes[end] != UInt8(ascii: "\""), bytes[end] != UInt8(ascii: "\\"),
            bytes[end] >= 0x20
        {
            end += 1
        }
        if end < bytes.count, bytes[end] == UInt8(ascii: "\"") {
            offset = end + 1
            return Key(raw: UnsafeBufferPointer(rebasing: bytes[start..<end]), decoded: nil)
        }
        return Key(raw: UnsafeBufferPointer(start: nil, count: 0), decoded: try readString())
    }

    /// The string at `offset` (its opening quote), unescaped and checked to be UTF-8.
    private func readString() throws(RegistryError) -> String {
        let start = offset + 1
        var index = start
        // Most strings have no escapes: they are made straight from the bytes.
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                offset = index + 1
                return try text(UnsafeBufferPointer(rebasing: bytes[start..<index]), at: start)
            }
            if byte == UInt8(ascii: "\\") { break }
            if byte < 0x20 {
                offset = index
                throw syntax("a control character in a string (escape it)")
            }
            index += 1
        }
        var unescaped = Array(bytes[start..<index])
        while index < bytes.count {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "\""):
                offset = index + 1
                return try unescaped.withUnsafeBufferPointer { buffer throws(RegistryError) in
                    try text(buffer, at: start)
                }
            case UInt8(ascii: "\\"):
                offset = index
                guard index + 1 < bytes.count else { throw syntax("the body ends inside a string") }
                let escape = bytes[index + 1]
                index += 2
                switch escape {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): unescaped.append(escape)
                case UInt8(ascii: "b"): unescaped.append(0x08)
                case UInt8(ascii: "f"): unescaped.append(0x0C)
                case UInt8(ascii: "n"): unescaped.append(0x0A)
                case UInt8(ascii: "r"): unescaped.append(0x0D)
                case UInt8(ascii: "t"): unescaped.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try hex4(at: index)
                    index += 4
                    if (0xD800..<0xDC00).contains(scalar) {
                        guard index + 6 <= bytes.count, bytes[index] == UInt8(ascii: "\\"),
                            bytes[index + 1] == UInt8(ascii: "u")
                        else { throw syntax("a lone UTF-16 surrogate in a \\u escape") }
                        let low = try hex4(at: index + 2)
                        guard (0xDC00..<0xE000).contains(low) else {
                            throw syntax("a lone UTF-16 surrogate in a \\u escape")
                        }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                        index += 6
                    }
                    guard scalar != 0 else {
                        throw RegistryError.invalid("The request body contains a NUL character (\\u0000) in a string.")
                    }
                    guard let character = Unicode.Scalar(scalar) else {
                        throw syntax("a lone UTF-16 surrogate in a \\u escape")
                    }
                    unescaped.append(contentsOf: UTF8.encode(character)!)
                default: throw syntax("an unknown escape in a string")
                }
            default:
                if byte < 0x20 {
                    offset = index
                    throw syntax("a control character in a string (escape it)")
                }
                unescaped.append(byte)
                index += 1
            }
        }
        offset = bytes.count
        throw syntax("the body ends inside a string")
    }

    private func hex4(at index: Int) throws(RegistryError) -> UInt32 {
        guard index + 4 <= bytes.count else { throw syntax("a short \\u escape") }
        var value: UInt32 = 0
        for byte in bytes[index..<index + 4] {
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw syntax("a \\u escape that is not four hexadecimal digits")
            }
            value = value << 4 | UInt32(digit)
        }
        return value
    }

    private func text(_ utf8: UnsafeBufferPointer<UInt8>, at start: Int) throws(RegistryError) -> String {
        // ASCII (names, URNs, versions: nearly every string of a report) is valid as it is; validating it cost
        // a sixth of reading a large report.
        if utf8.allSatisfy({ $0 < 0x80 }) { return String(decoding: utf8, as: UTF8.self) }
        guard let text = String(validating: utf8, as: UTF8.self) else {
            offset = start
            throw syntax("a string that is not UTF-8")
        }
        return text
    }

    // MARK: - Errors

    private func syntax(_ problem: String) -> RegistryError {
        RegistryError.invalid("Invalid request body: it is not valid JSON (\(problem) at byte \(offset)).")
    }

    private func mismatch(_ path: String, _ expected: String) -> RegistryError {
        let found =
            switch bytes[offset] {
            case UInt8(ascii: "\""): "a string"
            case UInt8(ascii: "{"): "an object"
            case UInt8(ascii: "["): "an array"
            case UInt8(ascii: "t"), UInt8(ascii: "f"): "a boolean"
            case UInt8(ascii: "n"): "null"
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): "a number"
            default: "text that is not JSON"
            }
        return RegistryError.invalid("Invalid request body: \(path) must be \(expected), not \(found).")
    }
}
