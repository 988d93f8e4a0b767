import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import PierCore

/// A JSON value as sent, so the API can tell a missing field from `null` and refuse fields it does not know.
enum JSONValue: Decodable, Sendable, Equatable {
    case null
    case bool(Bool)
    case integer(Int64)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Int64.self) {
            self = .integer(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    var typeName: String {
        switch self {
        case .null: "null"
        case .bool: "a boolean"
        case .integer, .number: "a number"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }
}

/// A request body that must be one JSON object with known fields; every accessor validates and names the field in
/// its error.
struct JSONInput {
    /// The largest request body the API reads.
    static let maxBodyBytes = 256 * 1024

    let fields: [String: JSONValue]

    /// Reads and parses the body, refusing a wrong media type, an oversized or malformed body and unknown fields.
    static func read(_ request: Request, allowed: Set<String>, optionalBody: Bool = false) async throws -> JSONInput {
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: maxBodyBytes)
        } catch is NIOTooManyBytesError {
            throw APIProblem(
                .contentTooLarge, code: "body_too_large", detail: "the body is larger than \(maxBodyBytes) bytes")
        }
        if buffer.readableBytes == 0 && optionalBody { return JSONInput(fields: [:]) }
        let mediaType = request.headers[.contentType].flatMap {
            $0.split(separator: ";", omittingEmptySubsequences: false).first?.trimmingCharacters(in: .whitespaces)
                .lowercased()
        }
        guard mediaType == "application/json" else {
            throw APIProblem(
                .unsupportedMediaType, code: "unsupported_media_type", detail: "send the body as application/json")
        }
        let value: JSONValue
        do {
            value = try JSONDecoder().decode(JSONValue.self, from: Data(buffer.readableBytesView))
        } catch {
            throw APIProblem(.badRequest, code: "malformed_json", detail: "the body is not valid JSON")
        }
        guard case .object(let fields) = value else {
            throw APIProblem(.badRequest, code: "malformed_json", detail: "the body must be a JSON object")
        }
        if let unknown = fields.keys.filter({ !allowed.contains($0) }).sorted().first {
            throw APIProblem(
                .badRequest, code: "unknown_field",
                detail: "unknown field \"\(unknown)\"; expected one of: \(allowed.sorted().joined(separator: ", "))",
                extensions: [APIProblem.naming(unknown)])
        }
        return JSONInput(fields: fields)
    }

    func has(_ name: String) -> Bool { fields[name] != nil }

    /// A required string.
    func string(_ name: String, maxLength: Int, allowEmpty: Bool = false) throws -> String {
        guard let value = try optionalString(name, maxLength: maxLength, allowEmpty: allowEmpty) else {
            throw APIProblem.missingField(name)
        }
        return value
    }

    /// A string that may be absent (`nil`). `null` is refused unless the field is `nullable` (then it counts as
    /// absent), as the OpenAPI document says: a `null` must never pass for "not given" by accident (a password reset
    /// with `"password": null` would generate a password).
    func optionalString(_ name: String, maxLength: Int, allowEmpty: Bool = false, nullable: Bool = false) throws
        -> String?
    {
        switch fields[name] {
        case nil: return nil
        case .null? where nullable: return nil
        case .string(let text)?: return try Self.checked(text, name: name, maxLength: maxLength, allowEmpty: allowEmpty)
        case let other?: throw APIProblem.invalidField(name, "expected a string, got \(other.typeName)")
        }
    }

    /// For updates: absent → `nil`, `null` → `.some(nil)`, a string → `.some(text)`.
    func clearableString(_ name: String, maxLength: Int) throws -> String?? {
        switch fields[name] {
        case nil: return nil
        case .null?: return .some(nil)
        case .string(let text)?: return .some(try Self.checked(text, name: name, maxLength: maxLength))
        case let other?: throw APIProblem.invalidField(name, "expected a string or null, got \(other.typeName)")
        }
    }

    /// A boolean that may be absent; `null` is refused.
    func optionalBool(_ name: String) throws -> Bool? {
        switch fields[name] {
        case nil: return nil
        case .bool(let value)?: return value
        case let other?: throw APIProblem.invalidField(name, "expected true or false, got \(other.typeName)")
        }
    }

    /// An integer that may be absent; `null` is refused.
    func optionalInteger(_ name: String, range: ClosedRange<Int64>) throws -> Int64? {
        switch fields[name] {
        case nil: return nil
        case .integer(let value)? where range.contains(value): return value
        case .integer?:
            throw APIProblem.invalidField(name, "must be between \(range.lowerBound) and \(range.upperBound)")
        case let other?: throw APIProblem.invalidField(name, "expected an integer, got \(other.typeName)")
        }
    }

    /// An array of strings, or `nil` when absent; `null` is refused.
    func optionalStrings(_ name: String, maxCount: Int, maxLength: Int) throws -> [String]? {
        switch fields[name] {
        case nil: return nil
        case .array(let items)?:
            guard items.count <= maxCount else { throw APIProblem.invalidField(name, "at most \(maxCount) items") }
            return try items.enumerated().map { index, item in
                guard case .string(let text) = item else {
                    throw APIProblem.invalidField("\(name)[\(index)]", "expected a string, got \(item.typeName)")
                }
                return try Self.checked(text, name: "\(name)[\(index)]", maxLength: maxLength)
            }
        case let other?: throw APIProblem.invalidField(name, "expected an array of strings, got \(other.typeName)")
        }
    }

    static func checked(_ text: String, name: String, maxLength: Int, allowEmpty: Bool = false) throws -> String {
        if !allowEmpty && text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            throw APIProblem.invalidField(name, "must not be empty")
        }
        // Unicode scalars, not characters: one "character" can carry any number of combining marks.
        guard text.unicodeScalars.count <= maxLength else {
            throw APIProblem.invalidField(name, "at most \(maxLength) characters")
        }
        guard !text.unicodeScalars.contains(where: { $0.value == 0 }) else {
            throw APIProblem.invalidField(name, "must not contain NUL characters")
        }
        return text
    }
}
