import PolicyHubCore
import Testing

extension JSONSchemaValidatorTests {
    /// One schema, one instance, and the exact pointers the validator must report, in order.
    struct SchemaCase: Sendable, CustomTestStringConvertible {
        let name: String
        let schema: JSONValue
        let instance: JSONValue
        let pointers: [String]

        init(_ name: String, _ schema: JSONValue, _ instance: JSONValue, _ pointers: [String]) {
            self.name = name
            self.schema = schema
            self.instance = instance
            self.pointers = pointers
        }

        var testDescription: String { name }
    }
}

private func violations(_ schema: JSONValue, _ instance: JSONValue) -> [SchemaViolation] {
    JSONSchemaValidator(schema: schema).validate(instance)
}

private func expectPointers(
    _ testCase: JSONSchemaValidatorTests.SchemaCase, sourceLocation: SourceLocation = #_sourceLocation
) {
    let reported = violations(testCase.schema, testCase.instance)
    #expect(reported.map(\.pointer) == testCase.pointers, "\(reported)", sourceLocation: sourceLocation)
}

/// The config schema of a realistic Pulumi policy: an S3 ACL allow-list and a size limit with a default.
private let bucketPolicySchema: JSONValue = [
    "type": "object",
    "properties": [
        "allowedAcls": [
            "type": "array",
            "items": ["type": "string", "enum": ["private", "public-read"]],
            "minItems": 1,
            "uniqueItems": true,
        ],
        "maxSize": ["type": "integer", "minimum": 1, "maximum": 100, "default": 10],
    ],
    "required": ["allowedAcls"],
]

@Suite("JSONSchemaValidator")
struct JSONSchemaValidatorTests {
    static let typeCases: [SchemaCase] = [
        SchemaCase("string accepts a string", ["type": "string"], "a", []),
        SchemaCase("string rejects an integer", ["type": "string"], 1, [""]),
        SchemaCase("null accepts null", ["type": "null"], nil, []),
        SchemaCase("null rejects zero", ["type": "null"], 0, [""]),
        SchemaCase("boolean accepts true", ["type": "boolean"], true, []),
        SchemaCase("boolean rejects the string true", ["type": "boolean"], "true", [""]),
        SchemaCase("object accepts an object", ["type": "object"], [:], []),
        SchemaCase("object rejects an array", ["type": "object"], [], [""]),
        SchemaCase("array accepts an array", ["type": "array"], [], []),
        SchemaCase("array rejects an object", ["type": "array"], [:], [""]),
        SchemaCase("number accepts an integer", ["type": "number"], 1, []),
        SchemaCase("number accepts a double", ["type": "number"], .double(1.5), []),
        SchemaCase("number rejects a string", ["type": "number"], "1", [""]),
        SchemaCase("integer accepts an integer", ["type": "integer"], 1, []),
        SchemaCase("integer accepts 1.0", ["type": "integer"], .double(1.0), []),
        SchemaCase("integer rejects 1.5", ["type": "integer"], .double(1.5), [""]),
        SchemaCase("integer rejects infinity", ["type": "integer"], .double(.infinity), [""]),
        SchemaCase("a list accepts any listed type", ["type": ["string", "null"]], nil, []),
        SchemaCase("a list rejects an unlisted type", ["type": ["string", "null"]], 1, [""]),
        SchemaCase("an unknown type name matches nothing", ["type": "text"], "a", [""]),
        SchemaCase("a non-string type is ignored", ["type": 5], "a", []),
        SchemaCase("an empty type list is ignored", ["type": []], "a", []),
        SchemaCase(
            "a wrong type stops the other checks at that node",
            ["type": "string", "minLength": 5, "enum": ["abcdef"], "pattern": "^x"], 1, [""]),
        SchemaCase(
            "a wrong type does not visit children",
            ["type": "array", "properties": ["a": false]], ["a": 1], [""]),
    ]

