import Foundation

/// How a grid column's values compare.
public enum GridValueKind: Hashable, Sendable {
    case text, number, time
}

/// A column a grid request may filter, sort or group by. Its raw value is the JSON field name.
public protocol GridColumn: RawRepresentable<String>, CaseIterable, Hashable, Sendable {
    var valueKind: GridValueKind { get }
}

public enum GridOperator: String, CaseIterable, Hashable, Sendable {
    case equals, notEqual, contains, notContains, startsWith, endsWith, blank, notBlank
    case lessThan, lessThanOrEqual, greaterThan, greaterThanOrEqual
    /// A `set` filter: one of several values.
    case inSet

    static let forText: Set<GridOperator> = [
        .equals, .notEqual, .contains, .notContains, .startsWith, .endsWith, .blank, .notBlank, .inSet,
    ]
    static let forOrdered: Set<GridOperator> = [
        .equals, .notEqual, .lessThan, .lessThanOrEqual, .greaterThan, .greaterThanOrEqual, .blank, .notBlank, .inSet,
    ]
}

/// A comparison operand: text, or a number (times in milliseconds since 1970).
public enum GridOperand: Hashable, Sendable {
    case none
    case text(String)
    case number(Int64)
    case set([String])
}

public indirect enum GridFilter<Column: GridColumn>: Hashable, Sendable {
    case condition(Column, GridOperator, GridOperand)
    case all([GridFilter])
    case any([GridFilter])

    /// The columns the filter compares.
    public var columns: Set<Column> {
        switch self {
        case .condition(let column, _, _): [column]
        case .all(let parts), .any(let parts): parts.reduce(into: []) { $0.formUnion($1.columns) }
        }
    }

    /// The filter without its conditions on `column` (a filter menu lists a field's values whatever is chosen).
    public func removing(_ column: Column) -> GridFilter? {
        switch self {
        case .condition(let own, _, _): own == column ? nil : self
        case .all(let parts): .all(parts.compactMap { $0.removing(column) })
        case .any(let parts):
            parts.contains { $0.removing(column) == nil } ? nil : .any(parts.compactMap { $0.removing(column) })
        }
    }
}

/// The request of an AG Grid server-side row model, validated against one kind of row.
public struct GridQuery<Column: GridColumn>: Hashable, Sendable {
    public static var maxPage: Int { 1_000 }

    public var startRow: Int
    public var endRow: Int
    public var filter: GridFilter<Column>?
    public var sort: [GridSort<Column>]
    /// Grouped rows: the columns to group by, and the values of the groups already opened.
    public var groupBy: [Column]
    public var groupKeys: [String]

    public init(
        startRow: Int = 0, endRow: Int = 100, filter: GridFilter<Column>? = nil, sort: [GridSort<Column>] = [],
        groupBy: [Column] = [], groupKeys: [String] = []
    ) {
        self.startRow = startRow
        self.endRow = endRow
        self.filter = filter
        self.sort = sort
        self.groupBy = groupBy
        self.groupKeys = groupKeys
    }

    public var limit: Int { endRow - startRow }

    /// The column whose groups this request lists, when it asks for groups rather than rows.
    public var groupingColumn: Column? { groupKeys.count < groupBy.count ? groupBy[groupKeys.count] : nil }

    /// The filter with the opened groups' values as conditions.
    public var effectiveFilter: GridFilter<Column>? {
        let opened = zip(groupBy, groupKeys).map { GridFilter<Column>.condition($0, .inSet, .set([$1])) }
        guard !opened.isEmpty else { return filter }
        return .all((filter.map { [$0] } ?? []) + opened)
    }
}

public struct GridSort<Column: GridColumn>: Hashable, Sendable {
    public var column: Column
    public var ascending: Bool

    public init(_ column: Column, ascending: Bool) {
        self.column = column
        self.ascending = ascending
    }
}

/// A grid request as the client spells it.
public struct GridRequestInput: Sendable {
    public struct Condition: Sendable {
        public var colId: String?
        public var filterType: String?
        public var type: String?
        public var filter: String?
        public var conditions: [Condition]?

        public init(
            colId: String?, filterType: String?, type: String?, filter: String?, conditions: [Condition]?
        ) {
            self.colId = colId
            self.filterType = filterType
            self.type = type
            self.filter = filter
            self.conditions = conditions
        }
    }

    public var startRow: Int?
    public var endRow: Int?
    public var filter: Condition?
    public var sort: [(colId: String?, sort: String?)]
    public var groupBy: [String]
    public var groupKeys: [String]

    public init(
        startRow: Int? = nil, endRow: Int? = nil, filter: Condition? = nil,
        sort: [(colId: String?, sort: String?)] = [],
        groupBy: [String] = [], groupKeys: [String] = []
    ) {
        self.startRow = startRow
        self.endRow = endRow
        self.filter = filter
        self.sort = sort
        self.groupBy = groupBy
        self.groupKeys = groupKeys
    }
}

