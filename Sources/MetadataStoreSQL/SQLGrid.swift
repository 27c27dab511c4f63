import PolicyHubCore
import SQLKit

/// Translates grid filters and sorts into SQL over a fixed map of columns to expressions. Values are always
/// bound, never spliced; only the expressions of the map are raw.
struct SQLGrid<Column: GridColumn> {
    let expression: @Sendable (Column) -> String

    /// `TRUE` when there is no filter, so it can always follow `AND`.
    func condition(_ filter: GridFilter<Column>?) -> SQLQueryString {
        guard let filter else { return "1 = 1" }
        switch filter {
        case .all(let parts):
            guard !parts.isEmpty else { return "1 = 1" }
            return "(" + parts.map { condition($0) }.joined(separator: " AND ") + ")"
        case .any(let parts):
            guard !parts.isEmpty else { return "1 = 0" }
            return "(" + parts.map { condition($0) }.joined(separator: " OR ") + ")"
        case .condition(let column, let op, let operand):
            return comparison(expression(column), column.valueKind, op, operand)
        }
    }

    private func comparison(_ column: String, _ kind: GridValueKind, _ op: GridOperator, _ operand: GridOperand)
        -> SQLQueryString
    {
        let value: any Encodable & Sendable
        switch operand {
        case .none: value = ""
        case .text(let text): value = text
        case .number(let number): value = number
        case .set(let values):
            guard !values.isEmpty else { return "1 = 0" }
            if kind == .text { return "\(unsafeRaw: column) IN (\(binds: values))" }
            let numbers = values.compactMap { Int64($0) }
            return numbers.isEmpty ? "1 = 0" : "\(unsafeRaw: column) IN (\(binds: numbers))"
        }
        let text: String
        if case .text(let operandText) = operand { text = operandText } else { text = "" }
        let lowered = "LOWER(\(column))"
        switch op {
        case .equals: return "\(unsafeRaw: column) = \(bind: value)"
        case .notEqual: return "\(unsafeRaw: column) <> \(bind: value)"
        case .lessThan: return "\(unsafeRaw: column) < \(bind: value)"
        case .lessThanOrEqual: return "\(unsafeRaw: column) <= \(bind: value)"
        case .greaterThan: return "\(unsafeRaw: column) > \(bind: value)"
        case .greaterThanOrEqual: return "\(unsafeRaw: column) >= \(bind: value)"
        case .contains: return "\(unsafeRaw: lowered) LIKE \(bind: "%\(Self.escape(text))%") ESCAPE '!'"
        case .notContains: return "\(unsafeRaw: lowered) NOT LIKE \(bind: "%\(Self.escape(text))%") ESCAPE '!'"
        case .startsWith: return "\(unsafeRaw: lowered) LIKE \(bind: "\(Self.escape(text))%") ESCAPE '!'"
        case .endsWith: return "\(unsafeRaw: lowered) LIKE \(bind: "%\(Self.escape(text))") ESCAPE '!'"
        case .blank:
            return kind == .text
                ? "(\(unsafeRaw: column) IS NULL OR \(unsafeRaw: column) = '')" : "\(unsafeRaw: column) IS NULL"
        case .notBlank:
            return kind == .text
                ? "(\(unsafeRaw: column) IS NOT NULL AND \(unsafeRaw: column) <> '')"
                : "\(unsafeRaw: column) IS NOT NULL"
        case .inSet: return "\(unsafeRaw: column) = \(bind: value)"
        }
    }

    /// A LIKE pattern matching `text` literally, lowercased (the column is lowercased too, so matching ignores
    /// case on both databases).
    static func escape(_ text: String) -> String {
        var escaped = ""
        for character in text.lowercased() {
            if character == "%" || character == "_" || character == "!" { escaped.append("!") }
            escaped.append(character)
        }
        return escaped
    }

    /// `ORDER BY` for the sorts, then `tieBreak` so that pages never overlap.
    func order(_ sorts: [GridSort<Column>], tieBreak: String) -> String {
        (sorts.map { "\(expression($0.column)) \($0.ascending ? "ASC" : "DESC")" } + [tieBreak])
            .joined(separator: ", ")
    }

    /// The expression as text, for grouping and value lists.
    func textExpression(_ column: Column) -> String {
        column.valueKind == .text ? expression(column) : "CAST(\(expression(column)) AS TEXT)"
    }
}
