import Foundation
import Yams

/// Reads a YAML configuration document node by node and collects every problem with its line and field,
/// instead of stopping at the first one.
///
/// Typed readers (`PierEdge`'s edge config, for example) walk the tree through ``ConfigValue`` and
/// ``ConfigMapping``; each accessor reports a diagnostic and returns `nil` when the value is unusable, so a
/// single pass finds all errors.
public final class ConfigReader {
    /// The file path as the user gave it, used in every diagnostic.
    public let file: String
    /// The problems found so far, in the order they were found.
    public private(set) var diagnostics: [ConfigDiagnostic] = []

    public init(file: String) {
        self.file = file
    }

    /// Parses YAML text into its root value; a syntax error becomes a diagnostic and the result is `nil`.
    public func parse(_ text: String) -> ConfigValue? {
        do {
            guard let node = try Yams.compose(yaml: text) else {
                report(line: 1, field: "", "the file is empty")
                return nil
            }
            return ConfigValue(node: node, field: "", reader: self)
        } catch let error as YamlError {
            switch error {
            case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
                .composer(let context, let problem, let mark, _):
                let detail = context.map { "\(problem) \($0.text)" } ?? problem
                report(line: mark.line, field: "", "invalid YAML: \(detail)")
            case .duplicatedKeysInMapping(let duplicates, let context):
                let keys = duplicates.map { "\"\($0)\"" }.joined(separator: ", ")
                report(line: context.mark.line, field: "", "duplicate key \(keys)")
            default:
                report(line: nil, field: "", "invalid YAML: \(error)")
            }
            return nil
        } catch {
            report(line: nil, field: "", "invalid YAML: \(error)")
            return nil
        }
    }

    /// Records a problem.
    public func report(line: Int?, field: String, _ message: String) {
        diagnostics.append(ConfigDiagnostic(file: file, line: line, field: field, message: message))
    }

    /// Throws a ``ConfigError`` with every diagnostic, sorted by line, when any was reported.
    public func throwIfNeeded() throws(ConfigError) {
        guard !diagnostics.isEmpty else { return }
        let sorted = diagnostics.enumerated().sorted { lhs, rhs in
            (lhs.element.line ?? 0, lhs.offset) < (rhs.element.line ?? 0, rhs.offset)
        }
        throw ConfigError(diagnostics: sorted.map(\.element))
    }
}

/// One node of a configuration document together with its field path.
public struct ConfigValue {
    /// The YAML node.
    public let node: Node
    /// The dotted field path, such as `routes[1].cors.max_age`.
    public let field: String
    let reader: ConfigReader
    /// The line of the key this value belongs to, so problems with a whole block point at its name.
    let keyLine: Int?

    init(node: Node, field: String, reader: ConfigReader, keyLine: Int? = nil) {
        self.node = node
        self.field = field
        self.reader = reader
        self.keyLine = keyLine
    }

    /// The 1-based line of this value: its key's line inside a mapping, otherwise the node's own.
    public var line: Int? { keyLine ?? node.mark?.line }

    /// Records a problem located at this value.
    public func report(_ message: String) {
        reader.report(line: line, field: field, message)
    }

    /// Whether the node is an explicit YAML null (`~`, `null` or empty).
    public var isNull: Bool {
        if case .scalar(let scalar) = node, scalar.style == .plain,
            ["", "~", "null", "Null", "NULL"].contains(scalar.string)
        {
            return true
        }
        return false
    }

    /// The text of a scalar node, or `nil` for mappings and lists; reports nothing.
    public var scalarText: String? {
        if case .scalar(let scalar) = node { return scalar.string }
        return nil
    }

    /// The value as a mapping whose keys must all be in `allowedKeys`; unknown keys are reported.
    public func mapping(allowedKeys: [String]) -> ConfigMapping? {
        guard case .mapping(let mapping) = node else {
            report("expected a mapping of \(allowedKeys.joined(separator: ", "))")
            return nil
        }
        var values: [String: ConfigValue] = [:]
        for (key, value) in mapping {
            guard case .scalar(let keyScalar) = key else {
                reader.report(line: key.mark?.line, field: field, "keys must be plain strings")
                continue
            }
            let name = keyScalar.string
            let childField = field.isEmpty ? name : "\(field).\(name)"
            guard allowedKeys.contains(name) else {
                var message = "unknown field \"\(name)\""
                if let suggestion = Self.closest(to: name, in: allowedKeys) {
                    message += " (did you mean \"\(suggestion)\"?)"
                } else {
                    message += " (allowed: \(allowedKeys.joined(separator: ", ")))"
                }
                reader.report(line: key.mark?.line, field: field, message)
                continue
            }
            values[name] = ConfigValue(node: value, field: childField, reader: reader, keyLine: key.mark?.line)
        }
        return ConfigMapping(values: values, owner: self)
    }

