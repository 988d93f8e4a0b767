/// A value bound to, or read from, a SQL statement; the common ground of PostgreSQL and SQLite.
public enum SQLValue: Sendable, Hashable {
    case null
    case integer(Int64)
    case double(Double)
    case text(String)
    case bool(Bool)
}

extension Optional where Wrapped == String {
    /// The text, or SQL NULL.
    var sql: SQLValue { map(SQLValue.text) ?? .null }
}

extension Optional where Wrapped == Int64 {
    /// The number, or SQL NULL.
    var sql: SQLValue { map(SQLValue.integer) ?? .null }
}

/// The column names of one result, shared by all its rows, so a row is an array rather than a dictionary.
public final class SQLColumns: Sendable {
    public let names: [String]
    let positions: [String: Int]

    public init(_ names: [String]) {
        self.names = names
        var positions: [String: Int] = [:]
        for (index, name) in names.enumerated() where positions[name] == nil { positions[name] = index }
        self.positions = positions
    }
}

/// One result row, read by column name.
public struct SQLRow: Sendable {
    public let columns: SQLColumns
    public let cells: [SQLValue]

    public init(columns: SQLColumns, cells: [SQLValue]) {
        precondition(columns.names.count == cells.count, "one value per column")
        self.columns = columns
        self.cells = cells
    }

    public init(values: [String: SQLValue]) {
        let names = values.keys.sorted()
        self.init(columns: SQLColumns(names), cells: names.map { values[$0]! })
    }

    func value(_ column: String) throws(StoreError) -> SQLValue {
        guard let index = columns.positions[column] else { throw StoreError.corrupt("missing column \(column)") }
        return cells[index]
    }

    public func text(_ column: String) throws(StoreError) -> String {
        switch try value(column) {
        case .text(let text): return text
        default: throw StoreError.corrupt("column \(column) is not text")
        }
    }

    public func optionalText(_ column: String) throws(StoreError) -> String? {
        switch try value(column) {
        case .null: return nil
        case .text(let text): return text
        default: throw StoreError.corrupt("column \(column) is not text")
        }
    }

    public func int(_ column: String) throws(StoreError) -> Int64 {
        switch try value(column) {
        case .integer(let value): return value
        case .double(let value) where value == value.rounded(): return Int64(value)
        default: throw StoreError.corrupt("column \(column) is not an integer")
        }
    }

    public func optionalInt(_ column: String) throws(StoreError) -> Int64? {
        if case .null = try value(column) { return nil }
        return try int(column)
    }

    public func double(_ column: String) throws(StoreError) -> Double {
        switch try value(column) {
        case .double(let value): return value
        case .integer(let value): return Double(value)
        default: throw StoreError.corrupt("column \(column) is not a number")
        }
    }

    public func bool(_ column: String) throws(StoreError) -> Bool {
        switch try value(column) {
        case .bool(let value): return value
        case .integer(let value): return value != 0
        default: throw StoreError.corrupt("column \(column) is not a boolean")
        }
    }
}
