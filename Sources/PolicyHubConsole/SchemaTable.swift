import PolicyHubCore

/// A policy's config schema as a reader wants it: one row per property, with its type, default and constraints.
struct SchemaTable {
    struct Row: Equatable {
        var name: String
        var type: String
        var defaultValue: String
        var constraints: [String]
        var required: Bool
        var description: String

        var view: [String: Any] {
            [
                "name": name, "type": type, "default": defaultValue, "constraints": constraints.joined(separator: "; "),
                "required": required, "description": description,
            ]
        }
    }

    var rows: [Row] = []

    init(_ schema: JSONValue?) {
        guard let members = schema?.objectValue, let properties = members["properties"]?.objectValue else { return }
        let required = Set(members["required"]?.arrayValue?.compactMap(\.stringValue) ?? [])
        rows = properties.keys.sorted().map { name in
            let property = properties[name]?.objectValue ?? [:]
            return Row(
                name: name, type: Self.type(of: property), defaultValue: property["default"].map(Self.text) ?? "",
                constraints: Self.constraints(of: property), required: required.contains(name),
                description: property["description"]?.stringValue ?? "")
        }
    }

    private static func type(of property: [String: JSONValue]) -> String {
        let base: String
        switch property["type"] {
        case .string(let name)?: base = name
        case .array(let names)?: base = names.compactMap(\.stringValue).joined(separator: " or ")
        default: base = property["enum"] != nil ? "enum" : "any"
        }
        if base == "array", let items = property["items"]?.objectValue {
            return "array of \(type(of: items))"
        }
        return base
    }

    private static func constraints(of property: [String: JSONValue]) -> [String] {
        var found: [String] = []
        if let values = property["enum"]?.arrayValue {
            found.append("one of " + values.map(text).joined(separator: ", "))
        }
        let bounds: [(String, String)] = [
            ("minimum", "≥"), ("exclusiveMinimum", ">"), ("maximum", "≤"), ("exclusiveMaximum", "<"),
            ("minLength", "length ≥"), ("maxLength", "length ≤"), ("minItems", "items ≥"), ("maxItems", "items ≤"),
        ]
        for (key, symbol) in bounds {
            if let value = property[key] { found.append("\(symbol) \(text(value))") }
        }
        if let pattern = property["pattern"]?.stringValue { found.append("matches \(pattern)") }
        if let format = property["format"]?.stringValue { found.append("format \(format)") }
        if property["uniqueItems"] == .bool(true) { found.append("unique items") }
        return found
    }

    /// A JSON value as it would be written in config.
    static func text(_ value: JSONValue) -> String {
        (try? value.encoded()) ?? value.typeName
    }
}