    static let propertiesCases: [SchemaCase] = [
        SchemaCase(
            "nested objects and arrays are walked",
            ["properties": ["a": ["properties": ["b": ["type": "array", "items": ["type": "integer"]]]]]],
            ["a": ["b": [1, 2, "x"]]], ["/a/b/2"]),
        SchemaCase(
            "a valid nested instance",
            ["properties": ["a": ["properties": ["b": ["type": "array", "items": ["type": "integer"]]]]]],
            ["a": ["b": [1, 2, 3]]], []),
        SchemaCase("absent properties are not checked", ["properties": ["a": ["type": "string"]]], [:], []),
        SchemaCase("properties ignore non-objects", ["properties": ["a": ["type": "string"]]], [1], []),
        SchemaCase(
            "pointer tokens escape ~ and /",
            ["properties": ["a/b": ["type": "string"], "m~n": ["type": "string"]]], ["a/b": 1, "m~n": 2],
            ["/a~1b", "/m~0n"]),
        SchemaCase(
            "properties named like keywords are plain properties",
            ["properties": ["type": ["type": "string"], "default": ["type": "integer"]]], ["type": 1, "default": "x"],
            ["/default", "/type"]),
        SchemaCase(
            "a non-object properties keyword is ignored", ["properties": ["a", "b"]], ["a": 1], []),
    ]

    static let requiredCases: [SchemaCase] = [
        SchemaCase("a present property is fine", ["required": ["name"]], ["name": nil], []),
        SchemaCase("a missing property is reported where it would be", ["required": ["name"]], [:], ["/name"]),
        SchemaCase("required ignores non-objects", ["required": ["name"]], "name", []),
        SchemaCase(
            "missing and present keys interleave in sorted order",
            ["properties": ["a": ["type": "string"], "c": ["type": "string"]], "required": ["b", "d"]],
            ["a": 1, "c": 2], ["/a", "/b", "/c", "/d"]),
        SchemaCase("a missing key is escaped", ["required": ["x/y"]], [:], ["/x~1y"]),
        SchemaCase("non-string names are ignored", ["required": [1, "a"]], [:], ["/a"]),
        SchemaCase("a repeated name is reported once", ["required": ["a", "a"]], [:], ["/a"]),
    ]

    static let additionalPropertiesCases: [SchemaCase] = [
        SchemaCase(
            "false rejects undeclared keys", ["properties": ["a": [:]], "additionalProperties": false],
            ["a": 1, "b": 2, "c": 3], ["/b", "/c"]),
        SchemaCase(
            "false accepts declared keys", ["properties": ["a": [:]], "additionalProperties": false], ["a": 1], []),
        SchemaCase(
            "a schema applies to undeclared keys only",
            ["properties": ["a": [:]], "additionalProperties": ["type": "string"]], ["a": 1, "b": 2, "c": "x"],
            ["/b"]),
        SchemaCase("true accepts anything", ["additionalProperties": true], ["b": 2], []),
        SchemaCase(
            "keys covered by patternProperties are not additional",
            ["patternProperties": ["^x-": ["type": "string"]], "additionalProperties": false],
            ["x-a": "1", "x-b": 2, "y": 3], ["/x-b", "/y"]),
        SchemaCase(
            "properties and patternProperties both apply to a key",
            ["properties": ["x-a": ["minLength": 2]], "patternProperties": ["^x-": ["type": "string"]]],
            ["x-a": 1], ["/x-a"]),
        SchemaCase(
            "an invalid patternProperties pattern is reported on the object",
            ["patternProperties": ["(": [:]], "additionalProperties": false], ["a": 1], ["", "/a"]),
    ]

    static let enumCases: [SchemaCase] = [
        SchemaCase("a listed value", ["enum": ["a", "b"]], "a", []),
        SchemaCase("an unlisted value", ["enum": ["a", "b"]], "c", [""]),
        SchemaCase("numbers compare by value", ["enum": [1, "1"]], .double(1.0), []),
        SchemaCase("a string is not a number", ["enum": [1]], "1", [""]),
        SchemaCase("null can be listed", ["enum": [nil, 1]], nil, []),
        SchemaCase("objects compare deeply", ["enum": [["a": [1]]]], ["a": [.double(1.0)]], []),
        SchemaCase("arrays compare in order", ["enum": [[1, 2]]], [2, 1], [""]),
        SchemaCase("an empty enum rejects everything", ["enum": []], 1, [""]),
        SchemaCase("a non-array enum is ignored", ["enum": "a"], "b", []),
    ]

    static let constCases: [SchemaCase] = [
        SchemaCase("the constant", ["const": "x"], "x", []),
        SchemaCase("another value", ["const": "x"], "y", [""]),
        SchemaCase("const null accepts null", ["const": nil], nil, []),
        SchemaCase("const null is a real constraint", ["const": nil], 0, [""]),
        SchemaCase("numbers compare by value, deeply", ["const": ["a": [1]]], ["a": [.double(1.0)]], []),
        SchemaCase("false is not zero", ["const": false], 0, [""]),
    ]

