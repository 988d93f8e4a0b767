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

/// One result row, by column name.
public struct SQLRow: Sendable {
    public var values: [String: SQLValue]

    public init(values: [String: SQLValue]) {
        self.values = values
    }

    func value(_ column: String) throws(StoreError) -> SQLValue {
        guard let value = values[column] else { throw StoreError.corrupt("missing column \(column)") }
        return value
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
