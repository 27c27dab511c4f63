import Foundation

/// One way in which a JSON instance breaks its schema.
public struct SchemaViolation: Hashable, Sendable {
    /// RFC 6901 JSON pointer into the validated instance, "" for the root, e.g. "/allowedAcls/1".
    public var pointer: String
    /// A short sentence, e.g. "must be one of \"private\", \"public-read\"" or "is required" or "must be at most 10".
    public var message: String

    public init(pointer: String, message: String) {
        self.pointer = pointer
        self.message = message
    }
}

/// Checks a policy config against the policy's `configSchema` and reports every violation at once.
///
/// Implements the draft 7 / 2020-12 keywords that policy config schemas use: `type`, `enum`, `const`,
/// `minimum`, `maximum`, `exclusiveMinimum`, `exclusiveMaximum` (numeric, and the draft 4 boolean form),
/// `minLength`, `maxLength`, `pattern`, `items` (schema or draft 7 tuple array), `minItems`, `maxItems`,
/// `uniqueItems`, `properties`, `patternProperties`, `required`, `additionalProperties`, and boolean schemas.
/// Every other keyword (`$ref`, `allOf`, `multipleOf`, ...) is ignored, so such schemas are checked more
/// leniently, never more strictly. A schema that is neither an object nor a boolean accepts everything.
///
/// Numbers compare by value across `.int` and `.double` (1 == 1.0). String lengths count Unicode scalars
/// (code points), as JSON Schema specifies, not Swift `Character`s. Patterns are searched, not anchored, with
/// `NSRegularExpression`, whose ICU syntax is close to but not exactly ECMA-262 (e.g. `\d` also matches
/// non-ASCII digits).
public struct JSONSchemaValidator: Sendable {
    private let schema: JSONValue

    public init(schema: JSONValue) {
        self.schema = schema
    }

    /// All violations, in document order (depth-first, object keys sorted). Empty means valid.
    public func validate(_ instance: JSONValue) -> [SchemaViolation] {
        var violations: [SchemaViolation] = []
        Self.check(instance, against: schema, at: Pointer(), into: &violations)
        return violations
    }
}

// MARK: - Walking the instance

extension JSONSchemaValidator {
    /// Applies one (sub)schema to one instance node and, through `properties` and `items`, to its children.
    private static func check(
        _ instance: JSONValue, against schema: JSONValue, at pointer: Pointer,
        into violations: inout [SchemaViolation]
    ) {
        switch schema {
        case .bool(false):
            violations.append(SchemaViolation(pointer: pointer.text, message: "is not allowed"))
        case .object(let keywords):
            check(instance, keywords: keywords, at: pointer, into: &violations)
        default:
            // `true`, and anything that is not a schema, accepts everything.
            break
        }
    }

    private static func check(
        _ instance: JSONValue, keywords: [String: JSONValue], at pointer: Pointer,
        into violations: inout [SchemaViolation]
    ) {
        // Once the type is wrong the other keywords say nothing useful about this node, nor its children.
        if let message = typeViolation(instance, keywords["type"]) {
            violations.append(SchemaViolation(pointer: pointer.text, message: message))
            return
        }
        var messages = valueViolations(instance, keywords)
        switch instance {
        case .int, .double:
            messages += numberViolations(instance, keywords)
        case .string(let text):
            messages += stringViolations(text, keywords)
        case .array(let items):
            messages += arrayViolations(items, keywords)
        case .object, .null, .bool:
            break
        }
        violations += messages.map { SchemaViolation(pointer: pointer.text, message: $0) }

        // Children come after their parent's own violations, which keeps the list in document order.
        switch instance {
        case .array(let items):
            checkItems(items, keywords, at: pointer, into: &violations)
        case .object(let members):
            checkMembers(members, keywords, at: pointer, into: &violations)
        default:
            break
        }
    }

    /// `items`: one schema for every element, or (draft 7) an array of schemas applied position by position.
    private static func checkItems(
        _ items: [JSONValue], _ keywords: [String: JSONValue], at pointer: Pointer,
        into violations: inout [SchemaViolation]
    ) {
        switch keywords["items"] {
        case .array(let schemas)?:
            for (index, (item, schema)) in zip(items, schemas).enumerated() {
                check(item, against: schema, at: pointer.appending(index), into: &violations)
            }
        case let schema?:
            for (index, item) in items.enumerated() {
                check(item, against: schema, at: pointer.appending(index), into: &violations)
            }
        case nil:
            break
        }
    }