    static let boundCases: [SchemaCase] = [
        SchemaCase("minimum at the boundary", ["minimum": 1], 1, []),
        SchemaCase("below minimum", ["minimum": 1], 0, [""]),
        SchemaCase("a double below an integer minimum", ["minimum": 1], .double(0.5), [""]),
        SchemaCase("maximum at the boundary", ["maximum": 10], .double(10.0), []),
        SchemaCase("above maximum", ["maximum": 10], .double(10.5), [""]),
        SchemaCase("an integer above a double maximum", ["maximum": .double(9.5)], 10, [""]),
        SchemaCase(
            "Int64.max is below 2^63 as a double", ["maximum": .double(9_223_372_036_854_775_808.0)],
            .int(.max), []),
        SchemaCase(
            "Int64.max is above the largest double below 2^63",
            ["maximum": .double(9_223_372_036_854_774_784.0)], .int(.max), [""]),
        SchemaCase("Int64.min against minus infinity", ["minimum": .double(-.infinity)], .int(.min), []),
        SchemaCase("bounds ignore strings", ["minimum": 5], "a", []),
        SchemaCase("a non-number bound is ignored", ["minimum": "5"], 1, []),
        SchemaCase("several bounds fail together", ["minimum": 5, "exclusiveMinimum": 5], 4, ["", ""]),
    ]

    static let exclusiveBoundCases: [SchemaCase] = [
        SchemaCase("exclusiveMinimum excludes the boundary", ["exclusiveMinimum": 0], 0, [""]),
        SchemaCase("just above exclusiveMinimum", ["exclusiveMinimum": 0], .double(0.001), []),
        SchemaCase("exclusiveMaximum excludes the boundary", ["exclusiveMaximum": 10], .double(10.0), [""]),
        SchemaCase("just below exclusiveMaximum", ["exclusiveMaximum": 10], 9, []),
        SchemaCase("a double exclusiveMaximum", ["exclusiveMaximum": .double(10.5)], 10, []),
        SchemaCase(
            "a double exclusiveMaximum at the boundary", ["exclusiveMaximum": .double(10.5)], .double(10.5), [""]),
        SchemaCase("draft 4 exclusive minimum at the boundary", ["minimum": 0, "exclusiveMinimum": true], 0, [""]),
        SchemaCase("draft 4 exclusive minimum above", ["minimum": 0, "exclusiveMinimum": true], 1, []),
        SchemaCase("draft 4 exclusive maximum at the boundary", ["maximum": 10, "exclusiveMaximum": true], 10, [""]),
        SchemaCase("draft 4 inclusive maximum", ["maximum": 10, "exclusiveMaximum": false], 10, []),
        SchemaCase("a boolean flag alone is no bound", ["exclusiveMinimum": true], -5, []),
    ]

    static let lengthCases: [SchemaCase] = [
        SchemaCase("minLength at the boundary", ["minLength": 2], "ab", []),
        SchemaCase("below minLength", ["minLength": 2], "a", [""]),
        SchemaCase("above maxLength", ["maxLength": 2], "abc", [""]),
        SchemaCase("an emoji is one code point", ["maxLength": 1], "😀", []),
        SchemaCase("a combining accent is a second code point", ["maxLength": 1], "e\u{301}", [""]),
        SchemaCase("a flag is two code points", ["minLength": 2, "maxLength": 2], "🇫🇷", []),
        SchemaCase("lengths ignore numbers", ["maxLength": 1], 12345, []),
        SchemaCase("a negative minLength always holds", ["minLength": -1], "", []),
    ]

    static let patternCases: [SchemaCase] = [
        SchemaCase("a match", ["pattern": "^[a-z]+$"], "abc", []),
        SchemaCase("no match", ["pattern": "^[a-z]+$"], "aBc", [""]),
        SchemaCase("the search is unanchored", ["pattern": "b"], "abc", []),
        SchemaCase("unicode letters match \\p{L}", ["pattern": "^\\p{L}+$"], "héllo日本語", []),
        SchemaCase("a digit is not a letter", ["pattern": "^\\p{L}+$"], "h3llo", [""]),
        SchemaCase("a literal non-ASCII pattern", ["pattern": "^é+$"], "éé", []),
        SchemaCase("matching after an astral character", ["pattern": "x$"], "😀x", []),
        SchemaCase("an invalid pattern is a violation", ["pattern": "("], "x", [""]),
        SchemaCase("patterns ignore non-strings", ["pattern": "("], 1, []),
        SchemaCase("a non-string pattern is ignored", ["pattern": 1], "x", []),
    ]

