/// Minimal JSON string escaping for hand-written JSON on hot or early paths (logs, access logs, problem bodies),
/// where building a `Codable` value and running an encoder would cost more than the line itself.
public enum JSONText {
    /// Returns `text` as a quoted JSON string literal.
    public static func quoted(_ text: String) -> String {
        var output = ""
        output.reserveCapacity(text.utf8.count + 2)
        appendQuoted(text, to: &output)
        return output
    }

    /// Appends `text` as a quoted JSON string literal.
    public static func appendQuoted(_ text: String, to output: inout String) {
        // Most text needs no escaping: one scan of the bytes, then one append.
        let plain = text.utf8.allSatisfy { $0 >= 0x20 && $0 != 0x22 && $0 != 0x5C && $0 != 0xE2 }
        if plain {
            output.append("\"")
            output.append(text)
            output.append("\"")
            return
        }
        output.append("\"")
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": output.append("\\\"")
            case "\\": output.append("\\\\")
            case "\n": output.append("\\n")
            case "\r": output.append("\\r")
            case "\t": output.append("\\t")
            case "\u{2028}": output.append("\\u2028")
            case "\u{2029}": output.append("\\u2029")
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    output.append("\\u" + String(repeating: "0", count: 4 - hex.count) + hex)
                } else {
                    output.unicodeScalars.append(scalar)
                }
            }
        }
        output.append("\"")
    }

    /// Appends `text` as a quoted JSON string literal to UTF-8 bytes, with the same escapes as the `String` form.
    public static func appendQuoted(_ text: String, to output: inout [UInt8]) {
        let plain = text.utf8.allSatisfy { $0 >= 0x20 && $0 != 0x22 && $0 != 0x5C && $0 != 0xE2 }
        output.append(0x22)
        if plain {
            output.append(contentsOf: text.utf8)
        } else {
            var escaped = ""
            appendQuoted(text, to: &escaped)
            output.append(contentsOf: escaped.utf8.dropFirst().dropLast())
        }
        output.append(0x22)
    }
}
