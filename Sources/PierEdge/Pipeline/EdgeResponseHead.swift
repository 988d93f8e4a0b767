import NIOCore
import Synchronization

/// A response head the edge makes itself: status, fields in order, and `Vary` merged; each protocol writes it its
/// own way (``EdgeResponseHead/write(into:)`` for HTTP/1.1).
struct EdgeResponseHead {
    var status: Int
    var headers: [(String, String)] = []
    var vary: [String] = []

    init(status: Int) {
        self.status = status
        headers.reserveCapacity(14)
    }

    mutating func add(_ name: String, _ value: String) {
        headers.append((name, value))
    }

    mutating func add(_ pairs: [(String, String)]) {
        for (name, value) in pairs {
            if name == "Vary" {
                for item in value.split(separator: ",") {
                    let trimmed = String(item.trimmingASCIISpaces())
                    if !vary.contains(trimmed) { vary.append(trimmed) }
                }
            } else {
                headers.append((name, value))
            }
        }
    }

    /// The fields with lowercased names and `Vary` merged, as HTTP/2 sends them.
    var fieldsForHTTP2: [(String, String)] {
        var fields = headers.map { ($0.0.lowercased(), $0.1) }
        if !vary.isEmpty { fields.append(("vary", vary.joined(separator: ", "))) }
        return fields
    }

    mutating func addVary(_ value: String) {
        if !vary.contains(value) { vary.append(value) }
    }

    static func reasonPhrase(_ status: Int) -> String {
        switch status {
        case 100: "Continue"
        case 101: "Switching Protocols"
        case 200: "OK"
        case 201: "Created"
        case 202: "Accepted"
        case 204: "No Content"
        case 206: "Partial Content"
        case 301: "Moved Permanently"
        case 302: "Found"
        case 303: "See Other"
        case 304: "Not Modified"
        case 307: "Temporary Redirect"
        case 308: "Permanent Redirect"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 408: "Request Timeout"
        case 409: "Conflict"
        case 410: "Gone"
        case 412: "Precondition Failed"
        case 413: "Content Too Large"
        case 414: "URI Too Long"
        case 415: "Unsupported Media Type"
        case 416: "Range Not Satisfiable"
        case 422: "Unprocessable Content"
        case 428: "Precondition Required"
        case 421: "Misdirected Request"
        case 429: "Too Many Requests"
        case 431: "Request Header Fields Too Large"
        case 500: "Internal Server Error"
        case 501: "Not Implemented"
        case 502: "Bad Gateway"
        case 503: "Service Unavailable"
        case 504: "Gateway Timeout"
        case 505: "HTTP Version Not Supported"
        default: "Status \(status)"
        }
    }
}