    static let itemsCases: [SchemaCase] = [
        SchemaCase("every item matches", ["items": ["type": "string"]], ["a", "b"], []),
        SchemaCase("every bad item is reported", ["items": ["type": "string"]], ["a", 1, "b", 2], ["/1", "/3"]),
        SchemaCase(
            "a tuple checks positions", ["items": [["type": "string"], ["type": "integer"]]], ["a", 1, true], []),
        SchemaCase(
            "a tuple reports positions", ["items": [["type": "string"], ["type": "integer"]]], [1, "a"],
            ["/0", "/1"]),
        SchemaCase("items false rejects any item", ["items": false], [1, 2], ["/0", "/1"]),
        SchemaCase("items false accepts an empty array", ["items": false], [], []),
        SchemaCase("items ignores non-arrays", ["items": ["type": "string"]], ["0": 1], []),
    ]

    static let itemCountCases: [SchemaCase] = [
        SchemaCase("minItems at the boundary", ["minItems": 1], [1], []),
        SchemaCase("below minItems", ["minItems": 1], [], [""]),
        SchemaCase("maxItems at the boundary", ["maxItems": 1], [1], []),
        SchemaCase("above maxItems", ["maxItems": 1], [1, 2], [""]),
        SchemaCase("a double count bound", ["maxItems": .double(1.0)], [1, 2], [""]),
    ]

    static let uniqueItemsCases: [SchemaCase] = [
        SchemaCase("distinct items", ["uniqueItems": true], [1, 2, "1"], []),
        SchemaCase("1 and 1.0 are equal", ["uniqueItems": true], [1, .double(1.0)], [""]),
        SchemaCase("equal objects", ["uniqueItems": true], [["a": 1], ["a": .double(1.0)]], [""]),
        SchemaCase("arrays in different order differ", ["uniqueItems": true], [[1, 2], [2, 1]], []),
        SchemaCase("false allows duplicates", ["uniqueItems": false], [1, 1], []),
        SchemaCase("true and 1 differ", ["uniqueItems": true], [true, 1], []),
    ]

    static let defaultCases: [SchemaCase] = [
        SchemaCase("default is not a constraint", ["default": "x"], 1, []),
        SchemaCase(
            "a default outside the bounds is never checked", ["type": "integer", "maximum": 10, "default": 1000], 5, []
        ),
        SchemaCase(
            "a default does not fill a missing property",
            ["properties": ["size": ["type": "integer", "default": "ten"]]], [:], []),
        SchemaCase(
            "a default does not satisfy required", ["properties": ["size": ["default": 10]], "required": ["size"]],
            [:], ["/size"]),
        SchemaCase(
            "a default that looks like a schema is not one", ["default": ["type": "string", "minLength": 99]], 1, []),
    ]

    static let booleanSchemaCases: [SchemaCase] = [
        SchemaCase("true accepts anything", true, ["a": [1, nil]], []),
        SchemaCase("false rejects anything", false, nil, [""]),
        SchemaCase("a false property rejects it when present", ["properties": ["a": false]], ["a": 1], ["/a"]),
        SchemaCase("a false property accepts its absence", ["properties": ["a": false]], [:], []),
        SchemaCase("an empty schema accepts anything", [:], [1, "x"], []),
        SchemaCase("a number is not a schema and accepts anything", 5, "x", []),
        SchemaCase("a string is not a schema and accepts anything", "string", 1, []),
        SchemaCase("a nested non-schema accepts anything", ["properties": ["a": 5], "items": nil], ["a": 1], []),
    ]

    static let pulumiCases: [SchemaCase] = [
        SchemaCase("a valid config", bucketPolicySchema, ["allowedAcls": ["private"], "maxSize": 10], []),
        SchemaCase("maxSize may be omitted", bucketPolicySchema, ["allowedAcls": ["private", "public-read"]], []),
        SchemaCase(
            "an integral double maxSize", bucketPolicySchema, ["allowedAcls": ["private"], "maxSize": .double(100.0)],
            []),
        SchemaCase("allowedAcls is required", bucketPolicySchema, [:], ["/allowedAcls"]),
        SchemaCase("the config must be an object", bucketPolicySchema, ["private"], [""]),
        SchemaCase(
            "every problem at once", bucketPolicySchema,
            ["allowedAcls": ["private", "public-write", "private", 3], "maxSize": .double(1.5)],
            ["/allowedAcls", "/allowedAcls/1", "/allowedAcls/3", "/maxSize"]),
        SchemaCase(
            "empty list and too large", bucketPolicySchema, ["allowedAcls": [], "maxSize": 101],
            ["/allowedAcls", "/maxSize"]),
        SchemaCase(
            "extra keys are allowed without additionalProperties", bucketPolicySchema,
            ["allowedAcls": ["private"], "other": true], []),
    ]