    /// The value as a mapping of names the caller chooses (such as upstream names), in file order.
    public func namedEntries() -> [(name: String, value: ConfigValue)]? {
        guard case .mapping(let mapping) = node else {
            report("expected a mapping of names")
            return nil
        }
        var entries: [(name: String, value: ConfigValue)] = []
        for (key, value) in mapping {
            guard case .scalar(let keyScalar) = key, !keyScalar.string.isEmpty else {
                reader.report(line: key.mark?.line, field: field, "names must be plain, non-empty strings")
                continue
            }
            let name = keyScalar.string
            let childField = field.isEmpty ? name : "\(field).\(name)"
            entries.append((name, ConfigValue(node: value, field: childField, reader: reader, keyLine: key.mark?.line)))
        }
        return entries
    }

    /// The value as a list; a single scalar is not silently promoted.
    public func list() -> [ConfigValue]? {
        guard case .sequence(let sequence) = node else {
            report("expected a list")
            return nil
        }
        return sequence.enumerated().map { index, element in
            ConfigValue(node: element, field: "\(field)[\(index)]", reader: reader)
        }
    }

    /// The value as text.
    public func string() -> String? {
        guard case .scalar(let scalar) = node else {
            report("expected a text value")
            return nil
        }
        return scalar.string
    }

    /// The value as a non-empty text.
    public func nonEmptyString() -> String? {
        guard let text = string() else { return nil }
        guard !text.isEmpty else {
            report("must not be empty")
            return nil
        }
        return text
    }

    /// The value as one of the given words.
    public func oneOf(_ choices: [String]) -> String? {
        guard let text = string() else { return nil }
        guard choices.contains(text) else {
            report("\"\(text)\" is not one of \(choices.joined(separator: ", "))")
            return nil
        }
        return text
    }

    /// The value as a whole number within `range`.
    public func int(in range: ClosedRange<Int> = 0...Int.max) -> Int? {
        guard case .scalar(let scalar) = node, let value = Int(scalar.string.replacingOccurrences(of: "_", with: ""))
        else {
            report("expected a whole number")
            return nil
        }
        guard range.contains(value) else {
            report("\(value) is out of range \(range.lowerBound)...\(range.upperBound)")
            return nil
        }
        return value
    }

    /// The value as `true` or `false`.
    public func bool() -> Bool? {
        guard case .scalar(let scalar) = node else {
            report("expected true or false")
            return nil
        }
        switch scalar.string.lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default:
            report("expected true or false, not \"\(scalar.string)\"")
            return nil
        }
    }

    /// The value as a duration like `500ms`, `10s` or `2m`, at least `minimum`.
    public func duration(minimum: Duration = .zero) -> Duration? {
        guard let text = string() else { return nil }
        guard let value = ConfigDuration.parse(text) else {
            report("\"\(text)\" is not a duration (use a number with a unit: 500ms, 10s, 2m, 1h)")
            return nil
        }
        guard value >= minimum else {
            report("\(text) is shorter than the minimum \(ConfigDuration.format(minimum))")
            return nil
        }
        return value
    }

    /// Whether the value is a list (for fields that take one value or several).
    public var isList: Bool {
        if case .sequence = node { return true }
        return false
    }

    /// The value as a list of texts.
    public func stringList() -> [String]? {
        guard let items = list() else { return nil }
        let strings = items.map { $0.string() }
        return strings.contains(where: { $0 == nil }) ? nil : strings.compactMap { $0 }
    }

    static func closest(to name: String, in candidates: [String]) -> String? {
        let scored = candidates.map { ($0, editDistance(name, $0)) }.min { $0.1 < $1.1 }
        guard let scored, scored.1 <= max(2, name.count / 3) else { return nil }
        return scored.0
    }

    static func editDistance(_ lhs: String, _ rhs: String) -> Int {
        let a = Array(lhs.lowercased())
        let b = Array(rhs.lowercased())
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }
}

/// The known fields of one YAML mapping.
public struct ConfigMapping {
    let values: [String: ConfigValue]
    /// The mapping itself, for reporting problems that concern it as a whole.
    public let owner: ConfigValue

    /// The value of an optional field, `nil` when absent or explicitly null.
    public subscript(key: String) -> ConfigValue? {
        guard let value = values[key], !value.isNull else { return nil }
        return value
    }

    /// The value of a required field; its absence is reported.
    public func required(_ key: String) -> ConfigValue? {
        guard let value = self[key] else {
            owner.report("missing required field \"\(key)\"")
            return nil
        }
        return value
    }

    /// Whether the field is present and not null.
    public func has(_ key: String) -> Bool { self[key] != nil }
}