extension GridQuery {
    /// Validates a client's grid request; every problem names the field and what is accepted.
    public init(_ input: GridRequestInput, defaultSort: [GridSort<Column>]) throws(RegistryError) {
        let start = input.startRow ?? 0
        let end = input.endRow ?? (start + 100)
        guard start >= 0, end >= start else {
            throw Self.problem(
                "startRow", "startRow (\(start)) and endRow (\(end)) must satisfy 0 <= startRow <= endRow")
        }
        guard end - start <= Self.maxPage else {
            throw Self.problem("endRow", "a page holds at most \(Self.maxPage) rows, not \(end - start)")
        }
        var sort: [GridSort<Column>] = []
        for (index, item) in input.sort.enumerated() {
            let column = try Self.column(item.colId, at: "sortModel[\(index)].colId")
            switch item.sort?.lowercased() {
            case "asc": sort.append(GridSort(column, ascending: true))
            case "desc", nil: sort.append(GridSort(column, ascending: false))
            case let other?: throw Self.problem("sortModel[\(index)].sort", "'\(other)' is not asc or desc")
            }
        }
        var groupBy: [Column] = []
        for (index, name) in input.groupBy.enumerated() {
            groupBy.append(try Self.column(name, at: "rowGroupCols[\(index)]"))
        }
        guard input.groupKeys.count <= groupBy.count else {
            throw Self.problem("groupKeys", "there are more groupKeys than rowGroupCols")
        }
        var filter: GridFilter<Column>?
        if let condition = input.filter { filter = try Self.filter(condition, at: "filterModel") }
        self.init(
            startRow: start, endRow: end, filter: filter,
            sort: sort.isEmpty ? defaultSort : sort, groupBy: groupBy, groupKeys: input.groupKeys)
    }

    static func problem(_ field: String, _ message: String) -> RegistryError {
        RegistryError.invalid(
            "Invalid \(field): \(message).",
            details: [.init(resource: "request", attribute: field, errorType: .invalid)])
    }

    static func column(_ name: String?, at field: String) throws(RegistryError) -> Column {
        guard let name, let column = Column(rawValue: name) else {
            let known = Column.allCases.map(\.rawValue).joined(separator: ", ")
            throw problem(field, "'\(name ?? "")' is not a column; the columns are \(known)")
        }
        return column
    }

    static func filter(_ input: GridRequestInput.Condition, at field: String) throws(RegistryError) -> GridFilter<
        Column
    > {
        if let conditions = input.conditions, input.colId == nil {
            var parts: [GridFilter<Column>] = []
            for (index, condition) in conditions.enumerated() {
                parts.append(try filter(condition, at: "\(field).conditions[\(index)]"))
            }
            switch (input.type ?? "AND").uppercased() {
            case "AND": return .all(parts)
            case "OR": return .any(parts)
            default: throw problem("\(field).type", "'\(input.type ?? "")' is not AND or OR")
            }
        }
        let column = try self.column(input.colId, at: "\(field).colId")
        if input.filterType?.lowercased() == "set" {
            let values = (input.filter ?? "").split(separator: ",").map {
                String($0).trimmingCharacters(in: .whitespaces)
            }
            return .condition(column, .inSet, .set(values))
        }
        guard let name = input.type, let op = GridOperator(rawValue: name), op != .inSet else {
            throw problem("\(field).type", "'\(input.type ?? "")' is not a filter type")
        }
        let allowed = column.valueKind == .text ? GridOperator.forText : GridOperator.forOrdered
        guard allowed.contains(op) else {
            throw problem("\(field).type", "'\(name)' does not apply to \(column.rawValue)")
        }
        if op == .blank || op == .notBlank { return .condition(column, op, .none) }
        guard let value = input.filter else { throw problem("\(field).filter", "the filter needs a value") }
        switch column.valueKind {
        case .text: return .condition(column, op, .text(value))
        case .number:
            guard let number = Int64(value) else { throw problem("\(field).filter", "'\(value)' is not an integer") }
            return .condition(column, op, .number(number))
        case .time:
            guard let time = Self.parseTime(value) else {
                throw problem("\(field).filter", "'\(value)' is not an ISO 8601 date or time")
            }
            return .condition(column, op, .number(time.milliseconds))
        }
    }

    static func parseTime(_ text: String) -> Date? {
        let full = ISO8601DateFormatter()
        if let date = full.date(from: text) { return date }
        full.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = full.date(from: text) { return date }
        let day = ISO8601DateFormatter()
        day.formatOptions = [.withFullDate]
        if let date = day.date(from: String(text.prefix(10))) { return date }
        return nil
    }
}