    @Test("type", arguments: typeCases) func type(_ testCase: SchemaCase) { expectPointers(testCase) }
    @Test("properties", arguments: propertiesCases) func properties(_ testCase: SchemaCase) { expectPointers(testCase) }
    @Test("required", arguments: requiredCases) func required(_ testCase: SchemaCase) { expectPointers(testCase) }
    @Test("additionalProperties", arguments: additionalPropertiesCases)
    func additionalProperties(_ testCase: SchemaCase) { expectPointers(testCase) }
    @Test("enum", arguments: enumCases) func enumKeyword(_ testCase: SchemaCase) { expectPointers(testCase) }
    @Test("const", arguments: constCases) func const(_ testCase: SchemaCase) { expectPointers(testCase) }
    @Test("minimum and maximum", arguments: boundCases) func bounds(_ testCase: SchemaCase) { expectPointers(testCase) }
    @Test("exclusiveMinimum and exclusiveMaximum", arguments: exclusiveBoundCases)
    func exclusiveBounds(_ testCase: SchemaCase) { expectPointers(testCase) }
    @Test("minLength and maxLength", arguments: lengthCases) func lengths(_ testCase: SchemaCase) {
        expectPointers(testCase)
    }
    @Test("pattern", arguments: patternCases) func pattern(_ testCase: SchemaCase) { expectPointers(testCase) }
    @Test("items", arguments: itemsCases) func items(_ testCase: SchemaCase) { expectPointers(testCase) }
    @Test("minItems and maxItems", arguments: itemCountCases) func itemCounts(_ testCase: SchemaCase) {
        expectPointers(testCase)
    }
    @Test("uniqueItems", arguments: uniqueItemsCases) func uniqueItems(_ testCase: SchemaCase) {
        expectPointers(testCase)
    }
    @Test("default", arguments: defaultCases) func defaultKeyword(_ testCase: SchemaCase) { expectPointers(testCase) }
    @Test("boolean schemas", arguments: booleanSchemaCases) func booleanSchemas(_ testCase: SchemaCase) {
        expectPointers(testCase)
    }
    @Test("a Pulumi policy config", arguments: pulumiCases) func pulumiConfig(_ testCase: SchemaCase) {
        expectPointers(testCase)
    }

    // MARK: - Messages