    /// `properties`, `patternProperties`, `additionalProperties` and `required`, visiting keys in sorted order.
    private static func checkMembers(
        _ members: [String: JSONValue], _ keywords: [String: JSONValue], at pointer: Pointer,
        into violations: inout [SchemaViolation]
    ) {
        let properties = keywords["properties"]?.objectValue ?? [:]
        let required = keywords["required"]?.arrayValue?.compactMap(\.stringValue) ?? []
        let patterned = patternedSchemas(keywords["patternProperties"], at: pointer, into: &violations)
        let additional = keywords["additionalProperties"]

        // Missing required keys are reported where they would be, among the present ones.
        for key in Set(members.keys).union(required).sorted() {
            let memberPointer = pointer.appending(key)
            guard let value = members[key] else {
                violations.append(SchemaViolation(pointer: memberPointer.text, message: "is required"))
                continue
            }
            var isDeclared = false
            if let schema = properties[key] {
                check(value, against: schema, at: memberPointer, into: &violations)
                isDeclared = true
            }
            for (pattern, schema) in patterned where pattern.isFound(in: key) {
                check(value, against: schema, at: memberPointer, into: &violations)
                isDeclared = true
            }
            if !isDeclared, let additional {
                check(value, against: additional, at: memberPointer, into: &violations)
            }
        }
    }

    /// The compiled `patternProperties`, sorted by pattern; a pattern that does not compile is reported on the
    /// object. They matter because `additionalProperties` must not apply to keys they cover.
    private static func patternedSchemas(
        _ patternProperties: JSONValue?, at pointer: Pointer, into violations: inout [SchemaViolation]
    ) -> [(Pattern, JSONValue)] {
        let entries = (patternProperties?.objectValue ?? [:]).sorted { $0.key < $1.key }
        var compiled: [(Pattern, JSONValue)] = []
        for (source, schema) in entries {
            if let pattern = Pattern(source) {
                compiled.append((pattern, schema))
            } else {
                violations.append(SchemaViolation(pointer: pointer.text, message: invalidPatternMessage))
            }
        }
        return compiled
    }
}

// MARK: - Keywords on a single node

extension JSONSchemaValidator {
    private static let invalidPatternMessage = "has an invalid pattern in its schema"
    private static let atLeast: [ComparisonResult] = [.orderedSame, .orderedDescending]
    private static let atMost: [ComparisonResult] = [.orderedAscending, .orderedSame]

    /// `type`: a name or a list of names; "integer" also accepts doubles without a fractional part.
    private static func typeViolation(_ instance: JSONValue, _ type: JSONValue?) -> String? {
        let names: [String]
        switch type {
        case .string(let name)?: names = [name]
        case .array(let items)?: names = items.compactMap(\.stringValue)
        default: return nil
        }
        guard !names.isEmpty, !names.contains(where: { has(instance, type: $0) }) else { return nil }
        return "must be of type \(names.joined(separator: " or ")), not \(instance.typeName)"
    }

    /// Unknown type names match nothing, so a misspelt `type` shows up instead of silently accepting.
    private static func has(_ instance: JSONValue, type name: String) -> Bool {
        switch (name, instance) {
        case ("null", .null), ("boolean", .bool), ("string", .string), ("array", .array), ("object", .object),
            ("number", .int), ("number", .double), ("integer", .int):
            true
        case ("integer", .double(let value)):
            value.isFinite && value.rounded(.towardZero) == value
        default:
            false
        }
    }

    /// `enum` and `const`, which apply to every type.
    private static func valueViolations(_ instance: JSONValue, _ keywords: [String: JSONValue]) -> [String] {
        let allowed = keywords["enum"]?.arrayValue
        // `const: null` is a real constraint, distinct from no `const` at all.
        let constant = keywords["const"]
        // Canonicalising copies the whole subtree, so only pay for it when it is needed.
        guard allowed != nil || constant != nil else { return [] }
        var messages: [String] = []
        let value = Equality.canonical(instance)
        if let allowed, !allowed.contains(where: { Equality.canonical($0) == value }) {
            // An empty enum admits nothing; "must be one of" followed by nothing would read oddly.
            messages.append(
                allowed.isEmpty ? "is not allowed" : "must be one of " + allowed.map(render).joined(separator: ", "))
        }
        if let expected = constant, Equality.canonical(expected) != value {
            messages.append("must be equal to \(render(expected))")
        }
        return messages
    }

