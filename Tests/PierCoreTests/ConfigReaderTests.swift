import PierCore
import Testing

@Suite("Config reader")
struct ConfigReaderTests {
    @Test("reports unknown keys with their line and a suggestion")
    func unknownKeys() throws {
        let reader = ConfigReader(file: "edge.yaml")
        let root = try #require(reader.parse("listen:\n  - address: 127.0.0.1:8080\nacess_log: off\n"))
        let mapping = try #require(root.mapping(allowedKeys: ["listen", "access_log", "routes"]))
        #expect(mapping["listen"] != nil)
        #expect(
            reader.diagnostics.map(\.description) == [
                "edge.yaml:3: unknown field \"acess_log\" (did you mean \"access_log\"?)"
            ])
    }

    @Test("collects every error in one pass, sorted by line")
    func collectsAll() throws {
        let reader = ConfigReader(file: "x.yaml")
        let text = """
            limits:
              max_uri_bytes: lots
              header_timeout: 10
            """
        let root = try #require(reader.parse(text))
        let limits = try #require(root.mapping(allowedKeys: ["limits"])?.required("limits"))
        let fields = try #require(limits.mapping(allowedKeys: ["max_uri_bytes", "header_timeout"]))
        #expect(fields["header_timeout"]?.duration() == nil)
        #expect(fields["max_uri_bytes"]?.int() == nil)
        #expect(throws: ConfigError.self) { try reader.throwIfNeeded() }
        do {
            try reader.throwIfNeeded()
        } catch {
            #expect(error.diagnostics.map(\.line) == [2, 3])
            #expect(error.diagnostics[0].field == "limits.max_uri_bytes")
            #expect(error.description.contains("x.yaml:3: limits.header_timeout: \"10\" is not a duration"))
        }
    }

    @Test("reports YAML syntax errors with a line")
    func syntaxError() {
        let reader = ConfigReader(file: "bad.yaml")
        #expect(reader.parse("routes:\n  - match: { path_prefix: /\n") == nil)
        #expect(reader.diagnostics.count == 1)
        #expect(reader.diagnostics.first?.line != nil)
        #expect(reader.diagnostics.first?.message.hasPrefix("invalid YAML") == true)
    }

    @Test("reports duplicate keys")
    func duplicateKeys() {
        let reader = ConfigReader(file: "dup.yaml")
        _ = reader.parse("a: 1\na: 2\n")
        #expect(reader.diagnostics.first?.message == "duplicate key \"a\"")
    }

    @Test("checks ranges, choices, lists and required fields")
    func typedAccessors() throws {
        let reader = ConfigReader(file: "t.yaml")
        let root = try #require(reader.parse("n: 70000\nmode: fast\nitems: single\nflag: maybe\n"))
        let mapping = try #require(root.mapping(allowedKeys: ["n", "mode", "items", "flag", "name"]))
        #expect(mapping["n"]?.int(in: 1...65535) == nil)
        #expect(mapping["mode"]?.oneOf(["combined", "json"]) == nil)
        #expect(mapping["items"]?.stringList() == nil)
        #expect(mapping["flag"]?.bool() == nil)
        #expect(mapping.required("name") == nil)
        let messages = reader.diagnostics.map(\.message)
        #expect(messages.contains("70000 is out of range 1...65535"))
        #expect(messages.contains("\"fast\" is not one of combined, json"))
        #expect(messages.contains("expected a list"))
        #expect(messages.contains("expected true or false, not \"maybe\""))
        #expect(messages.contains("missing required field \"name\""))
    }
}