    @Test func everyViolationOfAPulumiConfigIsReportedWithItsMessage() {
        let config: JSONValue = ["allowedAcls": ["private", "public-write", "private"], "maxSize": 0]
        #expect(
            violations(bucketPolicySchema, config) == [
                SchemaViolation(
                    pointer: "/allowedAcls", message: "must not contain duplicate items (items 0 and 2 are equal)"),
                SchemaViolation(pointer: "/allowedAcls/1", message: "must be one of \"private\", \"public-read\""),
                SchemaViolation(pointer: "/maxSize", message: "must be at least 1"),
            ])
    }

    @Test func missingAndMistypedMembersHaveTheirMessages() {
        #expect(
            violations(bucketPolicySchema, ["allowedAcls": [], "maxSize": .double(1.5)]) == [
                SchemaViolation(pointer: "/allowedAcls", message: "must have at least 1 item"),
                SchemaViolation(pointer: "/maxSize", message: "must be of type integer, not number"),
            ])
        #expect(
            violations(bucketPolicySchema, [:]) == [SchemaViolation(pointer: "/allowedAcls", message: "is required")])
    }

    @Test func theSchemaAndConfigCanArriveAsJSONText() throws {
        let schemaText = """
            {"type":"object","properties":{"allowedAcls":{"type":"array","items":{"type":"string",\
            "enum":["private","public-read"]},"minItems":1,"uniqueItems":true},"maxSize":{"type":"integer",\
            "minimum":1,"maximum":100,"default":10}},"required":["allowedAcls"]}
            """
        let schema = try JSONValue(jsonText: schemaText)
        #expect(schema == bucketPolicySchema)
        let validator = JSONSchemaValidator(schema: schema)
        #expect(validator.validate(try JSONValue(jsonText: #"{"allowedAcls":["private"],"maxSize":1.0}"#)) == [])
        let config = try JSONValue(jsonText: #"{"allowedAcls":["private",7],"maxSize":1e3,"x":{}}"#)
        #expect(validator.validate(config).map(\.pointer) == ["/allowedAcls/1", "/maxSize"])
    }

    @Test func severalViolationsAtOneNodeAreAllReported() {
        let schema: JSONValue = ["type": "string", "minLength": 3, "pattern": "^[a-z]+$", "enum": ["abc"]]
        #expect(
            violations(schema, "A").map(\.message) == [
                "must be one of \"abc\"", "must be at least 3 characters long", "must match the pattern \"^[a-z]+$\"",
            ])
    }

    @Test func boundMessages() {
        #expect(violations(["maximum": 10], 11).map(\.message) == ["must be at most 10"])
        #expect(violations(["exclusiveMinimum": 0], 0).map(\.message) == ["must be greater than 0"])
        #expect(violations(["exclusiveMaximum": .double(2.5)], 3).map(\.message) == ["must be less than 2.5"])
        #expect(violations(["maximum": 10, "exclusiveMaximum": true], 10).map(\.message) == ["must be less than 10"])
        #expect(violations(["maxLength": 1], "ab").map(\.message) == ["must be at most 1 character long"])
        #expect(violations(["maxItems": 2], [1, 2, 3]).map(\.message) == ["must have at most 2 items"])
    }

    @Test func typeAndSchemaMessages() {
        #expect(
            violations(["type": ["string", "null"]], 1).map(\.message) == [
                "must be of type string or null, not integer"
            ])
        #expect(violations(false, 1).map(\.message) == ["is not allowed"])
        #expect(violations(["additionalProperties": false], ["b": 1]).map(\.message) == ["is not allowed"])
        #expect(violations(["const": ["a": nil]], 1).map(\.message) == ["must be equal to {\"a\":null}"])
        #expect(violations(["enum": []], 1).map(\.message) == ["is not allowed"])
        #expect(
            violations(["uniqueItems": true], [1, .double(1.0)]).map(\.message) == [
                "must not contain duplicate items (items 0 and 1 are equal)"
            ])
    }

    @Test func anInvalidPatternIsReportedNotThrown() {
        #expect(
            violations(["pattern": "[a-"], "x") == [
                SchemaViolation(pointer: "", message: "has an invalid pattern in its schema")
            ])
    }

    @Test func violationsComeInDocumentOrder() {
        let schema: JSONValue = [
            "type": "object",
            "properties": [
                "b": ["type": "array", "maxItems": 1, "items": ["properties": ["x": ["type": "string"]]]],
                "a": ["type": "string"],
            ],
            "required": ["c"],
            "additionalProperties": ["type": "integer"],
        ]
        let instance: JSONValue = ["z": "no", "b": [["x": 1], ["x": "ok"], ["x": 2]], "a": 1]
        #expect(violations(schema, instance).map(\.pointer) == ["/a", "/b", "/b/0/x", "/b/2/x", "/c", "/z"])
    }

    @Test func nothingCrashesOnOddSchemasOrInstances() {
        let schema: JSONValue = [
            "type": ["number", 3], "minimum": .double(.nan), "maximum": .double(.infinity), "minLength": .double(1e300),
            "maxItems": -1, "items": 3, "required": "a", "properties": "a", "uniqueItems": "yes", "pattern": nil,
            "enum": [.double(.nan)], "const": .double(.nan),
        ]
        for instance: JSONValue in [.double(.nan), .double(-.infinity), .int(.min), .int(.max), "x", [], [:], nil] {
            _ = violations(schema, instance)
        }
        #expect(violations(["maximum": .double(.nan)], .double(.nan)).isEmpty)
        #expect(violations(["enum": [.double(.nan)]], .double(.nan)).map(\.message) == ["must be one of number"])
    }

    @Test func deeplyNestedInstancesValidate() {
        var schema: JSONValue = ["type": "integer"]
        var instance: JSONValue = "deep"
        var pointer = ""
        for _ in 0..<200 {
            schema = ["items": schema]
            instance = [instance]
            pointer += "/0"
        }
        #expect(violations(schema, instance).map(\.pointer) == [pointer])
    }
}
