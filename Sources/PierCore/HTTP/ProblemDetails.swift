/// An RFC 9457 problem document, the body of every error response Pier produces itself.
public struct ProblemDetails: Sendable, Hashable {
    /// The media type of a problem document.
    public static let contentType = "application/problem+json"

    /// The HTTP status code.
    public var status: Int
    /// A short, human-readable summary of the problem type.
    public var title: String
    /// A stable, machine-readable code (Pier's extension member), such as `uri_too_long`.
    public var code: String
    /// An explanation specific to this occurrence, if any.
    public var detail: String?
    /// A URI reference identifying the problem type; `about:blank` when the status says it all.
    public var type: String
    /// Extra members, such as `request_id` or `current_version`, as raw JSON values keyed by name.
    public var extensions: [(name: String, json: String)]

    public init(
        status: Int,
        title: String,
        code: String,
        detail: String? = nil,
        type: String = "about:blank",
        extensions: [(name: String, json: String)] = []
    ) {
        self.status = status
        self.title = title
        self.code = code
        self.detail = detail
        self.type = type
        self.extensions = extensions
    }

    public static func == (lhs: ProblemDetails, rhs: ProblemDetails) -> Bool {
        lhs.json == rhs.json
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(json)
    }

    /// The serialised document.
    public var json: String {
        var text = "{\"type\":"
        JSONText.appendQuoted(type, to: &text)
        text += ",\"title\":"
        JSONText.appendQuoted(title, to: &text)
        text += ",\"status\":\(status),\"code\":"
        JSONText.appendQuoted(code, to: &text)
        if let detail {
            text += ",\"detail\":"
            JSONText.appendQuoted(detail, to: &text)
        }
        for member in extensions {
            text += ","
            JSONText.appendQuoted(member.name, to: &text)
            text += ":" + member.json
        }
        return text + "}"
    }
}