    private static func numberViolations(_ number: JSONValue, _ keywords: [String: JSONValue]) -> [String] {
        var messages: [String] = []
        // Draft 4 wrote exclusive bounds as a boolean flag beside `minimum` / `maximum`.
        let minimumIsExclusive = keywords["exclusiveMinimum"] == .bool(true)
        let maximumIsExclusive = keywords["exclusiveMaximum"] == .bool(true)
        if minimumIsExclusive, let bound = broken(number, keywords["minimum"], allowing: [.orderedDescending]) {
            messages.append("must be greater than \(render(bound))")
        } else if !minimumIsExclusive, let bound = broken(number, keywords["minimum"], allowing: atLeast) {
            messages.append("must be at least \(render(bound))")
        }
        if maximumIsExclusive, let bound = broken(number, keywords["maximum"], allowing: [.orderedAscending]) {
            messages.append("must be less than \(render(bound))")
        } else if !maximumIsExclusive, let bound = broken(number, keywords["maximum"], allowing: atMost) {
            messages.append("must be at most \(render(bound))")
        }
        // The draft 6+ numeric forms; a boolean bound is not a number, so `broken` skips it.
        if let bound = broken(number, keywords["exclusiveMinimum"], allowing: [.orderedDescending]) {
            messages.append("must be greater than \(render(bound))")
        }
        if let bound = broken(number, keywords["exclusiveMaximum"], allowing: [.orderedAscending]) {
            messages.append("must be less than \(render(bound))")
        }
        return messages
    }

    private static func stringViolations(_ text: String, _ keywords: [String: JSONValue]) -> [String] {
        var messages: [String] = []
        // JSON Schema measures strings in code points, so "é" written as e + U+0301 has length 2.
        let length = JSONValue.int(Int64(text.unicodeScalars.count))
        if let bound = broken(length, keywords["minLength"], allowing: atLeast) {
            messages.append("must be at least \(counted(bound, "character")) long")
        }
        if let bound = broken(length, keywords["maxLength"], allowing: atMost) {
            messages.append("must be at most \(counted(bound, "character")) long")
        }
        if case .string(let source)? = keywords["pattern"] {
            if let pattern = Pattern(source) {
                if !pattern.isFound(in: text) {
                    messages.append("must match the pattern \(render(.string(source)))")
                }
            } else {
                messages.append(invalidPatternMessage)
            }
        }
        return messages
    }

    private static func arrayViolations(_ items: [JSONValue], _ keywords: [String: JSONValue]) -> [String] {
        var messages: [String] = []
        let count = JSONValue.int(Int64(items.count))
        if let bound = broken(count, keywords["minItems"], allowing: atLeast) {
            messages.append("must have at least \(counted(bound, "item"))")
        }
        if let bound = broken(count, keywords["maxItems"], allowing: atMost) {
            messages.append("must have at most \(counted(bound, "item"))")
        }
        if keywords["uniqueItems"] == .bool(true), let (first, second) = Equality.firstDuplicate(in: items) {
            messages.append("must not contain duplicate items (items \(first) and \(second) are equal)")
        }
        return messages
    }

    /// The bound, when `value` compares to it in none of the `allowed` ways; nil when the bound holds, is absent,
    /// or is not a number.
    private static func broken(_ value: JSONValue, _ bound: JSONValue?, allowing allowed: [ComparisonResult])
        -> JSONValue?
    {
        guard let bound, let order = NumberOrder.compare(value, bound), !allowed.contains(order) else { return nil }
        return bound
    }

    /// "1 item", "3 items".
    private static func counted(_ bound: JSONValue, _ noun: String) -> String {
        let isOne = Equality.canonical(bound) == .int(1)
        return "\(render(bound)) \(isOne ? noun : noun + "s")"
    }

    /// Compact JSON for messages; values JSON cannot carry (NaN) fall back to their type name.
    private static func render(_ value: JSONValue) -> String {
        (try? value.encoded()) ?? value.typeName
    }
}

