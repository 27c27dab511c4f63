import Foundation
import Hummingbird
import PolicyHubCore

#if canImport(Glibc)
import Glibc
#endif

/// Names from the console's paths, validated as the API validates them.
enum PageName {
    static func organization(_ context: BasicRequestContext) throws -> Name {
        try Name(try context.parameters.require("org"), field: "organization")
    }

    static func pack(_ context: BasicRequestContext) throws -> Name {
        try Name(try context.parameters.require("pack"), field: "policy pack")
    }

    static func group(_ context: BasicRequestContext) throws -> Name {
        try Name(try context.parameters.require("group"), field: "policy group")
    }

    static func stack(_ context: BasicRequestContext) throws -> StackReference {
        StackReference(
            project: try Name(try context.parameters.require("project"), field: "project"),
            name: try Name(try context.parameters.require("stack"), field: "stack"))
    }
}

/// The console's addresses, built in one place so that every name in a path is escaped.
enum Links {
    static func queryEscaped(_ text: String) -> String {
        var allowed = CharacterSet.urlQueryAllowed
        allowed.remove(charactersIn: "&=+?#")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? ""
    }

    static func pathEscaped(_ text: String) -> String {
        var allowed = CharacterSet.urlPathAllowed
        allowed.remove(charactersIn: "/?#;")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? ""
    }

    static func organization(_ org: String) -> String { "/orgs/" + pathEscaped(org) }

    static func pack(_ org: String, _ pack: String, version: Int? = nil) -> String {
        organization(org) + "/packs/" + pathEscaped(pack) + (version.map { "?version=\($0)" } ?? "")
    }

    static func group(_ org: String, _ group: String) -> String {
        organization(org) + "/groups/" + pathEscaped(group)
    }

    static func stack(_ org: String, _ stack: StackReference) -> String {
        organization(org) + "/stacks/" + pathEscaped(stack.project) + "/"
            + pathEscaped(stack.name)
    }

    static func compliance(_ org: String) -> String { organization(org) + "/compliance" }
}

/// Which slice of a long list a page shows: `?page=N` (or another parameter, for a second list), 50 rows a page.
struct Paging {
    static let size = 50

    let number: Int
    let total: Int
    let parameter: String

    /// A page of a list of `total` rows: the one asked for, or the last.
    init(_ request: Request, total: Int, parameter: String = "page") {
        let last = max(1, (total + Self.size - 1) / Self.size)
        number = min(Self.asked(request, parameter: parameter), last)
        self.total = total
        self.parameter = parameter
    }

    /// The page asked for of a list the store pages, once the store has said how long it is.
    init(number: Int, total: Int) {
        self.number = number
        self.total = total
        parameter = "page"
    }

    static func asked(_ request: Request, parameter: String = "page") -> Int {
        // Bounded, so that no page number overflows the row arithmetic.
        min(max(1, request.uri.queryParameters[Substring(parameter)].flatMap { Int(String($0)) } ?? 1), 1_000_000)
    }

    /// The rows of page `number`.
    static func rows(ofPage number: Int) -> Range<Int> { (number - 1) * size..<number * size }

    var range: Range<Int> { min(total, (number - 1) * Self.size)..<min(total, number * Self.size) }

    /// The pager's links; `query` keeps the page's other parameters.
    func view(basePath: String, query: String = "") -> [String: Any] {
        let last = max(1, (total + Self.size - 1) / Self.size)
        func link(_ page: Int) -> String {
            basePath + "?" + query + (query.isEmpty ? "" : "&") + "\(parameter)=\(page)"
        }
        return [
            "number": number, "last": last, "show": last > 1,
            "previous": number > 1 ? link(number - 1) : "", "hasPrevious": number > 1,
            "next": number < last ? link(number + 1) : "", "hasNext": number < last,
        ]
    }
}

enum Formats {
    /// `2026-12-03 18:51:12 UTC`. By hand: a Foundation date formatter costs more to make than a page row.
    static func time(_ date: Date) -> String {
        var seconds = time_t(date.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        guard gmtime_r(&seconds, &parts) != nil else { return "" }
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday)) "
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) UTC"
    }

    static func bytes(_ size: Int64) -> String {
        if size < 1024 { return "\(size) B" }
        if size < 1 << 20 { return String(format: "%.1f KiB", Double(size) / 1024) }
        return String(format: "%.1f MiB", Double(size) / Double(1 << 20))
    }
}

/// The `<option>`s of a menu that may be long (every pack of an organization), written directly: a template
/// renders each value through several dynamic lookups, which at a thousand values is most of a page's time.
enum OptionList {
    static func html(_ values: [String], selected: String?, label: (String) -> String = { $0 }) -> String {
        var output: [UInt8] = []
        output.reserveCapacity(values.count * 48)
        for value in values {
            output.append(contentsOf: "<option value=\"".utf8)
            HTMLEscaping.appendEscaped(value, to: &output)
            output.append(contentsOf: (value == selected ? "\" selected>" : "\">").utf8)
            HTMLEscaping.appendEscaped(label(value), to: &output)
            output.append(contentsOf: "</option>".utf8)
        }
        return String(decoding: output, as: UTF8.self)
    }
}
