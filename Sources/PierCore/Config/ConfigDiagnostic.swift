/// One problem found in a configuration file, located by file, line and field.
///
/// Rendered like a compiler message, `edge.yaml:14: routes[1].cors: allow_origins "*" cannot be combined with
/// allow_credentials`, so an editor or a terminal can jump to it.
public struct ConfigDiagnostic: Error, Sendable, Hashable, CustomStringConvertible {
    /// The path of the file as the user gave it.
    public var file: String
    /// The 1-based line of the offending node, when known.
    public var line: Int?
    /// The field path, such as `routes[1].cors.allow_origins`; empty for the document itself.
    public var field: String
    /// What is wrong, in plain words.
    public var message: String

    public init(file: String, line: Int?, field: String, message: String) {
        self.file = file
        self.line = line
        self.field = field
        self.message = message
    }

    public var description: String {
        var text = file
        if let line { text += ":\(line)" }
        text += ": "
        if !field.isEmpty { text += "\(field): " }
        return text + message
    }
}

/// Every problem found while reading one configuration file; thrown only when there is at least one.
public struct ConfigError: Error, Sendable, CustomStringConvertible {
    /// The problems in file order.
    public var diagnostics: [ConfigDiagnostic]

    public init(diagnostics: [ConfigDiagnostic]) {
        self.diagnostics = diagnostics
    }

    public var description: String {
        diagnostics.map(\.description).joined(separator: "\n")
    }
}