// MARK: - Helpers

extension JSONSchemaValidator {
    /// An RFC 6901 JSON pointer, built one reference token at a time.
    fileprivate struct Pointer {
        private(set) var text = ""

        func appending(_ index: Int) -> Pointer {
            Pointer(text: text + "/" + String(index))
        }

        func appending(_ key: String) -> Pointer {
            // "~" must become "~0" and "/" "~1"; scalar by scalar so nothing else is touched.
            var token = ""
            for scalar in key.unicodeScalars {
                switch scalar {
                case "~": token += "~0"
                case "/": token += "~1"
                default: token.unicodeScalars.append(scalar)
                }
            }
            return Pointer(text: text + "/" + token)
        }
    }

    /// Exact ordering of JSON numbers whatever mix of `.int` and `.double`, without rounding a large Int64.
    fileprivate enum NumberOrder {
        /// How `lhs` compares to `rhs`; nil when either is not a number, or is NaN.
        static func compare(_ lhs: JSONValue, _ rhs: JSONValue) -> ComparisonResult? {
            switch (lhs, rhs) {
            case (.int(let left), .int(let right)):
                order(left, right)
            case (.double(let left), .double(let right)):
                left.isNaN || right.isNaN ? nil : order(left, right)
            case (.int(let left), .double(let right)):
                compare(left, right)
            case (.double(let left), .int(let right)):
                compare(right, left).map(reversed)
            default:
                nil
            }
        }

        private static func compare(_ integer: Int64, _ double: Double) -> ComparisonResult? {
            guard !double.isNaN else { return nil }
            // 2^63 is exact as a Double; outside [-2^63, 2^63) no Int64 can be equal, and infinities land here.
            if double >= 9_223_372_036_854_775_808.0 { return .orderedAscending }
            if double < -9_223_372_036_854_775_808.0 { return .orderedDescending }
            let whole = double.rounded(.down)
            guard let wholeInteger = Int64(exactly: whole) else { return nil }
            if integer != wholeInteger { return order(integer, wholeInteger) }
            return whole == double ? .orderedSame : .orderedAscending
        }

        private static func order<T: Comparable>(_ lhs: T, _ rhs: T) -> ComparisonResult {
            lhs < rhs ? .orderedAscending : lhs == rhs ? .orderedSame : .orderedDescending
        }

        private static func reversed(_ order: ComparisonResult) -> ComparisonResult {
            switch order {
            case .orderedAscending: .orderedDescending
            case .orderedSame: .orderedSame
            case .orderedDescending: .orderedAscending
            }
        }
    }

    /// JSON Schema equality, where numbers are equal by value (1 == 1.0), for `enum`, `const` and `uniqueItems`.
    fileprivate enum Equality {
        /// Integral doubles become ints, so `==` and hashing of the results follow JSON Schema equality.
        /// Strings keep Swift's comparison, which treats canonically equivalent spellings as equal.
        static func canonical(_ value: JSONValue) -> JSONValue {
            switch value {
            case .double(let number):
                if let integer = Int64(exactly: number) { .int(integer) } else { value }
            case .array(let items):
                .array(items.map(canonical))
            case .object(let members):
                .object(members.mapValues(canonical))
            case .null, .bool, .int, .string:
                value
            }
        }

        /// The indices of the first pair of equal items, found by hashing rather than comparing every pair.
        static func firstDuplicate(in items: [JSONValue]) -> (Int, Int)? {
            var firstIndex: [JSONValue: Int] = [:]
            for (index, item) in items.enumerated() {
                let key = canonical(item)
                if let earlier = firstIndex[key] { return (earlier, index) }
                firstIndex[key] = index
            }
            return nil
        }
    }

    /// A schema `pattern`, compiled by ICU (close to ECMA-262), which may match anywhere in the string.
    fileprivate struct Pattern {
        private let expression: NSRegularExpression

        /// Nil when the pattern does not compile, which is the schema's fault and must not crash the caller.
        init?(_ source: String) {
            guard let expression = try? NSRegularExpression(pattern: source) else { return nil }
            self.expression = expression
        }

        func isFound(in text: String) -> Bool {
            let whole = NSRange(text.startIndex..<text.endIndex, in: text)
            return expression.firstMatch(in: text, range: whole) != nil
        }
    }
}
