import Foundation
import OpenAPIKit
import Testing

@testable import PierBoard

@Suite("OpenAPI document (OpenAPIKit)")
struct OpenAPIKitDocumentTests {
    static func document() throws -> OpenAPI.Document {
        try JSONDecoder().decode(OpenAPI.Document.self, from: Data(BoardAPI.openAPIJSON.utf8))
    }

    @Test("the embedded document decodes as OpenAPI 3.1 and passes OpenAPIKit's validation without warnings")
    func validates() throws {
        let document = try Self.document()
        #expect(document.openAPIVersion == .v3_1_0)
        #expect(document.warnings.isEmpty, "\(document.warnings)")
        let warnings = try document.validate(using: Validator(), strict: true)
        #expect(warnings.isEmpty, "\(warnings)")
    }

    @Test("every reference resolves, every operation has an operationId and every body schema refuses unknown fields")
    func strictness() throws {
        let document = try Self.document()
        _ = try document.locallyDereferenced()
        let raw = try #require(
            try JSONSerialization.jsonObject(with: Data(BoardAPI.openAPIJSON.utf8)) as? [String: Any])
        let schemas = try #require((raw["components"] as? [String: Any])?["schemas"] as? [String: Any])
        let paths = try #require(raw["paths"] as? [String: [String: Any]])
        for (path, operations) in paths {
            for (method, value) in operations {
                let operation = try #require(value as? [String: Any])
                #expect(operation["operationId"] is String, "\(method) \(path)")
                let body = (operation["requestBody"] as? [String: Any])?["content"] as? [String: Any]
                guard var schema = (body?["application/json"] as? [String: Any])?["schema"] as? [String: Any]
                else { continue }
                if let reference = schema["$ref"] as? String {
                    let name = String(reference.split(separator: "/").last ?? "")
                    schema = try #require(schemas[name] as? [String: Any], "\(reference)")
                }
                #expect(schema["additionalProperties"] as? Bool == false, "\(method) \(path)")
            }
        }
    }
}
